"""toynn.save / toynn.load (issue 15, item 2): round trips of every kind of object, files that torch.save wrote
loaded without running their pickle, and the refusals: malicious files execute nothing, damaged files and whole
Modules get clear errors."""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import subprocess
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import toynn
from toynn import nn, optim
from toynn.io.serialization import CorruptFileError, UnsafeFileError

from . import fake_cupy
from .devices import host


def roundtrip(obj, **load_kwargs):
    buffer = io.BytesIO()
    toynn.save(obj, buffer)
    buffer.seek(0)
    return toynn.load(buffer, **load_kwargs)


def same(a, b) -> None:
    """a equals b in structure, types and values (arrays bit for bit, dtypes too)."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, toynn.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(host(a.detach()), host(b.detach()))
    elif isinstance(a, np.ndarray | np.generic):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    elif isinstance(a, float) and a != a:
        assert b != b
    else:
        assert a == b


# ---------------------------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "int64", "int32", "int8", "uint8", "bool"])
def test_tensors_of_each_dtype_roundtrip(dtype):
    t = toynn.tensor((np.arange(12) % 5 - 2).reshape(3, 4).astype(dtype))
    back = roundtrip(t)
    same(back, t)
    assert back.is_leaf and back.grad_fn is None


@pytest.mark.parametrize(
    "make",
    [
        lambda: toynn.tensor(3.5),  # 0-d
        lambda: toynn.zeros(0, 3),  # empty
        lambda: toynn.arange(24.0).reshape(2, 3, 4).permute(2, 0, 1),  # not contiguous
        lambda: toynn.arange(10.0)[::3],  # a strided view
        lambda: toynn.randn(3, requires_grad=True),
        lambda: nn.Parameter(toynn.randn(2, 2)),
    ],
    ids=["0-d", "empty", "permuted", "strided", "requires_grad", "parameter"],
)
def test_tensor_shapes_views_and_flags_roundtrip(make):
    t = make()
    same(roundtrip(t), t)


def test_plain_containers_roundtrip_with_their_types():
    obj = {
        "str": "héllo",
        "int": 7,
        "big": 2**70,
        "neg": -3,
        "float": 0.1,
        "inf": float("inf"),
        "-inf": float("-inf"),
        "nan": float("nan"),
        "bool": True,
        "none": None,
        "list": [1, [2, [3, []]]],
        "tuple": (1, ("a", None), ()),
        "ordered": OrderedDict([("b", 1), ("a", 2)]),
        3: {0: "int keys", (1, 2): "tuple keys", 2.5: "float keys", None: "none key", True: "bool key"},
        "size": toynn.Size([2, 3]),
        "device": toynn.device("cuda:1"),
        "dtype": toynn.float64,
        "numpy": np.arange(6, dtype=np.int16).reshape(2, 3),
        "numpy_scalar": np.float32(1.5),
    }
    back = roundtrip(obj)
    same(back, obj)
    assert type(back["ordered"]) is OrderedDict and type(back) is dict


def test_shared_arrays_stay_shared_and_one_object_comes_back_once():
    t = toynn.randn(3)
    tied = nn.Linear(3, 3)
    tied.weight = nn.Parameter(toynn.randn(3, 3))
    back = roundtrip({"a": t, "b": t, "list": [t], "w1": tied.weight.detach(), "w2": tied.weight.detach()})
    assert back["a"] is back["b"] is back["list"][0]
    assert back["w1"] is back["w2"]  # the same array twice: stored once
    back["a"].array[0] = 42.0
    assert back["list"][0].array[0] == 42.0


def test_save_to_a_path_a_pathlib_path_and_an_open_file(tmp_path):
    obj = {"x": toynn.randn(2, 2), "n": 1}
    toynn.save(obj, str(tmp_path / "a.pt"))
    toynn.save(obj, tmp_path / "b.pt")
    with open(tmp_path / "c.pt", "wb") as f:
        toynn.save(obj, f)
    for name in ("a.pt", "b.pt", "c.pt"):
        same(toynn.load(tmp_path / name), obj)
        with open(tmp_path / name, "rb") as f:
            same(toynn.load(f), obj)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()  # no timestamps: same bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt", "b.pt", "c.pt"]  # no temporary file left


def test_a_refused_save_leaves_the_previous_file_intact(tmp_path):
    path = tmp_path / "model.pt"
    toynn.save({"v": 1}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        toynn.save({"v": 2, "f": print}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


def _model():
    return nn.Sequential(
        nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 4)
    )


def test_model_state_dict_roundtrip_gives_the_same_outputs(tmp_path):
    toynn.manual_seed(0)
    model = _model()
    x = toynn.randn(5, 1, 6, 6)
    model(x)  # the batch norm's running statistics move
    model.eval()
    want = model(x)
    toynn.save(model.state_dict(), tmp_path / "model.pt")
    fresh = _model()
    fresh.load_state_dict(toynn.load(tmp_path / "model.pt"))
    fresh.eval()
    np.testing.assert_array_equal(host(fresh(x).detach()), host(want.detach()))


def _train(model, opt, sched, x, y, steps):
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("make_opt", [lambda p: optim.Adam(p, lr=0.01), lambda p: optim.SGD(p, 0.1, momentum=0.9)])
def test_training_resumes_identically_from_saved_model_optimizer_and_scheduler(tmp_path, make_opt):
    toynn.manual_seed(1)
    x, y = toynn.randn(8, 1, 6, 6), toynn.randint(0, 4, (8,))
    model = _model()
    opt = make_opt(model.parameters())
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    _train(model, opt, sched, x, y, 3)
    state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "epoch": 3}
    toynn.save(state, tmp_path / "checkpoint.pt")
    straight = _train(model, opt, sched, x, y, 3)

    resumed_model = _model()
    resumed_opt = make_opt(resumed_model.parameters())
    resumed_sched = optim.lr_scheduler.StepLR(resumed_opt, step_size=2, gamma=0.5)
    loaded = toynn.load(tmp_path / "checkpoint.pt")
    resumed_model.load_state_dict(loaded["model"])
    resumed_opt.load_state_dict(loaded["optimizer"])
    resumed_sched.load_state_dict(loaded["scheduler"])
    assert loaded["epoch"] == 3
    assert _train(resumed_model, resumed_opt, resumed_sched, x, y, 3) == straight
    for a, b in zip(model.state_dict().values(), resumed_model.state_dict().values()):
        np.testing.assert_array_equal(host(a), host(b))


# ---------------------------------------------------------------------------------------------
# map_location and devices


def test_map_location_cpu_device_dict_and_callable(device):
    obj = {"w": toynn.randn(2, 3)}
    for where in ("cpu", toynn.device("cpu"), {"cpu": "cpu"}, lambda storage, location: storage):
        same(roundtrip(obj, map_location=where), obj)
    seen = []
    roundtrip(obj, map_location=lambda storage, location: seen.append((location, storage.shape)))
    assert seen == [("cpu" if device == "cpu" else "cuda:0", (2, 3))]  # the callable sees where it was saved
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        roundtrip(obj, map_location="gpu")


@pytest.mark.explicit_device
def test_a_file_saved_on_the_gpu_loads_on_the_cpu_with_map_location(monkeypatch):
    fake_cupy.install(monkeypatch)  # a GPU stand-in
    w = toynn.randn(2, 3).to("cuda")
    buffer = io.BytesIO()
    toynn.save({"w": w, "n": np.ones(2)}, buffer)
    on_gpu = toynn.load(io.BytesIO(buffer.getvalue()))
    assert on_gpu["w"].device == "cuda"
    assert isinstance(on_gpu["n"], np.ndarray)  # a NumPy array saved from the host stays there
    on_cpu = toynn.load(io.BytesIO(buffer.getvalue()), map_location="cpu")
    assert on_cpu["w"].device == "cpu"
    np.testing.assert_array_equal(on_cpu["w"].numpy(), host(w))
    moved = toynn.load(io.BytesIO(buffer.getvalue()), map_location={"cuda:0": "cpu"})
    assert moved["w"].device == "cpu"
    monkeypatch.setitem(sys.modules, "cupy", None)  # now no GPU at all
    with pytest.raises(RuntimeError, match=r"saved on cuda:0, but CUDA is not available.*map_location='cpu'"):
        toynn.load(io.BytesIO(buffer.getvalue()))
    assert toynn.load(io.BytesIO(buffer.getvalue()), map_location=toynn.device("cpu"))["w"].device == "cpu"


@pytest.mark.explicit_device
def test_map_location_cuda_puts_the_tensors_on_the_gpu(monkeypatch, torch, tmp_path):
    fake_cupy.install(monkeypatch)
    torch.save({"w": torch.arange(6.0).reshape(2, 3).t()}, tmp_path / "t.pt")
    toynn.save({"w": toynn.arange(6.0)}, tmp_path / "ours.pt")
    for path in (tmp_path / "t.pt", tmp_path / "ours.pt"):
        for where in ("cuda", toynn.device("cuda:0"), lambda storage, location: storage.to("cuda")):
            w = toynn.load(path, map_location=where)["w"]
            assert w.device == "cuda"
    np.testing.assert_array_equal(
        host(toynn.load(tmp_path / "t.pt", map_location="cuda")["w"]), [[0, 3], [1, 4], [2, 5]]
    )


# ---------------------------------------------------------------------------------------------
# files that torch.save wrote


def _torch_model(torch, dtype):
    m = torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3),
        torch.nn.BatchNorm2d(3),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(12, 4),
    ).to(dtype)
    m(torch.randn(5, 1, 6, 6, dtype=dtype))  # running statistics and num_batches_tracked move
    return m.eval()


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 1e-5)])
def test_a_torch_saved_state_dict_gives_torch_outputs_in_toynn(torch, tmp_path, dtype, tol):
    torch.manual_seed(0)
    tm = _torch_model(torch, getattr(torch, dtype))
    torch.save(tm.state_dict(), tmp_path / "weights.pt")
    state = toynn.load(tmp_path / "weights.pt")
    assert type(state) is OrderedDict and list(state) == list(tm.state_dict())
    assert state["1.num_batches_tracked"].dtype == np.int64 and state["1.num_batches_tracked"].item() == 1
    ours = _model().to(getattr(toynn, dtype))
    ours.load_state_dict(state)
    ours.eval()
    x = np.random.default_rng(0).standard_normal((4, 1, 6, 6)).astype(dtype)
    want = tm(torch.from_numpy(x)).detach().numpy()
    got = host(ours(toynn.tensor(x)).detach())
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_torch_views_strides_and_shared_storages_are_honoured(torch, tmp_path):
    x = torch.arange(12.0).reshape(3, 4)
    saved = {"x": x, "t": x.t(), "row": x[1], "col": x[:, 2], "step": x.flatten()[::5], "wide": x[0].expand(2, 4)}
    torch.save(saved, tmp_path / "views.pt")
    back = toynn.load(tmp_path / "views.pt")
    for key, value in saved.items():
        np.testing.assert_array_equal(host(back[key]), value.numpy(), err_msg=key)
    back["x"].array[1, 2] = -1.0  # one storage, as after torch.load: the views see the write
    assert back["t"].array[2, 1] == back["row"].array[2] == back["col"].array[1] == -1.0


@pytest.mark.parametrize(
    "dtype", ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool", "bfloat16"]
)
def test_torch_dtypes_load_bfloat16_widened_to_float32(torch, tmp_path, dtype):
    t = (torch.arange(-3, 9) * 1.375).reshape(3, 4)
    t = t.to(getattr(torch, dtype))
    torch.save({"t": t, "scalar": t[0, 0].clone()}, tmp_path / "t.pt")
    back = toynn.load(tmp_path / "t.pt")
    want = t.float() if dtype == "bfloat16" else t  # NumPy has no bfloat16: loaded as float32, exactly
    assert back["t"].dtype == np.dtype("float32" if dtype == "bfloat16" else dtype)
    np.testing.assert_array_equal(host(back["t"]), want.numpy())
    assert back["scalar"].shape == () and back["scalar"].item() == want[0, 0].item()


def test_torch_parameters_requires_grad_and_plain_values(torch, tmp_path):
    obj = {
        "p": torch.nn.Parameter(torch.ones(2)),
        "frozen": torch.nn.Parameter(torch.ones(2), requires_grad=False),
        "g": torch.ones(3, requires_grad=True),
        "plain": [1, 2.5, "s", None, True, (1, 2), 2**70, -5, {"k": b"bytes"}],
        "size": torch.Size([2, 3]),
        "device": torch.device("cpu"),
        "dtype": torch.float16,
        "set": {1, 2},
    }
    torch.save(obj, tmp_path / "misc.pt")
    back = toynn.load(tmp_path / "misc.pt")
    assert type(back["p"]) is nn.Parameter and back["p"].requires_grad
    assert type(back["frozen"]) is nn.Parameter and not back["frozen"].requires_grad
    assert type(back["g"]) is toynn.Tensor and back["g"].requires_grad and back["g"].is_leaf
    assert back["plain"] == [1, 2.5, "s", None, True, (1, 2), 2**70, -5, {"k": b"bytes"}]
    assert back["size"] == toynn.Size([2, 3]) and type(back["size"]) is toynn.Size
    assert back["device"] == toynn.device("cpu")
    assert back["dtype"] == np.float16 and back["set"] == {1, 2}


def test_a_torch_optimizer_and_scheduler_state_dict_load(torch, tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, 3)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    sched.step()
    torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "opt.pt")
    back = toynn.load(tmp_path / "opt.pt")
    want = opt.state_dict()
    assert back["optimizer"]["param_groups"] == want["param_groups"]
    assert back["scheduler"] == sched.state_dict()
    for i, state in want["state"].items():
        assert list(back["optimizer"]["state"][i]) == list(state)
        for key, value in state.items():
            np.testing.assert_array_equal(host(back["optimizer"]["state"][i][key]), value.numpy())


def test_a_whole_pickled_torch_model_is_refused_with_the_state_dict_way(torch, tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "model.pt")
    with pytest.raises(UnsafeFileError) as err:
        toynn.load(tmp_path / "model.pt")
    message = str(err.value)
    assert "calls torch.nn.modules.linear.Linear, which is not allowed" in message
    assert "torch.save(model.state_dict(), PATH)" in message and "model.load_state_dict(toynn.load(PATH))" in message


def test_the_legacy_torch_format_asks_for_a_re_save(torch, tmp_path):
    torch.save({"w": torch.ones(2)}, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(UnsafeFileError, match="legacy .* re-save it in the zip format"):
        toynn.load(tmp_path / "old.pt")


# ---------------------------------------------------------------------------------------------
# malicious files execute nothing


class _Payload:
    """pickle.dumps(_Payload(f, args)) is a pickle that calls f(*args) when pickle.load reads it."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def _payloads(marker):
    import builtins

    return {
        "os.system": (os.system, (f"touch {marker}",)),
        "builtins.eval": (builtins.eval, (f"open({str(marker)!r}, 'w').close()",)),
        "builtins.exec": (builtins.exec, (f"open({str(marker)!r}, 'w').close()",)),
        "subprocess.call": (subprocess.call, (["touch", str(marker)],)),
        "subprocess.Popen": (subprocess.Popen, (["touch", str(marker)],)),
    }


def _torch_like_zip(pickle_bytes: bytes) -> bytes:
    """A zip laid out as torch.save's, with the given data.pkl."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        z.writestr("archive/byteorder", "little")
        z.writestr("archive/version", "3\n")
    return buffer.getvalue()


def test_the_payloads_are_live_when_pickle_reads_them(tmp_path):
    """The control: the same bytes run their command under pickle.loads (so the refusals below mean something)."""
    marker = tmp_path / "ran"
    fn, args = _payloads(marker)["os.system"]
    pickle.loads(pickle.dumps(_Payload(fn, args)))  # noqa: S301  the point of the test
    assert marker.exists()


@pytest.mark.parametrize(
    "target", ["os.system", "builtins.eval", "builtins.exec", "subprocess.call", "subprocess.Popen"]
)
@pytest.mark.parametrize("protocol", [2, 4])
def test_a_zip_whose_data_pkl_calls_a_function_executes_nothing(tmp_path, target, protocol):
    marker = tmp_path / "ran"
    fn, args = _payloads(marker)[target]
    path = tmp_path / "evil.pt"
    path.write_bytes(_torch_like_zip(pickle.dumps({"w": _Payload(fn, args)}, protocol=protocol)))
    shown = {"os.system": "posix.system" if os.name == "posix" else "nt.system"}.get(target, target)
    with pytest.raises(UnsafeFileError) as err:
        toynn.load(path, weights_only=False)
    assert str(err.value).startswith(f"toynn.load: {path} calls {shown}, which is not allowed; toynn.load only")
    assert "weights_only=False changes nothing" in str(err.value)
    assert not marker.exists()


@pytest.mark.parametrize("target", ["os.system", "builtins.eval", "subprocess.call"])
def test_a_plain_pickle_file_executes_nothing(tmp_path, target):
    marker = tmp_path / "ran"
    fn, args = _payloads(marker)[target]
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_Payload(fn, args)))
    with pytest.raises(UnsafeFileError, match="is a pickle file .* toynn.load does not read: unpickling can run any"):
        toynn.load(path)
    assert not marker.exists()


def _opcodes(*ops) -> bytes:
    """A protocol-2 pickle from raw opcode bytes, ending with STOP."""
    return b"\x80\x02" + b"".join(ops) + b"."


@pytest.mark.parametrize(
    "body,named",
    [
        (b"cos\nsystem\n(S'true'\ntR", "calls os.system"),  # GLOBAL + REDUCE by hand
        (b"(S'true'\nios\nsystem\n", "calls os.system"),  # INST resolves the global first
        (b"}}(S'a'\nS'b'\nub", "sets the state of a dict"),  # BUILD on a plain dict
        (b"ccollections\nOrderedDict\n)R}S'__class__'\nS'x'\nsb", "sets the attribute '__class__'"),
        (b"ccollections\nOrderedDict\n)\x81", None),  # NEWOBJ of an allowed name: fine
        (b"\x82\x01", "uses the pickle opcode EXT1"),  # the extension registry
        (b"(S'x'\no", "uses the pickle opcode OBJ"),
        (b"S'x'\nP0\n", "uses the pickle opcode PERSID"),
        (b"S'x'\np0\n", None),  # PUT then STOP: fine, gives 'x'
    ],
)
def test_each_refused_opcode_is_named(tmp_path, body, named):
    path = tmp_path / "crafted.pt"
    path.write_bytes(_torch_like_zip(_opcodes(body)))
    if named is None:
        toynn.load(path)
        return
    with pytest.raises(UnsafeFileError, match=f"toynn.load: {path} {named}"):
        toynn.load(path)


# ---------------------------------------------------------------------------------------------
# damaged files


def _saved(torch, tmp_path) -> bytes:
    torch.save({"w": torch.arange(64.0)}, tmp_path / "good.pt")
    return (tmp_path / "good.pt").read_bytes()


@pytest.mark.parametrize("cut", [0.9, 0.5, 0.1])
def test_a_truncated_file_gets_a_clear_error(torch, tmp_path, cut):
    for name, data in (("torch", _saved(torch, tmp_path)), ("toynn", _toynn_bytes())):
        path = tmp_path / f"{name}.pt"
        path.write_bytes(data[: int(len(data) * cut)])
        with pytest.raises(CorruptFileError, match=f"toynn.load: {path} cannot be read: "):
            toynn.load(path)


def _toynn_bytes() -> bytes:
    buffer = io.BytesIO()
    toynn.save({"w": toynn.arange(64.0)}, buffer)
    return buffer.getvalue()


def test_flipped_bytes_in_a_storage_are_caught_by_the_zip_checksum(torch, tmp_path):
    for data in (_saved(torch, tmp_path), _toynn_bytes()):
        archive = zipfile.ZipFile(io.BytesIO(data))
        name = next(n for n in archive.namelist() if "/data/" in n)
        at = archive.getinfo(name).header_offset  # the local header: 30 bytes, then the name and its extra field
        start = (
            at
            + 30
            + int.from_bytes(data[at + 26 : at + 28], "little")
            + int.from_bytes(data[at + 28 : at + 30], "little")
        )
        bad = bytearray(data)
        bad[start + 8] ^= 0xFF
        with pytest.raises(CorruptFileError, match="damaged or truncated .*CRC"):
            toynn.load(io.BytesIO(bytes(bad)))


def _torch_zip_with(pickle_bytes: bytes, storage: bytes, key: str = "0") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        z.writestr(f"archive/data/{key}", storage)
        z.writestr("archive/byteorder", "little")
    return buffer.getvalue()


def _tensor_pickle(numel: int, offset: int, size: tuple, stride: tuple) -> bytes:
    """torch.save's pickle of one float32 tensor, with the storage record and geometry given."""

    def tup(values):
        return b"(" + b"".join(b"I%d\n" % v for v in values) + b"t"

    return _opcodes(
        b"ctorch._utils\n_rebuild_tensor_v2\n(",
        b"(S'storage'\nctorch\nFloatStorage\nS'0'\nS'cpu'\n" + b"I%d\n" % numel + b"tQ",
        b"I%d\n" % offset, tup(size), tup(stride),
        b"I00\nccollections\nOrderedDict\n)RtR",
    )  # fmt: skip


def test_a_crafted_torch_tensor_that_fits_its_storage_loads(tmp_path):
    data = _torch_zip_with(_tensor_pickle(6, 1, (2, 2), (2, 1)), np.arange(6, dtype="<f4").tobytes())
    np.testing.assert_array_equal(toynn.load(io.BytesIO(data)).numpy(), [[1, 2], [3, 4]])


@pytest.mark.parametrize(
    "numel,offset,size,stride,match",
    [
        (6, 0, (4, 4), (4, 1), "reaches element 15 of a storage of 6"),  # would read past the storage
        (6, 5, (2,), (1,), "reaches element 6 of a storage of 6"),
        (6, 0, (2, 3), (1000000, 1), "reaches element 1000002"),
        (7, 0, (2,), (1,), "holds 24 bytes; 7 float32 elements need 28"),  # the record does not fit the bytes
        (6, 0, (2, 3), (3,), "offset 0, size \\(2, 3\\) and stride \\(3,\\)"),
    ],
)
def test_a_tensor_outside_its_storage_is_refused_before_any_read(tmp_path, numel, offset, size, stride, match):
    data = _torch_zip_with(_tensor_pickle(numel, offset, size, stride), np.arange(6, dtype="<f4").tobytes())
    with pytest.raises(CorruptFileError, match=match):
        toynn.load(io.BytesIO(data))


def test_missing_storage_bad_memo_and_unbalanced_pickles_are_named(tmp_path):
    cases = {
        "its storage archive/data/0 is missing": _torch_like_zip(_tensor_pickle(6, 0, (6,), (1,))),
        "reads memo entry 5, which was never written": _torch_like_zip(_opcodes(b"h\x05")),
        "stops with an unbalanced stack": _torch_like_zip(_opcodes(b"K\x01K\x02")),
        "ends without STOP|damaged": _torch_like_zip(b"\x80\x02K\x01"),
    }
    for match, data in cases.items():
        with pytest.raises(CorruptFileError, match=match):
            toynn.load(io.BytesIO(data))


def test_tampered_toynn_skeletons_get_clear_errors():
    good = _toynn_bytes()
    archive = zipfile.ZipFile(io.BytesIO(good))
    skeleton = archive.read("toynn/skeleton.json").decode()
    tampered = {
        "not JSON": skeleton[:-5],
        "format 'other/1'": skeleton.replace("toynn.save/1", "other/1"),
        "refers to array 7": skeleton.replace('{"tensor":0}', '{"tensor":7}'),
        "unknown node": skeleton.replace('{"tensor":0}', '{"eval":"os.system"}'),
        "holds 256 bytes; float32 \\(65,\\) needs 260": skeleton.replace('"shape":[64]', '"shape":[65]'),
        "described as": skeleton.replace('"dtype":"float32"', '"dtype":"object"'),
        "nested more than 100": '{"format":"toynn.save/1","arrays":[],"object":' + "[" * 150 + "]" * 150 + "}",
    }
    for match, text in tampered.items():
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            z.writestr("toynn/skeleton.json", text)
            z.writestr("toynn/data/0", archive.read("toynn/data/0"))
        with pytest.raises(CorruptFileError, match=match):
            toynn.load(io.BytesIO(buffer.getvalue()))


@pytest.mark.parametrize(
    "data,match",
    [
        (b"", "it is empty"),
        (b"hello world, not a model", "not a toynn.save or torch.save file"),
        (b"PK\x03\x04garbage", "damaged or truncated"),
    ],
)
def test_files_that_are_not_checkpoints(data, match):
    with pytest.raises(CorruptFileError, match=match):
        toynn.load(io.BytesIO(data))


def test_a_missing_file_and_a_text_mode_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        toynn.load(tmp_path / "nowhere.pt")
    (tmp_path / "x.pt").write_bytes(_toynn_bytes())
    with open(tmp_path / "x.pt", encoding="latin1") as f, pytest.raises(TypeError, match="open it with 'rb'"):
        toynn.load(f)


# ---------------------------------------------------------------------------------------------
# what save refuses


def test_saving_a_module_is_refused_with_the_state_dict_way():
    model = _model()
    for obj, where in ((model, "obj"), ({"model": model}, "obj\\['model'\\]"), ([1, model], "obj\\[1\\]")):
        with pytest.raises(TypeError, match=f"cannot save the Sequential \\(an nn.Module\\) at {where} itself") as err:
            toynn.save(obj, io.BytesIO())
        assert "toynn.save(model.state_dict(), PATH)" in str(err.value)
        assert "model.load_state_dict(toynn.load(PATH))" in str(err.value)


def test_saving_an_optimizer_or_other_objects_is_refused_naming_where():
    opt = optim.SGD(_model().parameters(), lr=0.1)
    with pytest.raises(TypeError, match="cannot save the SGD at obj\\['opt'\\] itself: save its state_dict"):
        toynn.save({"opt": opt}, io.BytesIO())
    with pytest.raises(TypeError, match="cannot store a function at obj\\['fn'\\]\\[0\\]: toynn.save stores Tensors"):
        toynn.save({"fn": [lambda x: x]}, io.BytesIO())
    with pytest.raises(TypeError, match="obj has a key of type frozenset"):
        toynn.save({frozenset(): 1}, io.BytesIO())
    with pytest.raises(TypeError, match="dtype object"):
        toynn.save(np.array([None]), io.BytesIO())
    loop: list = []
    loop.append(loop)
    with pytest.raises(TypeError, match="nested more than 100 levels deep \\(or contains itself\\)"):
        toynn.save(loop, io.BytesIO())
    with pytest.raises(TypeError, match="pickle_module is not supported"):
        toynn.save({}, io.BytesIO(), pickle_module=pickle)


def test_the_file_holds_no_pickle_and_names_its_format(tmp_path):
    toynn.save({"w": toynn.ones(2), "n": [1, "a"]}, tmp_path / "x.pt")
    archive = zipfile.ZipFile(tmp_path / "x.pt")
    assert archive.namelist() == ["toynn/skeleton.json", "toynn/data/0"]
    assert archive.read("toynn/skeleton.json").startswith(b'{"format":"toynn.save/1"')
    for name in archive.namelist():
        with pytest.raises(Exception):  # noqa: B017  nothing in it is a pickle
            list(pickletools.genops(archive.read(name)))
