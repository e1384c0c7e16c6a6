"""The GPU backend: the same code on device arrays, checked against the CPU run.

Each test runs on tests/fake_cupy.py (a CPU stand-in for CuPy that raises wherever NumPy and device
arrays meet) and, when CuPy sees a GPU, on CuPy itself. Results must equal the CPU run's (exactly on the
fake, which computes with NumPy; to float32 rounding on a GPU) and stay on the device.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import toynn
import toynn.nn.functional as F
from toynn import compiled, nn, optim
from toynn.backend import array_module, device_of, has_cupy, to_device
from toynn.data import DataLoader, TensorDataset
from toynn.io import checkpoint
from toynn.models import LeNet5

from . import fake_cupy

pytestmark = pytest.mark.explicit_device  # these tests place their data themselves, whatever --backend says


@pytest.fixture(params=["fake", "cupy"])
def cp(request, monkeypatch):
    """The device's array module: the fake always, real CuPy when it sees a GPU."""
    if request.param == "fake":
        # NOTE: the CPU side runs the NumPy code the fake runs, so that the two agree to the last bit: the compiled
        # kernels (NumPy arrays only) add some sums in another order (the direct conv); test_compiled.py checks them
        monkeypatch.setitem(compiled._state, "use", False)
        return fake_cupy.install(monkeypatch)
    if not has_cupy():
        pytest.skip("CuPy is not importable or sees no GPU")
    import cupy

    return cupy


@pytest.fixture
def tol(cp):
    """rtol, atol for device vs CPU: the fake computes with NumPy itself; a GPU's sums round differently."""
    return (1e-12, 0) if cp is fake_cupy else (2e-4, 2e-5)


def on_device(*tensors):
    for t in tensors:
        assert t.device == "cuda", f"expected a tensor on the device, got one on {t.device}"
        assert array_module(t.array) is not np


def host(x):
    return to_device(x.array if isinstance(x, toynn.Tensor) else x, "cpu")


def close(actual, expected, tol):
    np.testing.assert_allclose(host(actual), host(expected), rtol=tol[0], atol=tol[1])


def test_tensor_moves_and_gradient_comes_back(cp):
    x = toynn.randn(3, 4, requires_grad=True)
    y = x.to("cuda")
    on_device(y, x.cuda(), toynn.randn(2, device="cuda"), toynn.zeros(2, 3, device="cuda"))
    assert y.cpu().device == "cpu" and y.to("cuda") is y and "device='cuda:0'" in repr(y)
    np.testing.assert_array_equal(host(y), host(x))
    (y * y).sum().backward()  # the gradient crosses back to the CPU leaf
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy())
    on_device(toynn.tensor(y.array), toynn.Tensor(cp.ones(3)))
    assert toynn.tensor(y.array).data is not y.array  # tensor() copies, on the device


def test_arrays_do_not_mix_silently(cp):
    """The fake (and CuPy) refuse NumPy arrays next to device arrays, so an op that makes one is caught."""
    a = toynn.ones(3, device="cuda")
    with pytest.raises(TypeError):
        np.asarray(a.array)
    with pytest.raises((TypeError, ValueError)):
        a + toynn.ones(3)


def test_the_fake_catches_a_host_array_in_an_op(cp):
    """An op that makes its array with np.* instead of xp.* fails on the device, here as on a GPU."""

    class HostZeros(toynn.Function):
        def forward(self, x):
            return np.zeros(x.shape, x.dtype) + x

    assert HostZeros.apply(toynn.ones(3)).device == "cpu"
    with pytest.raises(TypeError):
        HostZeros.apply(toynn.ones(3, device="cuda"))
    assert array_module(toynn.ones(3, device="cuda").sum().array) is cp  # reductions stay 0-d device arrays


MODELS = {
    "mlp": (lambda: nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5)), (8, 20), 5),
    "lenet5": (lambda: LeNet5(), (4, 1, 28, 28), 10),
}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_training_steps_match_cpu(cp, tol, name, opt):
    build, shape, classes = MODELS[name]
    toynn.manual_seed(0)
    cpu_model = build()
    gpu_model = copy.deepcopy(cpu_model).to("cuda")
    on_device(*gpu_model.parameters())
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(shape).astype(np.float32), rng.integers(0, classes, shape[0])

    def make(params):
        if opt == "sgd":
            return optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
        return optim.Adam(params, lr=1e-3, amsgrad=True)

    losses = {}
    for model, device in ((cpu_model, "cpu"), (gpu_model, "cuda")):
        optimizer = make(model.parameters())
        losses[device] = []
        for _ in range(2):
            optimizer.zero_grad()
            out = model(toynn.tensor(x, device=device))
            loss = F.cross_entropy(out, toynn.tensor(y, device=device))
            loss.backward()
            optimizer.step()
            losses[device].append(loss.item())
        if device == "cuda":
            on_device(out, loss, *[p.grad for p in model.parameters()])
            on_device(*[toynn.Tensor(v) for s in optimizer.state.values() for v in s.values() if hasattr(v, "shape")])
    np.testing.assert_allclose(losses["cuda"], losses["cpu"], rtol=max(tol[0], 1e-6))
    for p, q in zip(cpu_model.state_dict().values(), gpu_model.state_dict().values()):
        close(q, p, tol)


OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1),
    "sgd_momentum": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, maximize=True),
    "adam": lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01, amsgrad=True),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True, weight_decay=0.1),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_steps_match_cpu(cp, tol, name):
    start, grads = _inputs(7, (3, 4)), _inputs(8, (3, 4), (3, 4), (3, 4))
    results = {}
    for device in ("cpu", "cuda"):
        p = nn.Parameter(toynn.tensor(start[0], device=device))
        optimizer = OPTIMIZERS[name]([p])
        for g in grads:
            p.grad = toynn.tensor(g, device=device)
            optimizer.step()
        results[device] = p
    on_device(results["cuda"])
    close(results["cuda"], results["cpu"], tol)


def test_fit_and_resume_on_device(cp, tmp_path):
    from toynn.train import fit

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 6)).astype(np.float32), rng.integers(0, 3, 32)

    def run(epochs, resume):
        toynn.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).to("cuda")
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, device="cuda")
        val = DataLoader(TensorDataset(x, y), batch_size=16, device="cuda")
        history = fit(model, nn.CrossEntropyLoss(), optimizer, loader, epochs, val, run_dir=tmp_path / str(resume),
                      resume=resume, progress=False)  # fmt: skip
        return model, history

    straight, history = run(2, False)
    assert len(history.epochs) == 2 and np.isfinite(history.epochs[-1]["val_loss"])
    run(1, True)
    resumed, _ = run(2, True)  # continues the 1-epoch run from its checkpoint
    on_device(*resumed.parameters())
    for a, b in zip(resumed.parameters(), straight.parameters()):
        np.testing.assert_allclose(host(a), host(b), rtol=1e-5)


def _inputs(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


# (name, function of tensors, input shapes): float64, so the fake must agree to the last bit
SPATIAL = [
    ("conv2d", lambda x, w: F.conv2d(x, w, stride=2, padding=1, dilation=2, groups=2), [(2, 4, 9, 9), (6, 2, 3, 3)]),
    ("conv2d_same", lambda x, w: F.conv2d(x, w, padding="same"), [(2, 3, 8, 8), (4, 3, 3, 3)]),
    ("conv_t2d", lambda x, w: F.conv_transpose2d(x, w, None, 2, 1, 1), [(2, 3, 5, 5), (3, 4, 3, 3)]),
    ("conv1d", lambda x, w: F.conv1d(x, w, padding=2), [(2, 3, 10), (4, 3, 5)]),
    ("max_pool2d", lambda x: F.max_pool2d(x, 3, stride=2, padding=1), [(2, 3, 9, 9)]),
    ("max_pool2d_dil", lambda x: F.max_pool2d(x, 2, dilation=2, ceil_mode=True), [(2, 3, 9, 9)]),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False), [(2, 3, 8, 8)]),
    ("adaptive_avg", lambda x: F.adaptive_avg_pool2d(x, (3, 5)), [(2, 3, 7, 11)]),
    ("adaptive_max", lambda x: F.adaptive_max_pool2d(x, (3, 4)), [(2, 3, 7, 10)]),
    ("unpool", lambda x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2), [(2, 3, 8, 8)]),
    ("nearest_x2", lambda x: F.interpolate(x, scale_factor=2), [(2, 3, 4, 5)]),
    ("nearest_odd", lambda x: F.interpolate(x, size=(7, 3)), [(2, 3, 4, 5)]),
    ("bilinear", lambda x: F.interpolate(x, size=(7, 9), mode="bilinear"), [(2, 3, 4, 5)]),
    ("bicubic_long", lambda x: F.interpolate(x, size=(5, 300), mode="bicubic", align_corners=True), [(1, 2, 4, 140)]),
    ("pad_reflect", lambda x: F.pad(x, (2, 1, 1, 2), mode="reflect"), [(2, 3, 5, 5)]),
    ("pad_circular", lambda x: F.pad(x, (1, 1, 2, 0), mode="circular"), [(2, 3, 5, 5)]),
    ("batch_norm", lambda x: nn.BatchNorm2d(3).double().to(x.device)(x), [(4, 3, 5, 5)]),
    ("lrn", lambda x: F.local_response_norm(x, 3), [(2, 5, 4, 4)]),
]


@pytest.mark.parametrize("name, fn, shapes", SPATIAL, ids=[s[0] for s in SPATIAL])
def test_spatial_ops_forward_backward_match_cpu(cp, tol, name, fn, shapes):
    arrays = _inputs(1, *shapes)
    results = {}
    for device in ("cpu", "cuda"):
        inputs = [toynn.tensor(a, device=device, requires_grad=True) for a in arrays]
        out = fn(*inputs)
        g = toynn.tensor(_inputs(2, out.shape)[0], device=device)
        (out * g).sum().backward()
        results[device] = (out, [t.grad for t in inputs])
    (out, grads), (ref, ref_grads) = results["cuda"], results["cpu"]
    on_device(out, *grads)
    close(out, ref, tol)
    for g, r in zip(grads, ref_grads):
        close(g, r, tol)


CLASSES = np.array([0, 3, 1, 2, 1, 3])

# (name, function of x (6, 4) and t: class indices (6,) when the name says so, else values (6, 4))
LOSSES = [
    ("cross_entropy_classes", lambda x, t: F.cross_entropy(x, t, ignore_index=1, label_smoothing=0.1)),
    ("nll_classes", lambda x, t: F.nll_loss(x.log_softmax(1), t, weight=x.detach()[0].exp())),
    ("getitem_classes", lambda x, t: (x.softmax(1)[t, 1:] * 2.0).sum() + x[t > 1].sum()),
    ("one_hot_classes", lambda x, t: (x * F.one_hot(t, 4)).sum()),
    ("mse", lambda x, t: F.mse_loss(x, t)),
    ("bce", lambda x, t: F.binary_cross_entropy(x.sigmoid(), (t > 1).double())),
    ("bce_logits", lambda x, t: F.binary_cross_entropy_with_logits(x, (t > 1).double(), pos_weight=toynn.ones_like(t))),
    ("cat_stack_where", lambda x, t: toynn.where(x > 0, toynn.cat([x, t], 1)[:, :4], toynn.stack([x, t]).mean(0))),
    ("reductions", lambda x, t: x.max(1)[0].sum() + x.var(0).sum() + x.logsumexp(1).sum() + x.amin() + x.std()),
]


@pytest.mark.parametrize("name, fn", LOSSES, ids=[s[0] for s in LOSSES])
def test_losses_and_indexing_match_cpu(cp, tol, name, fn):
    x = _inputs(3, (6, 4))[0]
    t = CLASSES if name.endswith("classes") else np.abs(_inputs(4, (6, 4))[0]) * 3
    results = {}
    for device in ("cpu", "cuda"):
        xt = toynn.tensor(x, device=device, requires_grad=True)
        out = fn(xt, toynn.tensor(t, device=device))
        out.sum().backward()
        results[device] = out, xt.grad
    on_device(*results["cuda"])
    for a, b in zip(results["cuda"], results["cpu"]):
        close(a, b, tol)


def test_dropout_draws_the_same_mask_as_on_the_cpu(cp):
    x = toynn.ones(64, 64)
    toynn.manual_seed(5)
    ref = F.dropout(x, 0.3).numpy()
    toynn.manual_seed(5)
    out = F.dropout(x.cuda(), 0.3)
    on_device(out)
    np.testing.assert_array_equal(out.numpy(), ref)


def test_module_to_moves_parameters_buffers_and_grads(cp):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    model(toynn.randn(2, 3, 8, 8)).sum().backward()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    assert model.to("cuda") is model
    on_device(*model.parameters(), *model.buffers(), *[p.grad for p in model.parameters()])
    optimizer.step()  # the optimizer holds the same Parameter objects, now on the device
    on_device(*model.parameters())
    model.cpu()
    assert all(p.device == "cpu" for p in [*model.parameters(), *model.buffers()])


def test_dataloader_device(cp):
    x, y = np.arange(40, dtype=np.float32).reshape(10, 4), np.arange(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, generator=3, device="cuda")
    batches = list(loader)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    for xb, yb in batches:
        on_device(xb, yb)
        np.testing.assert_array_equal(xb.numpy(), x[yb.numpy()])
    ref = [yb.numpy() for _, yb in DataLoader(TensorDataset(x, y), batch_size=4, shuffle=True, generator=3)]
    np.testing.assert_array_equal(np.concatenate([yb.numpy() for _, yb in batches]), np.concatenate(ref))
    xb, yb = next(iter(DataLoader(TensorDataset(toynn.tensor(x, device="cuda"), y), batch_size=5)))
    on_device(xb)  # a data set already on the device is indexed there, with host indices
    assert yb.device == "cpu"


def test_checkpoint_round_trip_from_device(cp, tmp_path):
    toynn.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 3), nn.BatchNorm1d(3)).to("cuda")
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    model(toynn.randn(4, 5, device="cuda")).pow(2).sum().backward()
    optimizer.step()
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 1}
    path = checkpoint.save(state, tmp_path / "c")
    state = checkpoint.load(path)
    assert all(device_of(v) == "cpu" for v in state["model"].values())  # checkpoints hold host arrays
    restored = nn.Sequential(nn.Linear(5, 3), nn.BatchNorm1d(3)).to("cuda")
    restored_opt = optim.Adam(restored.parameters(), lr=0.01)
    restored.load_state_dict(state["model"])
    restored_opt.load_state_dict(state["optimizer"])
    on_device(*restored.parameters(), *restored.buffers())
    for a, b in zip(restored.state_dict().values(), model.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    on_device(*[toynn.Tensor(v) for s in restored_opt.state.values() for v in s.values() if hasattr(v, "shape")])
    cpu_model = nn.Sequential(nn.Linear(5, 3), nn.BatchNorm1d(3))
    cpu_model.load_state_dict(state["model"])  # a GPU checkpoint loads on a CPU-only machine
    assert all(p.device == "cpu" for p in cpu_model.parameters())


def test_forward_mode_on_device(cp, tol):
    from toynn.autodiff import jvp

    x, v = _inputs(5, (2, 3, 6, 6), (2, 3, 6, 6))
    w = _inputs(6, (4, 3, 3, 3))[0]

    def f(x):
        return F.max_pool2d(F.conv2d(x, toynn.tensor(w, device=x.device), padding=1).tanh(), 2)

    outs = {d: jvp(f, (toynn.tensor(x, device=d),), (toynn.tensor(v, device=d),)) for d in ("cpu", "cuda")}
    on_device(*outs["cuda"])
    for a, b in zip(outs["cuda"], outs["cpu"]):
        close(a, b, tol)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_on_device(cp, fast_mode):
    from toynn.autodiff import gradcheck

    x, w = (toynn.tensor(a, device="cuda", requires_grad=True) for a in _inputs(9, (2, 2, 5, 5), (3, 2, 3, 3)))
    assert gradcheck(lambda x, w: F.max_pool2d(F.conv2d(x, w, padding=1).tanh(), 2), (x, w), fast_mode=fast_mode)
