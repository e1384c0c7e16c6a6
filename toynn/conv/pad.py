"""Padding with modes (what nn.Conv2d's padding_mode needs): reflect, replicate and circular, and constant
through ops.pad. The adjoint of each mode folds the border of g back onto the cells it copied."""

from __future__ import annotations

from .. import ops
from ..backend import array_module
from ..errors import ShapeError
from ..ops import pad_widths
from ..tensor import Function, Tensor
from .arithmetic import tensors

_NUMPY_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _fold(g, axis: int, lo: int, hi: int, mode: str):
    """The adjoint of padding one axis: add each border cell of g back onto the cell it copied."""
    xp = array_module(g)
    n = g.shape[axis] - lo - hi

    def sl(start, stop, step=None):
        return (slice(None),) * axis + (slice(start, stop, step),)

    gx = g[sl(lo, lo + n)].copy()
    left, right = g[sl(0, lo)], g[sl(lo + n, lo + n + hi)]
    if mode == "reflect":  # pad cell k (< lo) copied cell lo - k; right pad cell k copied n - 2 - k
        if lo:
            gx[sl(1, lo + 1)] += xp.flip(left, axis)
        if hi:
            gx[sl(n - 1 - hi, n - 1)] += xp.flip(right, axis)
    elif mode == "replicate":  # every pad cell copied the edge
        if lo:
            gx[sl(0, 1)] += left.sum(axis=axis, keepdims=True)
        if hi:
            gx[sl(n - 1, n)] += right.sum(axis=axis, keepdims=True)
    else:  # circular: left pad copied the last lo cells, right pad the first hi cells
        if lo:
            gx[sl(n - lo, n)] += left
        if hi:
            gx[sl(0, hi)] += right
    return gx


class PadNd(Function):
    """x padded by reflection, replication or wrap-around; widths ((lo, hi), ...) per axis, NumPy's order."""

    piecewise_linear = True  # see Function: create_graph goes through its backward and jvp

    def forward(self, x, *, widths, mode):
        self.widths, self.mode = widths, mode
        return array_module(x).pad(x, widths, mode=_NUMPY_MODE[mode])

    def backward(self, g):  # the adjoint of a gather of slices is the scatter of the same slices
        for axis, (lo, hi) in enumerate(self.widths):
            if lo or hi:
                g = _fold(g, axis, lo, hi, self.mode)
        return g

    def jvp(self, dx):
        return array_module(dx).pad(dx, self.widths, mode=_NUMPY_MODE[self.mode])


def pad_nd(input: Tensor, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """F.pad with modes 'constant' (or 'zeros'), 'reflect', 'replicate', 'circular'; pad = (left, right, top, ...).

    pad pairs start from the last dimension, as in PyTorch: (left, right) pads W, (top, bottom) pads H.
    """
    (input,) = tensors(input)  # NumPy arrays and lists too: see arithmetic.tensors
    if mode in ("constant", "zeros"):
        return ops.pad(input, pad, "constant", value)
    if mode not in _NUMPY_MODE:
        raise ValueError(f"pad_nd: mode must be 'constant', 'reflect', 'replicate' or 'circular'; got {mode!r}")
    pad = tuple(pad)
    widths = pad_widths("pad_nd", input, pad)  # the same checks as ops.pad
    for axis in reversed(range(input.ndim - len(pad) // 2, input.ndim)):  # the last dim first, as pad lists them
        (lo, hi), n = widths[axis], input.shape[axis]
        if mode == "reflect" and max(lo, hi) >= n:
            rule = f"smaller than the dimension's size {n}"
        elif mode == "circular" and max(lo, hi) > n:
            rule = f"at most the dimension's size {n}"
        elif n == 0:
            rule = "applied to a non-empty dimension"
        else:
            rule = None
        if rule:
            raise ShapeError(
                f"pad_nd: {mode} padding ({lo}, {hi}) of dimension {axis} must be {rule} "
                f"(input.shape={tuple(input.shape)})"
            )
    return PadNd.apply(input, widths=widths, mode=mode)
