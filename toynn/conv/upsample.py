"""Interpolation (nearest, linear, bilinear, bicubic, area) with PyTorch's pixel conventions.

Every mode is separable: one 1-D resampling per spatial axis, y = sum_t w_t * x.take(idx_t, axis), a linear
map whose adjoint scatters g * w_t back to idx_t. Nearest upsampling by whole factors is a block repeat,
and its adjoint the block sum.
"""

from __future__ import annotations

import math

import numpy as np

from ..backend import array_module
from ..errors import ShapeError
from ..tensor import Function, Tensor
from .arithmetic import check_tensor, tensors
from .pool import adaptive_avg_pool1d, adaptive_avg_pool2d
from .windows import gather_axis_taps, repeat_blocks, scatter_axis_taps, sum_blocks

MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "area")
_SPATIAL = {"linear": 1, "bilinear": 2, "bicubic": 2}  # the modes tied to one number of spatial dims
_CUBIC_A = -0.75  # PyTorch's (and OpenCV's) bicubic convolution parameter


# axes up to this long resample by one GEMM with the (out, in) weight matrix, cheaper there than gathering each tap
# and scattering back in rounds; on longer axes the matrix's out * in entries cost more than the taps' few per output
DENSE_MAX = 128


def _matrix(idx, wts, n_in: int, dtype):
    """The (out, in) matrix of a resampling: row o holds the weights of the cells that output o reads."""
    a = np.zeros((len(idx[0]), n_in), dtype=dtype)
    rows = np.arange(len(idx[0]))
    for t, i in enumerate(idx):
        a[rows, i] += 1 if wts is None else wts[t]  # NOTE: (row, i[row]) are distinct within one tap
    return a


def _apply_matrix(x, a, axis: int):
    """a applied along axis: x (..., in, W) -> (..., out, W) for the second-to-last axis, or (..., in) -> (..., out)."""
    xp = array_module(x)
    a = xp.asarray(a)
    if axis == x.ndim - 1:
        return x @ a.T  # (..., in) @ (in, out)
    return xp.matmul(a, x)  # (out, in) @ (..., in, W), broadcast over the leading dims


class Resample(Function):
    """y = sum_t w_t * x.take(idx_t, axis): 1-D interpolation along one axis, a linear map A of x.

    Short axes multiply by A (and backward by A^T) with one GEMM; long axes, or arrays holding inf or NaN
    (where 0 * inf would spread NaN across a row), gather the taps and scatter them back.
    """

    piecewise_linear = True  # see Function: create_graph goes through its backward and jvp

    def forward(self, x, *, axis, idx, wts):
        self.axis, self.idx, self.wts, self.n = axis, idx, wts, x.shape[axis]
        self.a = _matrix(idx, wts, self.n, x.dtype) if self.n <= DENSE_MAX else None
        return self._map(x)

    def _map(self, x):
        if self.a is not None and array_module(x).isfinite(x).all():
            return _apply_matrix(x, self.a, self.axis)
        return gather_axis_taps(x, self.axis, self.idx, self.wts)

    def backward(self, g):  # the adjoint: A^T, i.e. the interpolation weights scattered back
        if self.a is not None and array_module(g).isfinite(g).all():
            return _apply_matrix(g, self.a.T, self.axis)
        return scatter_axis_taps(g, self.axis, self.idx, self.wts, self.n)

    def jvp(self, dx):  # linear
        return self._map(dx)


class RepeatBlocks(Function):
    """Nearest upsampling by whole factors: a block repeat. Its adjoint is the block sum."""

    piecewise_linear = True  # see Function: create_graph goes through its backward and jvp

    def forward(self, x, *, factors):
        self.factors = factors
        return repeat_blocks(x, factors)

    def backward(self, g):  # the adjoint of a block repeat is the block sum
        return sum_blocks(g, self.factors)

    def jvp(self, dx):
        return repeat_blocks(dx, self.factors)


# ---------------------------------------------------------------------------------------------
# Source indices and weights along one axis, computed as PyTorch does (in float32 for float32 input)


def _scale(n_in: int, n_out: int, scale, align_corners: bool, dtype):
    """PyTorch's area_pixel_compute_scale: output-to-input coordinate ratio, in dtype."""
    if align_corners:
        return dtype.type(n_in - 1) / dtype.type(n_out - 1) if n_out > 1 else dtype.type(0)
    if scale is not None and scale > 0:
        return dtype.type(1.0 / scale)
    return dtype.type(n_in) / dtype.type(n_out)


def _source(n_in: int, n_out: int, scale, align_corners: bool, cubic: bool, dtype):
    """Real source coordinate of each output cell (PyTorch's area_pixel_compute_source_index)."""
    ratio = _scale(n_in, n_out, scale, align_corners, dtype)
    dst = np.arange(n_out).astype(dtype)
    if align_corners:
        return ratio * dst
    src = ratio * (dst + dtype.type(0.5)) - dtype.type(0.5)
    return src if cubic else np.maximum(src, dtype.type(0))


def _guard(src, n_in: int):
    """Integer cell and fraction: floor (taken in float32, as PyTorch's floorf) capped at n_in - 1."""
    i0 = np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), n_in - 1)
    return i0, np.clip(src - i0.astype(src.dtype), 0, 1).astype(src.dtype)


def _nearest(n_in: int, n_out: int, scale, exact: bool, shortcuts: bool):
    """PyTorch's nearest (floor(dst * scale)) and nearest-exact (floor((dst + 0.5) * scale)) source cells.

    shortcuts: PyTorch's 2-D nearest kernel copies when n_out == n_in and halves when n_out == 2 n_in,
    whatever the scale factor; its 1-D kernel does not.
    """
    dst = np.arange(n_out)
    if shortcuts and not exact and n_out == n_in:
        return dst
    if shortcuts and not exact and n_out == 2 * n_in:
        return dst >> 1
    ratio = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(n_in) / np.float32(n_out)
    src = (dst + 0.5) * np.float64(ratio) if exact else dst.astype(np.float32) * ratio  # float32 arithmetic as in C
    return np.minimum(np.floor(src.astype(np.float32)).astype(np.int64), n_in - 1)


def _cubic_weights(t):
    """Cubic convolution weights of the 4 taps at cell offsets -1, 0, 1, 2 for fraction t (A = -0.75)."""
    A = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _taps(mode: str, n_in: int, n_out: int, scale, align_corners: bool, dtype, nd: int):
    """(idx, wts) for one axis: idx (T, n_out) sorted source cells, wts (T, n_out) in dtype or None (nearest)."""
    if mode in ("nearest", "nearest-exact"):
        return [_nearest(n_in, n_out, scale, mode == "nearest-exact", nd == 2)], None
    if mode in ("linear", "bilinear"):
        if n_out == n_in:  # PyTorch copies: no interpolation, whatever the scale
            return [np.arange(n_out)], None
        i0, lam = _guard(_source(n_in, n_out, scale, align_corners, False, dtype), n_in)
        i1 = i0 + (i0 < n_in - 1)
        return [i0, i1], [(1 - lam).astype(dtype), lam]
    i0, t = _guard(_source(n_in, n_out, scale, align_corners, True, dtype), n_in)
    idx = [np.clip(i0 - 1 + k, 0, n_in - 1) for k in range(4)]
    return idx, [w.astype(dtype) for w in _cubic_weights(t)]


# ---------------------------------------------------------------------------------------------


def _sizes(op, spatial, size, scale_factor, recompute_scale_factor):
    """Output sizes and the scales PyTorch passes to its kernels (None where it uses in / out)."""
    nd = len(spatial)
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: exactly one of size and scale_factor must be given")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an explicit size")
        out = (size,) * nd if isinstance(size, (int, np.integer)) else tuple(size)
        if len(out) != nd:
            raise ValueError(f"{op}: size must be an int or a tuple of {nd} for {nd}-D spatial input; got {size!r}")
        out = tuple(int(v) for v in out)
        scales = (None,) * nd
    else:
        scales = (scale_factor,) * nd if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
        if len(scales) != nd:
            raise ValueError(f"{op}: scale_factor must be a number or a tuple of {nd}; got {scale_factor!r}")
        if min(scales) <= 0:
            raise ValueError(f"{op}: scale_factor must be positive; got {scale_factor!r}")
        out = tuple(math.floor(float(n) * float(s)) for n, s in zip(spatial, scales))
        scales = (None,) * nd if recompute_scale_factor else tuple(float(s) for s in scales)
    if min(out) < 1:
        raise ShapeError(f"{op}: output size {out} must be positive (input {spatial}, scale_factor {scale_factor})")
    return out, scales


def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial dims. (N, C, L) or (N, C, H, W) -> (N, C, *size); size or scale_factor, PyTorch's modes."""
    op = "interpolate"
    (input,) = tensors(input)  # NumPy arrays and lists too: see arithmetic.tensors
    check_tensor(op, "input", input, (3, 4), "(N, C, L) or (N, C, H, W)")
    nd = input.ndim - 2
    if mode not in MODES:
        raise ValueError(f"{op}: mode must be one of {', '.join(MODES)}; got {mode!r}")
    if mode in _SPATIAL and _SPATIAL[mode] != nd:
        raise ShapeError(f"{op}: got {input.ndim}D input, but {mode} mode needs {_SPATIAL[mode] + 2}D input")
    if align_corners is not None and mode not in _SPATIAL:
        raise ValueError(f"{op}: align_corners can only be set with the interpolating modes linear, bilinear, bicubic")
    if antialias:
        raise NotImplementedError(f"{op}: antialias=True is not implemented")
    spatial = input.shape[2:]
    out, scales = _sizes(op, spatial, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        return (adaptive_avg_pool1d if nd == 1 else adaptive_avg_pool2d)(input, out)
    taps = [_taps(mode, n, o, s, bool(align_corners), input.dtype, nd) for n, o, s in zip(spatial, out, scales)]
    if all(
        w is None and o % n == 0 and (i[0] == np.arange(o) // (o // n)).all()
        for (i, w), n, o in zip(taps, spatial, out)
    ):
        return RepeatBlocks.apply(input, factors=tuple(o // n for n, o in zip(spatial, out)))
    y = input
    for axis, ((idx, wts), n, o) in enumerate(zip(taps, spatial, out), start=2):
        if n != o or wts is not None or (idx[0] != np.arange(o)).any():  # an identity axis needs no node
            y = Resample.apply(y, axis=axis, idx=idx, wts=wts)
    return y if y is not input else Resample.apply(input, axis=2, idx=[np.arange(spatial[0])], wts=None)
