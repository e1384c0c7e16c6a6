"""Where NumPy and CuPy meet: the array module of an array, devices, default dtype (threads and scratch buffers:
runtime.py)."""

from __future__ import annotations

import sys

import numpy as np

_default_float = np.dtype(np.float32)


def _cupy():
    """The cupy module if it is already imported or importable, else None (imported lazily)."""
    cp = sys.modules.get("cupy")
    if cp is not None:
        return cp
    try:
        import cupy as cp
    except ImportError:
        return None
    return cp


def array_module(*arrays):
    """numpy or cupy, whichever the arrays live in (the 'xp' of Chainer and DeZero); for Tensors, toynn.xp: the
    same names on Tensors, which is how one backward rule runs on raw arrays and, with create_graph, on Tensors."""
    for a in arrays:
        namespace = getattr(a, "__xp__", None)
        if namespace is not None:
            return namespace()
    cp = sys.modules.get("cupy")  # NOTE: a cupy array can only exist once cupy is imported
    if cp is not None and any(isinstance(a, cp.ndarray) for a in arrays):
        return cp
    return np


def has_cupy() -> bool:
    """True when CuPy is importable and sees a GPU."""
    cp = _cupy()
    if cp is None:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver, no device: CuPy imports but cannot run
        return False


def device_of(array) -> str:
    """'cpu' for NumPy arrays, 'cuda' for CuPy arrays."""
    return "cpu" if array_module(array) is np else "cuda"


def to_device(array, device: str):
    """Copy an array to 'cpu' (NumPy) or 'cuda' (CuPy); no copy when it is already there."""
    device = str(device)
    if device.startswith("cuda"):
        cp = _cupy()
        if cp is None:
            raise RuntimeError("device 'cuda' needs CuPy: pip install cupy-cuda12x (or the build for your CUDA)")
        return cp.asarray(array)
    if device != "cpu":  # NOTE: a RuntimeError, as PyTorch's; Function.apply would rename a ValueError a ShapeError
        raise RuntimeError(
            f"device {device!r} is not supported: toynn runs on 'cpu' (NumPy) and 'cuda' (NVIDIA GPUs, with CuPy)"
        )
    return array.get() if array_module(array) is not np else array


def get_default_dtype():
    """The dtype of new floating-point tensors (float32 unless changed, as in PyTorch)."""
    return _default_float


def set_default_dtype(dtype) -> None:
    """Set the dtype of new floating-point tensors: float32 or float64."""
    global _default_float
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating-point dtype, got {dtype}")
    _default_float = dtype


def is_float(dtype) -> bool:
    return dtype.kind == "f"


def scatter_add(xp, target, index, values) -> None:
    """target[index] += values, adding once per occurrence when an index repeats."""
    if xp is np:
        np.add.at(target, index, values)
    else:
        import cupyx

        cupyx.scatter_add(target, index, values)
