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
    return cuda_device_count() > 0


# the device types PyTorch's parser knows; toynn computes on 'cpu' and 'cuda', the others can only be named
_DEVICE_TYPES = (
    "cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia", "xla", "lazy",
    "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone",
)  # fmt: skip


class device:  # noqa: N801  PyTorch's name
    """Where a tensor lives, as PyTorch's torch.device: device("cuda"), device("cuda:0"), device("cuda", 0).

    .type is "cpu" or "cuda" (other PyTorch types are accepted, but moving data there raises); .index is the
    device number or None. str gives "cuda:0", repr "device(type='cuda', index=0)"; equal when type and index are.
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index: int | None = None):  # noqa: A002  PyTorch's argument name
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        elif isinstance(type, int) and not isinstance(type, bool):  # device(0): the accelerator's device 0
            if not has_cupy():
                raise RuntimeError("device(0): an integer names an accelerator device, but none is available")
            type, index = "cuda", type
        elif not isinstance(type, str):
            raise TypeError(f"device(): expected a str, a device or an int; got {type.__class__.__name__}")
        else:
            name, sep, number = type.partition(":")
            if name not in _DEVICE_TYPES:
                raise RuntimeError(
                    f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of device string: {type}"
                )
            if sep:
                if not number.isdigit() or index is not None:
                    raise RuntimeError(f"Invalid device string: {type!r}")
                index = int(number)
            type = name
        if index is not None and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
            raise RuntimeError(f"Device index must not be negative; got {index!r}")
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "index", index)

    def __setattr__(self, name, value):
        raise AttributeError(f"device.{name} is read-only")

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, device):
            return NotImplemented  # NOTE: device("cpu") == "cpu" is False, as in PyTorch
        return (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return device, (self.type, self.index)


def cuda_device_count() -> int:
    """How many GPUs CuPy sees (0 without CuPy or a driver)."""
    cp = _cupy()
    if cp is None:
        return 0
    try:
        return int(cp.cuda.runtime.getDeviceCount())
    except Exception:  # no driver, no device: CuPy imports but cannot run
        return 0


def device_of(array) -> str:
    """'cpu' for NumPy arrays, 'cuda' for CuPy arrays."""
    return "cpu" if array_module(array) is np else "cuda"


def to_device(array, device: str):
    """Copy an array to 'cpu' (NumPy) or 'cuda' (CuPy); no copy when it is already there. A toynn.device works too."""
    device = str(device)
    if device.startswith("cuda"):
        cp = _cupy()
        if cp is None:
            raise RuntimeError("device 'cuda' needs CuPy: pip install cupy-cuda12x (or the build for your CUDA)")
        return cp.asarray(array)
    # NOTE: a RuntimeError, as PyTorch's; Function.apply would rename a ValueError a ShapeError
    if device not in ("cpu", "cpu:0"):
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
