"""toynn.interop: PyTorch state_dicts through safetensors files, both ways, with identical outputs; no pickle."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import toynn
import toynn.models
from toynn.io.interop import load_torch_safetensors, save_torch_safetensors

from .data_paths import need_mnist


def mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 16), nn.Tanh(), nn.Linear(16, 5))


def bn1d(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(20, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 5))


def bn2d(lib):
    nn = lib.nn
    return nn.Sequential(nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(3 * 4 * 4, 5))


def lenet5(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


MODELS = {"mlp": (mlp, (20,)), "bn1d": (bn1d, (20,)), "bn2d": (bn2d, (3, 4, 4)), "lenet5": (lenet5, (1, 28, 28))}
DTYPES = {"float32": (np.float32, 1e-5), "float64": (np.float64, 1e-12)}


def _run_in_train_mode(model, make_input, batches: int = 3) -> None:
    """A few training-mode forward passes, so BatchNorm's running statistics and batch count are not the defaults."""
    model.train()
    for _ in range(batches):
        model(make_input())
    model.eval()


def _torch_output(torch, model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


def _toynn_output(model, x: np.ndarray) -> np.ndarray:
    with toynn.no_grad():
        return model(toynn.tensor(x)).array


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", MODELS)
def test_torch_state_dict_loads_into_toynn_with_the_same_outputs(torch, tmp_path, name, dtype):
    from safetensors.torch import save_file

    build, shape = MODELS[name]
    np_dtype, rtol = DTYPES[dtype]
    torch.manual_seed(0)
    ref = build(torch).to(getattr(torch, dtype))
    for m in ref.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):  # an affine transform that is not the identity
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    _run_in_train_mode(ref, lambda: 2 * torch.randn(16, *shape, dtype=getattr(torch, dtype)) + 1)
    save_file(ref.state_dict(), tmp_path / "w.safetensors")

    ours = build(toynn).to(np_dtype).eval()
    assert load_torch_safetensors(ours, tmp_path / "w.safetensors") == ([], [])
    x = np.random.default_rng(1).standard_normal((8, *shape)).astype(np_dtype)
    want = _torch_output(torch, ref, x)
    got = _toynn_output(ours, x)
    assert got.dtype == np_dtype
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
    for key, value in ref.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key].array, value.numpy(), err_msg=key)
    if name.startswith("bn"):
        assert int(ours[1 if name == "bn1d" else 0].num_batches_tracked.item()) == 3


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", MODELS)
def test_toynn_weights_load_into_torch_with_the_same_outputs(torch, tmp_path, name, dtype):
    from safetensors.torch import load_file

    build, shape = MODELS[name]
    np_dtype, rtol = DTYPES[dtype]
    toynn.manual_seed(1)
    ours = build(toynn).to(np_dtype)
    rng = np.random.default_rng(2)
    _run_in_train_mode(ours, lambda: toynn.tensor(2 * rng.standard_normal((16, *shape)).astype(np_dtype) + 1))
    path = save_torch_safetensors(ours, tmp_path / "w.safetensors")

    blob = path.read_bytes()  # the safetensors layout: 8-byte header length, a JSON header, raw data; no pickle
    header = json.loads(blob[8 : 8 + int.from_bytes(blob[:8], "little")])
    assert header["__metadata__"] == {"format": "pt"}
    ref = build(torch).to(getattr(torch, dtype))
    ref.load_state_dict(load_file(path), strict=True)
    ref.eval()
    x = rng.standard_normal((8, *shape)).astype(np_dtype)
    np.testing.assert_allclose(_toynn_output(ours, x), _torch_output(torch, ref, x), rtol=rtol, atol=rtol)
    if name.startswith("bn"):
        assert int(ref[1 if name == "bn1d" else 0].num_batches_tracked) == 3


def test_a_different_architecture_is_refused_with_the_keys_named(torch, tmp_path):
    from safetensors.torch import save_file

    save_file(mlp(torch).state_dict(), tmp_path / "mlp.safetensors")
    with pytest.raises(RuntimeError, match=r"missing keys .*1\.running_mean.*\n.*unexpected keys .*4\.weight"):
        load_torch_safetensors(bn1d(toynn), tmp_path / "mlp.safetensors")
    missing, unexpected = load_torch_safetensors(
        toynn.nn.Sequential(toynn.nn.Linear(20, 32)), tmp_path / "mlp.safetensors", strict=False
    )
    assert missing == [] and sorted(unexpected) == ["2.bias", "2.weight", "4.bias", "4.weight"]
    with pytest.raises(RuntimeError, match=r"shape mismatch for 0\.weight: expected \(32, 10\)"):
        load_torch_safetensors(toynn.nn.Sequential(toynn.nn.Linear(10, 32)), tmp_path / "mlp.safetensors", strict=False)


def test_bfloat16_files_load_widened_exactly(torch, tmp_path):
    pytest.importorskip("ml_dtypes", reason="bfloat16 arrays in NumPy need ml_dtypes (installed with onnx)")
    from safetensors.torch import save_file

    ref = mlp(torch).to(torch.bfloat16)
    save_file(ref.state_dict(), tmp_path / "bf16.safetensors")
    ours = mlp(toynn)
    assert load_torch_safetensors(ours, tmp_path / "bf16.safetensors") == ([], [])
    for key, value in ref.state_dict().items():
        np.testing.assert_array_equal(ours.state_dict()[key].array, value.float().numpy(), err_msg=key)


def test_unreadable_files_give_clear_errors(torch, tmp_path, monkeypatch):
    import safetensors.numpy

    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="cannot read .*junk.safetensors as NumPy arrays"):
        load_torch_safetensors(mlp(toynn), tmp_path / "junk.safetensors")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_torch_safetensors(mlp(toynn), tmp_path / "none.safetensors")

    def no_bfloat16(path):  # what safetensors does while NumPy has no bfloat16 (ml_dtypes not imported)
        raise TypeError("data type 'bfloat16' not understood")

    monkeypatch.setattr(safetensors.numpy, "load_file", no_bfloat16)
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)  # and ml_dtypes not installed
    with pytest.raises(ValueError, match="bfloat16 file needs ml_dtypes .* or converting to float32"):
        load_torch_safetensors(mlp(toynn), tmp_path / "junk.safetensors")


def test_the_zoo_lenet5_has_pytorch_lenet5_names_and_shapes(torch):
    ours = {k: tuple(v.shape) for k, v in toynn.models.LeNet5().state_dict().items()}
    assert ours == {k: tuple(v.shape) for k, v in lenet5(torch).state_dict().items()}


# ---------------------------------------------------------------------------------------------
# The done-when: a PyTorch-trained LeNet-5 in toynn gives the same predictions on MNIST, and back

STEPS, BATCH = 300, 64  # 95-96% test accuracy; a few seconds with one thread


@pytest.fixture(scope="module")
def one_thread(torch):
    """Small convolutions on a busy 2-core machine: extra BLAS and PyTorch threads only spin (up to 5x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:
        yield
    else:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def mnist():
    """The first STEPS * BATCH training images and all 10,000 test images, (N, 1, 28, 28) float32 in [0, 1]."""
    from toynn.data import MNIST

    root = need_mnist()
    x_train, y_train = MNIST(root, train=True).__getitems__(np.arange(STEPS * BATCH))
    x_test, y_test = MNIST(root, train=False).__getitems__(np.arange(10_000))
    return x_train, y_train, x_test, y_test


def _predict(model, x: np.ndarray) -> np.ndarray:
    """toynn logits in batches of 2500 (the 10,000 at once would need 600 MB of im2col)."""
    return np.concatenate([_toynn_output(model, x[i : i + 2500]) for i in range(0, len(x), 2500)])


def _assert_same_predictions(got: np.ndarray, want: np.ndarray, labels: np.ndarray) -> None:
    assert (want.argmax(1) == labels).mean() > 0.9  # the network did learn (95-96% here)
    np.testing.assert_array_equal(got.argmax(1), want.argmax(1))  # all 10,000 predictions
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def test_pytorch_trained_lenet5_gives_the_same_predictions_on_mnist(torch, tmp_path, mnist, one_thread):
    from safetensors.torch import save_file

    x_train, y_train, x_test, y_test = mnist
    torch.manual_seed(0)
    net = lenet5(torch)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for idx in torch.randperm(len(xt)).split(BATCH):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(xt[idx]), yt[idx]).backward()
        opt.step()
    net.eval()
    save_file(net.state_dict(), tmp_path / "lenet5.safetensors")

    ours = toynn.models.LeNet5().eval()
    assert load_torch_safetensors(ours, tmp_path / "lenet5.safetensors") == ([], [])
    _assert_same_predictions(_predict(ours, x_test), _torch_output(torch, net, x_test), y_test)


def test_toynn_trained_lenet5_gives_the_same_predictions_in_pytorch(torch, tmp_path, mnist, one_thread):
    from safetensors.torch import load_file

    x_train, y_train, x_test, y_test = mnist
    toynn.manual_seed(0)
    ours = toynn.models.LeNet5()
    opt = toynn.optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
    order = np.random.default_rng(0).permutation(len(x_train))
    for i in range(0, len(order), BATCH):
        idx = order[i : i + BATCH]
        opt.zero_grad()
        toynn.nn.functional.cross_entropy(ours(toynn.tensor(x_train[idx])), toynn.tensor(y_train[idx])).backward()
        opt.step()
    ours.eval()
    path = save_torch_safetensors(ours, tmp_path / "lenet5.safetensors")

    net = lenet5(torch)
    net.load_state_dict(load_file(path), strict=True)
    net.eval()
    _assert_same_predictions(_predict(ours, x_test), _torch_output(torch, net, x_test), y_test)
