"""The program-level device names of PyTorch (issue 15, item 2): toynn.device, toynn.cuda, toynn.accelerator,
toynn.backends, and toynn.utils.data as toynn.data, each checked against PyTorch where it has an answer here."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import toynn
from toynn import nn
from toynn.backend import has_cupy

from . import fake_cupy

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------
# toynn.device


@pytest.mark.parametrize("args", [("cpu",), ("cuda",), ("cuda:0",), ("cuda:3",), ("cuda", 1), ("cpu:0",), ("mps",)])
def test_device_type_index_str_repr_as_pytorch(torch, args):
    ours, theirs = toynn.device(*args), torch.device(*args)
    assert (ours.type, ours.index) == (theirs.type, theirs.index)
    assert str(ours) == str(theirs)
    assert repr(ours) == repr(theirs)
    assert toynn.device(ours) == ours and toynn.device(str(ours)) == ours


def test_device_equality_and_hash_as_pytorch(torch):
    pairs = [("cuda", "cuda:0"), ("cuda:0", "cuda:0"), ("cpu", "cpu"), ("cpu", "cuda"), ("cuda:0", "cuda:1")]
    for a, b in pairs:
        assert (toynn.device(a) == toynn.device(b)) == (torch.device(a) == torch.device(b)), (a, b)
    assert (toynn.device("cpu") == "cpu") == (torch.device("cpu") == "cpu") is False
    assert len({toynn.device("cuda:0"), toynn.device("cuda", 0), toynn.device("cpu")}) == 2
    with pytest.raises(AttributeError):
        toynn.device("cpu").type = "cuda"


@pytest.mark.parametrize("text", ["foo", "cuda:x", "cuda:-1", "CUDA", "cuda:0:1", "cuda:"])
def test_a_bad_device_string_raises_as_pytorch(torch, text):
    with pytest.raises(RuntimeError) as theirs:
        torch.device(text)
    with pytest.raises(RuntimeError) as ours:
        toynn.device(text)
    assert str(ours.value).split(":")[0] == str(theirs.value).split(":")[0]


def test_device_rejects_other_types():
    with pytest.raises(TypeError, match="device\\(\\): expected a str, a device or an int; got float"):
        toynn.device(1.5)
    with pytest.raises(RuntimeError, match="must not be negative"):
        toynn.device("cuda", -1)


@pytest.mark.explicit_device
def test_tensor_module_and_constructors_take_a_device_object():
    cpu = toynn.device("cpu")
    t = toynn.tensor([1.0, 2.0], device=cpu)
    assert t.device == "cpu"
    assert t.to(cpu) is t and t.to(cpu, toynn.float64).dtype == np.float64
    assert t.to(toynn.device("cpu", 0)) is t
    for make in (toynn.zeros, toynn.ones, toynn.randn, toynn.rand):
        assert make(2, 3, device=cpu).shape == (2, 3)
    assert toynn.zeros_like(t, device=cpu).device == "cpu"
    model = nn.Linear(2, 2)
    assert model.to(cpu) is model and model.weight.device == "cpu"
    assert model.to(cpu, toynn.float64).weight.dtype == np.float64
    with pytest.raises(RuntimeError, match="device 'mps' is not supported"):
        t.to(toynn.device("mps"))
    with pytest.raises(RuntimeError, match="device 'mps' is not supported"):
        model.to(toynn.device("mps"))


@pytest.mark.explicit_device
def test_the_usual_device_line_moves_tensors_and_modules(monkeypatch):
    """device = toynn.device("cuda" if toynn.cuda.is_available() else "cpu"), then .to(device) everywhere."""
    fake_cupy.install(monkeypatch)  # a GPU stand-in: toynn.cuda.is_available() is True here
    device = toynn.device("cuda" if toynn.cuda.is_available() else "cpu")
    assert device == toynn.device("cuda")
    model = nn.Linear(3, 2).to(device)
    x = toynn.randn(4, 3).to(device)
    assert model.weight.device == x.device == "cuda"
    y = model(x)
    assert y.device == "cuda"
    assert toynn.zeros(2, device=toynn.device("cuda:0")).device == "cuda"
    assert toynn.tensor([1.0], device=device).device == "cuda"
    back = y.to(toynn.device("cpu"))
    assert back.device == "cpu"


# ---------------------------------------------------------------------------------------------
# toynn.cuda, toynn.accelerator, toynn.backends


@pytest.mark.explicit_device
def test_cuda_queries_without_a_gpu(torch, monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("PyTorch sees a GPU here: its answers are not the ones of a machine without one")
    monkeypatch.setitem(sys.modules, "cupy", None)  # CuPy absent, whatever is installed
    assert toynn.cuda.is_available() is torch.cuda.is_available() is False
    assert toynn.cuda.device_count() == torch.cuda.device_count() == 0
    assert toynn.accelerator.is_available() is torch.accelerator.is_available() is False
    assert toynn.accelerator.current_accelerator() is torch.accelerator.current_accelerator() is None
    assert toynn.accelerator.device_count() == 0
    toynn.cuda.manual_seed(0)
    toynn.cuda.manual_seed_all(0)
    toynn.cuda.empty_cache()
    for call in (toynn.cuda.synchronize, toynn.cuda.get_device_name, toynn.cuda.current_device):
        with pytest.raises(
            RuntimeError, match=r"toynn.cuda.\w+\(\): CUDA is not available .*toynn.cuda.is_available\(\) first"
        ):
            call()
    with pytest.raises(RuntimeError, match="an integer names an accelerator device, but none is available"):
        toynn.device(0)


@pytest.mark.explicit_device
def test_cuda_queries_with_a_gpu(monkeypatch):
    """On the fake always; on CuPy too when it sees a GPU (then get_device_name names it)."""
    real = has_cupy() and sys.modules.get("cupy") is not fake_cupy  # --backend fake installs the fake first
    if not real:
        fake_cupy.install(monkeypatch)
    assert toynn.cuda.is_available() and toynn.cuda.device_count() >= 1
    assert toynn.accelerator.is_available()
    assert toynn.accelerator.current_accelerator() == toynn.device("cuda")
    assert toynn.accelerator.current_accelerator(check_available=True) == toynn.device("cuda")
    assert toynn.cuda.current_device() == toynn.accelerator.current_device_index() == 0
    toynn.cuda.synchronize()
    toynn.cuda.synchronize("cuda:0")
    toynn.accelerator.synchronize()
    assert toynn.device(0) == toynn.device("cuda:0")
    if real:
        name = toynn.cuda.get_device_name()
        assert isinstance(name, str) and name == toynn.cuda.get_device_name(0)
        toynn.cuda.empty_cache()
    with pytest.raises(ValueError, match="expected a CUDA device; got cpu"):
        toynn.cuda.synchronize("cpu")


def test_cuda_manual_seed_leaves_toynn_random_numbers_alone():
    toynn.manual_seed(3)
    a = toynn.randn(4)
    toynn.manual_seed(3)
    toynn.cuda.manual_seed(99)
    toynn.cuda.manual_seed_all(99)
    np.testing.assert_array_equal(toynn.randn(4).numpy(), a.numpy())


def test_backends_flags_as_pytorch(torch):
    assert toynn.backends.mps.is_available() is torch.backends.mps.is_available() is False
    cudnn = toynn.backends.cudnn
    assert (cudnn.benchmark, cudnn.deterministic, cudnn.enabled) == (False, False, True)
    cudnn.benchmark, cudnn.deterministic = True, True  # what programs set: accepted, no effect
    try:
        x = toynn.randn(1, 1, 5, 5)
        w = toynn.randn(2, 1, 3, 3)
        assert toynn.nn.functional.conv2d(x, w).shape == (1, 2, 3, 3)
    finally:
        cudnn.benchmark, cudnn.deterministic = False, False
    import toynn.backends.cudnn as again

    assert again is cudnn


# ---------------------------------------------------------------------------------------------
# toynn.utils.data is toynn.data


def test_utils_data_is_the_data_module():
    import toynn.utils.data
    from toynn.utils.data import DataLoader, Dataset, TensorDataset

    assert toynn.utils.data is toynn.data
    assert DataLoader is toynn.data.DataLoader and Dataset is toynn.data.Dataset
    loader = DataLoader(TensorDataset(np.arange(6.0).reshape(3, 2)), batch_size=2)
    assert [b[0].shape for b in loader] == [(2, 2), (1, 2)]
    assert importlib.import_module("toynn.utils.data.dataloader") is toynn.data.loader
    assert importlib.import_module("toynn.utils.data.dataset") is toynn.data.dataset
    from toynn.utils.data.dataloader import DataLoader as again

    assert again is DataLoader


def _fresh(code: str) -> dict:
    """Run code in a fresh interpreter after a bare `import toynn`; it prints one JSON line."""
    out = subprocess.run(
        [sys.executable, "-c", f"import toynn, json, sys\n{code}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return json.loads(out.stdout.splitlines()[-1])


def test_program_names_work_after_a_bare_import_and_load_lazily():
    got = _fresh(
        "before = sorted(m for m in sys.modules if m.startswith(('toynn.io', 'toynn.cuda', 'toynn.utils')))\n"
        "ok = [toynn.utils.data.DataLoader is toynn.data.DataLoader, callable(toynn.save), callable(toynn.load),\n"
        "      toynn.cuda.is_available() in (True, False), toynn.backends.cudnn.benchmark is False,\n"
        "      toynn.backends.mps.is_available() is False, toynn.accelerator.is_available() in (True, False),\n"
        "      toynn.autograd.Variable is not None]\n"
        "print(json.dumps({'before': before, 'ok': ok, 'safetensors': 'safetensors' in sys.modules}))"
    )
    assert got["before"] == []
    assert all(got["ok"])
    assert not got["safetensors"]
