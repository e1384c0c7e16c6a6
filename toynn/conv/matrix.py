"""Convolution as linear algebra: the convolution matrix C of a kernel (conv = C @ x, its transpose = C.T @ y)
and the rank-1 (spatially separable) factorisation of a kernel."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..backend import to_device
from ..tensor import Tensor
from .arithmetic import conv_out, ntuple

DENSE_LIMIT = 1 << 22  # sparse=None switches to scipy.sparse above this many matrix entries


def _array(kernel) -> np.ndarray:
    """A kernel given as a Tensor, an array or nested lists, as a float64 NumPy array."""
    data = to_device(kernel.array, "cpu") if isinstance(kernel, Tensor) else kernel
    return np.asarray(data, dtype=np.float64)


class Separable(NamedTuple):
    """kernel ≈ outer(col, row); residual = kernel - outer(col, row) (zero when the kernel has rank 1)."""

    col: np.ndarray
    row: np.ndarray
    residual: np.ndarray
    exact: bool


def separate(kernel, rtol: float = 1e-12) -> Separable:
    """The best rank-1 factorisation kernel ≈ col ⊗ row, by SVD. kernel (KH, KW) -> col (KH,), row (KW,).

    col is the rank-1 kernel's column through its largest entry, scaled so its smallest non-zero entry is +-1;
    the vector with the larger |sum| (the smoothing one) is made to sum positive. A rank-1 kernel is
    factorised from its own entries, without SVD rounding, so Sobel [[-1,0,1],[-2,0,2],[-1,0,1]] gives
    exactly [1,2,1] and [-1,0,1], and its transpose [-1,0,1] and [1,2,1].
    """
    k = _array(kernel)
    if k.ndim != 2 or k.size == 0:
        raise ValueError(f"separate: kernel must be a non-empty 2-D array; got shape {tuple(k.shape)}")
    s = np.linalg.svd(k, compute_uv=False)
    exact = s[0] == 0 or (len(s) < 2 or s[1] <= rtol * s[0])
    if exact:
        rank1 = k  # already rank 1: factorise the entries themselves, with no rounding from the SVD
    else:
        u, s, vt = np.linalg.svd(k)
        rank1 = s[0] * np.outer(u[:, 0], vt[0])
    i, j = np.unravel_index(np.abs(rank1).argmax(), rank1.shape)
    if rank1[i, j] == 0:
        col, row = np.zeros(k.shape[0]), np.zeros(k.shape[1])
    else:
        col = rank1[:, j] / np.abs(rank1[:, j][rank1[:, j] != 0]).min()  # smallest non-zero entry +-1
        row = rank1[i, :] / col[i]
    # the sign: the vector with the larger |sum| (the smoothing one, for Sobel) sums to a positive number
    lead = col if abs(col.sum()) >= abs(row.sum()) else row
    flip = lead.sum() < 0 if lead.sum() != 0 else col[np.flatnonzero(col)[0]] < 0 if col.any() else False
    if flip:
        col, row = -col, -row
    return Separable(col, row, k - np.outer(col, row), bool(exact))


def conv_matrix(kernel, input_size, stride=1, padding=0, dilation=1, sparse: bool | None = None):
    """The matrix C of conv2d with one single-channel kernel: C @ x.ravel() == conv2d(x, kernel).ravel().

    kernel (KH, KW), input (H, W) -> C (Ho*Wo, H*W), and C.T @ y.ravel() == conv_transpose2d(y, kernel).ravel().
    Dense NumPy, or scipy.sparse CSR when sparse=True (or sparse=None, SciPy is present and C is large).
    The lecture's 3x3 input with a 2x2 kernel gives a 4x9 matrix.
    """
    k = _array(kernel)
    if k.ndim != 2:
        raise ValueError(f"conv_matrix: kernel must be 2-D (KH, KW), one channel; got shape {tuple(k.shape)}")
    op = "conv_matrix"
    (H, W), (sh, sw) = ntuple(input_size, 2, "input_size", op), ntuple(stride, 2, "stride", op)
    (ph, pw), (dh, dw) = ntuple(padding, 2, "padding", op), ntuple(dilation, 2, "dilation", op)
    KH, KW = k.shape
    Ho, Wo = conv_out(H, KH, sh, ph, ph, dh), conv_out(W, KW, sw, pw, pw, dw)
    if min(Ho, Wo, H, W) < 1:
        raise ValueError(f"conv_matrix: output would be empty: input {H}x{W}, kernel {KH}x{KW} -> {Ho}x{Wo}")
    # every (output cell, tap) pair at once: (Ho, Wo, KH, KW) input coordinates
    ih = (np.arange(Ho) * sh - ph)[:, None, None, None] + (np.arange(KH) * dh)[None, None, :, None]
    iw = (np.arange(Wo) * sw - pw)[None, :, None, None] + (np.arange(KW) * dw)[None, None, None, :]
    ih, iw = np.broadcast_arrays(ih, iw)
    rows = np.broadcast_to((np.arange(Ho)[:, None] * Wo + np.arange(Wo)[None, :])[:, :, None, None], ih.shape)
    vals = np.broadcast_to(k, ih.shape)
    inside = (ih >= 0) & (ih < H) & (iw >= 0) & (iw < W)  # taps on the padding multiply zeros: no entry
    rows, cols, vals = rows[inside], (ih * W + iw)[inside], vals[inside]
    if sparse is None:
        try:
            import scipy.sparse  # noqa: F401
        except ImportError:
            sparse = False
        else:
            sparse = Ho * Wo * H * W > DENSE_LIMIT
    if sparse:
        try:
            import scipy.sparse
        except ImportError:
            raise ImportError("conv_matrix: sparse=True needs SciPy: pip install scipy") from None
        return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(Ho * Wo, H * W))
    c = np.zeros((Ho * Wo, H * W))
    c[rows, cols] = vals  # distinct taps of one output read distinct inputs: no repeated (row, col)
    return c
