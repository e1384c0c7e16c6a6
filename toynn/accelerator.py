"""PyTorch 2.13's torch.accelerator: the one accelerator toynn can use is an NVIDIA GPU through CuPy."""

from __future__ import annotations

from . import cuda
from .backend import device as _device


def is_available() -> bool:
    """True when a GPU can be used (CuPy sees one)."""
    return cuda.is_available()


def device_count() -> int:
    return cuda.device_count()


def current_accelerator(check_available: bool = False) -> _device | None:
    """device(type='cuda') when CuPy is importable (and, with check_available, sees a GPU), else None."""
    if check_available:
        return _device("cuda") if cuda.is_available() else None
    return _device("cuda") if cuda.device_count() > 0 else None


def current_device_index() -> int:
    return cuda.current_device()


def synchronize(device=None) -> None:
    cuda.synchronize(device)
