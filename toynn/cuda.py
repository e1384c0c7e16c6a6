"""PyTorch's torch.cuda queries, answered by CuPy: toynn computes on an NVIDIA GPU through CuPy, when it is
importable and sees one (toynn/backend.py). Nothing here imports CuPy until a function is called."""

from __future__ import annotations

from .backend import _cupy, cuda_device_count
from .backend import device as _device


def is_available() -> bool:
    """True when CuPy is importable and sees a GPU: then .to("cuda") works."""
    return cuda_device_count() > 0


def device_count() -> int:
    """How many GPUs CuPy sees (0 without CuPy or a driver)."""
    return cuda_device_count()


def _index(device) -> int:
    """The device number of None (the current one), an int, "cuda:1" or a toynn.device."""
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    device = _device(device)
    if device.type != "cuda":
        raise ValueError(f"toynn.cuda: expected a CUDA device; got {device}")
    return current_device() if device.index is None else device.index


def _require(name: str):
    """CuPy, or a RuntimeError naming the call when no GPU can be used."""
    if not is_available():
        raise RuntimeError(
            f"toynn.cuda.{name}(): CUDA is not available (toynn needs CuPy and an NVIDIA GPU: pip install "
            "cupy-cuda12x); check toynn.cuda.is_available() first"
        )
    return _cupy()


def current_device() -> int:
    """The number of the GPU that CuPy computes on."""
    return int(_require("current_device").cuda.Device().id)


def get_device_name(device=None) -> str:
    """The GPU's name, e.g. 'NVIDIA H100 80GB HBM3'."""
    cp = _require("get_device_name")
    name = cp.cuda.runtime.getDeviceProperties(_index(device))["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def synchronize(device=None) -> None:
    """Wait until the GPU has finished all the work queued on it (for timing)."""
    cp = _require("synchronize")
    with cp.cuda.Device(_index(device)):
        cp.cuda.Device(_index(device)).synchronize()


def manual_seed(seed: int) -> None:
    """Accepted and ignored: toynn draws all random numbers, GPU tensors' too, from the one generator that
    toynn.manual_seed seeds (PyTorch's own call does nothing either when CUDA is absent)."""


def manual_seed_all(seed: int) -> None:
    """Accepted and ignored, as manual_seed: toynn.manual_seed seeds every random number toynn draws."""


def empty_cache() -> None:
    """Give CuPy's cached, unused GPU memory back to the driver; nothing to do without a GPU."""
    if is_available():
        _cupy().get_default_memory_pool().free_all_blocks()
