"""Making tensors: from data, filled, ranges, and random numbers from one seeded generator."""

from __future__ import annotations

import numpy as np

from .backend import get_default_dtype, to_device
from .tensor import Tensor

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed toynn's random numbers (rand, randn, init, dropout, shuffling) for reproducible runs."""
    # NOTE: reseeded in place, so loaders and layers holding the generator see the new seed
    _generator.bit_generator.state = np.random.PCG64(seed).state


def default_generator() -> np.random.Generator:
    """The NumPy generator behind toynn's random numbers."""
    return _generator


def _make(array, dtype, device, requires_grad) -> Tensor:
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    if device is not None:
        array = to_device(array, device)
    return Tensor(array, requires_grad=requires_grad)


def _size(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(size)


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of data: Python floats become float32, ints int64, arrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data.array
    on_gpu = hasattr(data, "__cuda_array_interface__")
    if on_gpu and device is None:
        device = "cuda"  # as torch.tensor(cuda_tensor): the copy stays on the data's device
    array = np.array(to_device(data, "cpu") if on_gpu else data)
    if dtype is None and not on_gpu and not isinstance(_first_leaf(data), (np.ndarray, np.generic)):
        if array.dtype.kind == "f":
            dtype = get_default_dtype()  # Python floats become float32; NumPy arrays and scalars keep theirs
        elif array.dtype.kind in "iu":
            dtype = np.int64
    return _make(array, dtype, device, requires_grad)


def _first_leaf(data):
    """The first element of nested lists, or data itself: it decides whether NumPy dtypes are kept."""
    while isinstance(data, (list, tuple)) and data:
        data = data[0]
    return data


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_size(size), dtype=dtype or get_default_dtype()), None, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_size(size), dtype=dtype or get_default_dtype()), None, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    if dtype is None:
        dtype = get_default_dtype() if isinstance(fill_value, float) else np.asarray(fill_value).dtype
    return _make(np.full(tuple(size), fill_value, dtype=dtype), None, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Values from start to end (exclusive) by step; int64 for integer arguments, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else get_default_dtype()
    return _make(np.arange(start, end, step, dtype=dtype), None, device, requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _make(np.eye(n, m, dtype=dtype or get_default_dtype()), None, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Uniform random numbers in [0, 1)."""
    dtype = np.dtype(dtype or get_default_dtype())
    array = (generator or _generator).random(_size(size), dtype=dtype)
    return _make(array, None, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Standard normal random numbers."""
    dtype = np.dtype(dtype or get_default_dtype())
    array = (generator or _generator).standard_normal(_size(size), dtype=dtype)
    return _make(array, None, device, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None, generator=None) -> Tensor:
    """Random integers in [low, high)."""
    if high is None:
        low, high = 0, low
    array = (generator or _generator).integers(low, high, size=tuple(size), dtype=dtype or np.int64)
    return _make(array, None, device, False)


def randperm(n: int, dtype=None, device=None, generator=None) -> Tensor:
    return _make((generator or _generator).permutation(n).astype(dtype or np.int64), None, device, False)


def _like(x: Tensor, fill, dtype, device, requires_grad) -> Tensor:
    out = fill(x.shape, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)
    return out


def zeros_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(x, zeros, dtype, device, requires_grad)


def ones_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(x, ones, dtype, device, requires_grad)


def full_like(x: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return full(x.shape, fill_value, dtype=dtype or x.dtype, device=device or x.device, requires_grad=requires_grad)


def rand_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(x, rand, dtype, device, requires_grad)


def randn_like(x: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(x, randn, dtype, device, requires_grad)


def from_numpy(array) -> Tensor:
    """A tensor sharing memory with a NumPy array (no copy, dtype kept)."""
    return Tensor(np.asarray(array))
