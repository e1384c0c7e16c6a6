"""NumPy's names on Tensors: the `xp` a backward rule gets from array_module(g) when g is a Tensor.

A backward rule is written once, against xp = array_module(g) and Python's operators. On the first-order path
g is a raw array and xp is NumPy (or CuPy): nothing is recorded and nothing is slower. With create_graph=True
the walk hands the rule Tensors (see tensor._on_tensors), xp is this module, and the same lines record a graph,
so the gradient can be differentiated again. Only the names that rules use live here; each is a toynn op (or a
constant, for what has a zero derivative: sign, comparisons, masks).
"""

from __future__ import annotations

import numpy as np

from . import ops
from .backend import array_module, to_device
from .tensor import Tensor

# where constants made by a rule (ones, eye) go: the walk sets it to the device of the gradient it propagates
DEVICE = "cpu"


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._wrap(x)


def _const(f, x) -> Tensor:
    """f on the raw array: a value with no derivative (sign, isfinite)."""
    a = _t(x).array
    return Tensor._wrap(f(array_module(a), a))


exp, log, sqrt, sin, cos, tanh, sinh, cosh, abs, maximum, minimum, matmul = (
    ops.exp,
    ops.log,
    ops.sqrt,
    ops.sin,
    ops.cos,
    ops.tanh,
    ops.sinh,
    ops.cosh,
    ops.abs,
    ops.maximum,
    ops.minimum,
    ops.matmul,
)


def _constant(array) -> Tensor:
    return Tensor._wrap(to_device(array, DEVICE))


def ones(shape, dtype=None) -> Tensor:
    return _constant(np.ones(shape, dtype=dtype))


def eye(n: int, dtype=None) -> Tensor:
    return _constant(np.eye(n, dtype=dtype))


def ones_like(x, dtype=None) -> Tensor:
    a = _t(x).array
    return Tensor._wrap(array_module(a).ones_like(a, dtype=dtype))


def sign(x) -> Tensor:
    return _const(lambda xp, a: xp.sign(a), x)


def where(cond, x, y) -> Tensor:
    return ops.where(cond, x, y)


def multiply(x, y) -> Tensor:
    return ops.mul(x, y)


def sum(x, axis=None, keepdims: bool = False) -> Tensor:
    return ops.sum(_t(x), axis, keepdims)


def broadcast_to(x, shape) -> Tensor:
    return ops.broadcast_to(_t(x), tuple(shape))


def expand_dims(x, axis) -> Tensor:
    x = _t(x)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    n = x.ndim + len(axes)
    for a in sorted(a % n for a in axes):
        x = ops.unsqueeze(x, a)
    return x


def reshape(x, shape) -> Tensor:
    return ops.reshape(_t(x), shape)


def transpose(x, axes=None) -> Tensor:
    x = _t(x)
    return ops.permute(x, tuple(range(x.ndim - 1, -1, -1)) if axes is None else tuple(axes))


def swapaxes(x, axis1: int, axis2: int) -> Tensor:
    return ops.transpose(_t(x), axis1, axis2)


def concatenate(xs, axis: int = 0) -> Tensor:
    return ops.cat(list(xs), axis)


def zeros_like(x, dtype=None) -> Tensor:
    a = _t(x).array
    return Tensor._wrap(array_module(a).zeros_like(a, dtype=dtype))


def isfinite(x) -> Tensor:
    return _const(lambda xp, a: xp.isfinite(a), x)


def max(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001  NumPy's name
    return ops.amax(_t(x), axis, keepdims)


def moveaxis(x, source, destination) -> Tensor:
    return ops.movedim(_t(x), source, destination)


def flip(x, axis=None) -> Tensor:
    x = _t(x)
    return ops.flip(x, tuple(range(x.ndim)) if axis is None else axis)


def cumsum(x, axis=None) -> Tensor:
    x = _t(x)
    return ops.cumsum(x.reshape(-1), 0) if axis is None else ops.cumsum(x, axis)


def cumprod(x, axis=None) -> Tensor:
    x = _t(x)
    return ops.cumprod(x.reshape(-1), 0) if axis is None else ops.cumprod(x, axis)


def stack(xs, axis: int = 0) -> Tensor:
    return ops.stack(list(xs), axis)


def einsum(equation: str, *operands, optimize=False) -> Tensor:  # noqa: ARG001  NumPy's keyword, a speed hint
    return ops.einsum(equation, *operands)
