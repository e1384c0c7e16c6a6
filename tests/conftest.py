"""Fixtures shared by the tests: seeded randomness, the optional PyTorch reference and the array backend.

`pytest --backend cupy` (or TOYNN_BACKEND=cupy) runs the suite with its inputs on the GPU: every Tensor
made from host data lands on the device, as after PyTorch's set_default_device("cuda"); without CuPy or a
GPU every test is skipped. `--backend fake` does the same on tests/fake_cupy.py, a CPU stand-in that
raises wherever NumPy and device arrays meet. Tests marked `explicit_device` place their data themselves.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

BACKENDS = ("numpy", "cupy", "fake")


def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        choices=BACKENDS,
        default=os.environ.get("TOYNN_BACKEND", "numpy"),
        help="where tests create their tensors: numpy (CPU), cupy (GPU) or fake (tests/fake_cupy.py on the CPU)",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "explicit_device: the test moves its data itself; --backend leaves it alone")
    if config.getoption("--backend") not in BACKENDS:  # TOYNN_BACKEND is not checked by choices=
        raise pytest.UsageError(f"--backend / TOYNN_BACKEND must be one of {', '.join(BACKENDS)}")
    # CI sets TOYNN_REQUIRE_TORCH=1: there the PyTorch comparisons must run, never skip
    if os.environ.get("TOYNN_REQUIRE_TORCH") == "1":
        import torch  # noqa: F401  fails loudly when the reference is missing


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def torch():
    torch = pytest.importorskip("torch", reason="PyTorch is the test reference: pip install torch==2.13.0")
    torch.set_num_threads(2)
    return torch


def pytest_collection_modifyitems(config, items):
    if config.getoption("--backend") == "cupy":
        from toynn.backend import has_cupy

        if not has_cupy():
            skip = pytest.mark.skip(reason="--backend cupy: CuPy is not importable or sees no GPU")
            for item in items:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def backend(request) -> str:
    """The --backend this session runs on: 'numpy', 'cupy' or 'fake'."""
    return request.config.getoption("--backend")


@pytest.fixture
def device(backend) -> str:
    """The device tests put their data on: 'cpu', or 'cuda' under --backend cupy or fake."""
    return "cpu" if backend == "numpy" else "cuda"


@pytest.fixture
def xp(backend, _default_device):
    """The array module of the session's backend (numpy, cupy, or the fake)."""
    if backend == "numpy":
        return np
    import cupy

    return cupy


@pytest.fixture(autouse=True)
def _default_device(request, backend, monkeypatch):
    """Under --backend cupy or fake, tensors made from host data are created on the device."""
    if backend == "numpy":
        return
    if backend == "fake":
        from toynn import compiled

        from . import fake_cupy

        fake_cupy.install(monkeypatch)
        # NOTE: the CPU side runs NumPy's path, as the fake does, so that what a test computes on the two sides
        # agrees to the last bit; the compiled kernels (NumPy arrays only) sum some things in another order (the
        # direct conv), and the default pass and test_compiled.py test them
        monkeypatch.setitem(compiled._state, "use", False)
    from toynn.backend import device_of, to_device
    from toynn.tensor import Tensor

    from .devices import off_device

    # device arrays to NumPy, so that np.testing can compare them
    for name in ("assert_allclose", "assert_array_equal", "assert_array_almost_equal", "assert_equal"):
        check = getattr(np.testing, name)
        compare = lambda a, b, *args, _check=check, **kw: _check(off_device(a), off_device(b), *args, **kw)  # noqa: E731
        monkeypatch.setattr(np.testing, name, compare)
    if request.node.get_closest_marker("explicit_device"):
        return

    init = Tensor.__init__

    def init_on_device(self, data, requires_grad=False, dtype=None):
        init(self, data, requires_grad, dtype)
        if device_of(self.array) == "cpu":
            self.array = to_device(self.array, "cuda")

    monkeypatch.setattr(Tensor, "__init__", init_on_device)
