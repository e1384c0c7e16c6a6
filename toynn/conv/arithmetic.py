"""Shape arithmetic of convolution and pooling (Dumoulin & Visin's relationships) and argument normalisation."""

from __future__ import annotations

import numbers

import numpy as np

from .. import ops
from ..backend import array_module, get_default_dtype, to_device
from ..errors import ShapeError
from ..tensor import Tensor

KINDS = ("conv", "conv_transpose", "pool")


def tensors(*values) -> tuple:
    """The arguments of a public op as Tensors: the one rule for non-Tensor inputs of conv/ and nn.functional.

    Tensors and None pass through. NumPy (or CuPy) arrays, lists and numbers become constants (no gradient) on the
    device of the first Tensor among the arguments: Python numbers in that Tensor's dtype where it is of the same
    kind or wider (PyTorch's weak scalars: float32 input * 2.0 stays float32), arrays in their own dtype (NumPy
    float64 stays float64, as torch.from_numpy), lists as torch.tensor makes them (floats in the default dtype,
    ints int64). The results then follow the same promotion as the Tensor call.
    """
    if all(v is None or isinstance(v, Tensor) for v in values):  # the hot path: nothing to convert
        return values
    like = next((v for v in values if isinstance(v, Tensor)), None)
    return tuple(_constant(v, like) for v in values)


def _constant(value, like: Tensor | None):
    if value is None or isinstance(value, Tensor):
        return value
    device = like.device if like is not None else None
    if isinstance(value, (bool, int, float)) and like is not None:
        return ops._tensor(value, like)  # the elementwise ops' rule for Python scalars
    if isinstance(value, (list, tuple, bool, int, float)):
        array = np.asarray(value)
        if array.dtype.kind == "f":
            array = array.astype(get_default_dtype())
        elif array.dtype.kind in "iu":
            array = array.astype(np.int64)
    elif hasattr(value, "__array__") or isinstance(value, np.generic):
        array = value if isinstance(value, array_module(value).ndarray) else np.asarray(value)
    else:
        raise TypeError(f"expected a Tensor, a NumPy array, a list or a number; got {type(value).__name__}")
    if device is not None:
        array = to_device(array, device)
    return Tensor._wrap(array)


def ntuple(value, n: int, name: str, op: str) -> tuple[int, ...]:
    """value as a tuple of n ints: an int is repeated, a 1-tuple too (PyTorch's _pair)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return (int(value),) * n
    try:
        items = tuple(value)
    except TypeError:
        items = None
    if items is not None and len(items) == 1:
        items = items * n
    if items is None or len(items) != n or not all(isinstance(v, numbers.Integral) for v in items):
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints; got {value!r}")
    return tuple(int(v) for v in items)


def conv_out(i: int, k: int, s: int = 1, p_lo: int = 0, p_hi: int | None = None, d: int = 1) -> int:
    """Convolution: o = floor((i + p_lo + p_hi - d(k-1) - 1) / s) + 1 (p_hi defaults to p_lo)."""
    p_hi = p_lo if p_hi is None else p_hi
    return (i + p_lo + p_hi - d * (k - 1) - 1) // s + 1


def conv_transpose_out(i: int, k: int, s: int = 1, p: int = 0, d: int = 1, a: int = 0) -> int:
    """Transposed convolution: o = (i-1)s - 2p + d(k-1) + a + 1, a = output_padding."""
    return (i - 1) * s - 2 * p + d * (k - 1) + a + 1


def pool_out(i: int, k: int, s: int, p: int = 0, d: int = 1, ceil_mode: bool = False) -> int:
    """Pooling: conv_out, rounded up in ceil_mode, where the last window must still start inside input or left pad."""
    o = (i + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= i + p:
        o -= 1
    return o


def output_size(
    kind: str,
    input_size,
    kernel_size,
    stride=None,
    padding=0,
    dilation=1,
    output_padding=0,
    ceil_mode: bool = False,
):
    """Spatial output size of 'conv', 'conv_transpose' or 'pool'; ints give an int, tuples a tuple.

    conv:            o = floor((i + 2p - d(k-1) - 1) / s) + 1   (padding 'same' gives i, 'valid' p = 0)
    conv_transpose:  o = (i-1)s - 2p + d(k-1) + output_padding + 1
    pool:            as conv, with ceil instead of floor in ceil_mode (the last window starts inside)
    stride defaults to 1, or to kernel_size for 'pool' (as in max_pool2d).
    """
    if kind not in KINDS:
        raise ValueError(f"output_size: kind must be one of {KINDS}; got {kind!r}")
    scalar = isinstance(input_size, numbers.Integral)
    n = 1 if scalar else len(tuple(input_size))
    i = ntuple(input_size, n, "input_size", "output_size")
    k = ntuple(kernel_size, n, "kernel_size", "output_size")
    s = ntuple(stride if stride is not None else (kernel_size if kind == "pool" else 1), n, "stride", "output_size")
    d = ntuple(dilation, n, "dilation", "output_size")
    a = ntuple(output_padding, n, "output_padding", "output_size")
    if isinstance(padding, str):
        if kind != "conv" or padding not in ("same", "valid"):
            raise ValueError(f"output_size: padding {padding!r} is only defined for kind='conv' ('same' or 'valid')")
        if padding == "same":
            if any(v != 1 for v in s):
                raise ValueError("output_size: padding='same' is not supported for strided convolutions")
            return i[0] if scalar else i
        padding = 0
    p = ntuple(padding, n, "padding", "output_size")
    if kind == "conv":
        out = tuple(conv_out(*v) for v in zip(i, k, s, p, p, d))
    elif kind == "conv_transpose":
        out = tuple(conv_transpose_out(*v) for v in zip(i, k, s, p, d, a))
    else:
        out = tuple(pool_out(*v, ceil_mode) for v in zip(i, k, s, p, d))
    return out[0] if scalar else out


def add_batch(x: Tensor, nd: int) -> tuple[Tensor, bool]:
    """(x, unbatched): unbatched input (C, *spatial) gains a batch dim of 1, as PyTorch allows."""
    return (ops.unsqueeze(x, 0), True) if x.ndim == nd + 1 else (x, False)


def as_2d(t: Tensor, nd: int) -> Tensor:
    """1-D spatial data (..., L) becomes 2-D (..., 1, L), so the 2-D ops serve conv1d and pool1d for free."""
    return ops.unsqueeze(t, -2) if nd == 1 else t


def from_2d(t: Tensor, nd: int, unbatched: bool) -> Tensor:
    """The inverse of as_2d and add_batch: (N, C, 1, L) -> (N, C, L) for 1-D, and the batch dim dropped again."""
    if nd == 1:
        t = ops.squeeze(t, -2)
    return ops.squeeze(t, 0) if unbatched else t


def dims(shape) -> str:
    """A spatial size as the lecture writes it: 28x28."""
    return "x".join(str(v) for v in shape)


def channels(n: int) -> str:
    return f"{n} channel" if n == 1 else f"{n} channels"


def check_tensor(op: str, name: str, x, ndims: tuple[int, ...], what: str) -> None:
    """x must be a floating-point Tensor with one of the given numbers of dimensions."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor; got {type(x).__name__}")
    if x.ndim not in ndims:
        expected = " or ".join(f"{n}-D" for n in ndims)
        raise ShapeError(f"{op}: {name} must be {expected} {what}; got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be floating point; got {x.dtype} (convert it with .float())")


def check_same_dtype(op: str, name: str, t: Tensor, x: Tensor) -> None:
    if t.dtype != x.dtype:
        raise TypeError(f"{op}: {name} is {t.dtype} but input is {x.dtype}; convert it with .to({x.dtype})")


def check_positive(op: str, **values) -> None:
    """Strides, dilations and kernel sizes must be >= 1."""
    for name, v in values.items():
        if min(v) < 1:
            raise ValueError(f"{op}: {name} must be positive; got {v}")


def check_nonnegative(op: str, **values) -> None:
    for name, v in values.items():
        if min(v) < 0:
            raise ValueError(f"{op}: {name} must be non-negative; got {v}")
