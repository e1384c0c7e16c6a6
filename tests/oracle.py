"""Naive references for the spatial ops: explicit loops over every output cell and tap, float64 NumPy.

Slow and obviously right, for tiny shapes only. They share no code with toynn.conv's fast path: each one is the
definition of its op written out (PyTorch's conventions for windows, padding, indices and pixel centres).
Convolution, pooling and unpooling are the library's own loops, toynn.conv.reference (checked against PyTorch
in tests/test_reference.py), re-exported here; adaptive pooling, interpolation and padding modes live below.
"""

from __future__ import annotations

import math

import numpy as np

from toynn.conv.reference import (  # noqa: F401  the tests' references for convolution and pooling
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    max_pool1d,
    max_pool2d,
    max_unpool2d,
)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _adaptive_windows(n, out):
    """Window o covers [floor(o n / out), ceil((o + 1) n / out))."""
    return [(o * n // out, -(-(o + 1) * n // out)) for o in range(out)]


def adaptive_avg_pool2d(x, output_size):
    N, C, H, W = x.shape
    Ho, Wo = _pair(output_size)
    y = np.zeros((N, C, Ho, Wo))
    for i, (r0, r1) in enumerate(_adaptive_windows(H, Ho)):
        for j, (s0, s1) in enumerate(_adaptive_windows(W, Wo)):
            y[:, :, i, j] = x[:, :, r0:r1, s0:s1].mean(axis=(2, 3))
    return y


def adaptive_max_pool2d(x, output_size, return_indices=False):
    N, C, H, W = x.shape
    Ho, Wo = _pair(output_size)
    y, idx = np.zeros((N, C, Ho, Wo)), np.zeros((N, C, Ho, Wo), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for i, (r0, r1) in enumerate(_adaptive_windows(H, Ho)):
                for j, (s0, s1) in enumerate(_adaptive_windows(W, Wo)):
                    best, arg = -math.inf, -1
                    for r in range(r0, r1):
                        for s in range(s0, s1):
                            if x[n, c, r, s] > best:
                                best, arg = x[n, c, r, s], r * W + s
                    y[n, c, i, j], idx[n, c, i, j] = best, arg
    return (y, idx) if return_indices else y


# ---------------------------------------------------------------------------------------------
# Interpolation, output cell by output cell, with PyTorch's source-coordinate formulas


def _nearest_source(n_in, n_out, scale, exact, shortcuts):
    """Source cell of each output: floor(o * ratio) (nearest) or floor((o + 0.5) * ratio), ratio in float32."""
    if shortcuts and not exact and n_out == n_in:
        return list(range(n_out))
    if shortcuts and not exact and n_out == 2 * n_in:
        return [o // 2 for o in range(n_out)]
    ratio = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
    cells = []
    for o in range(n_out):
        src = np.float32((o + 0.5) * float(ratio)) if exact else np.float32(o) * ratio
        cells.append(min(int(math.floor(src)), n_in - 1))
    return cells


def _linear_source(n_in, n_out, scale, align_corners, cubic):
    """Real source coordinate of each output cell: pixel centres, or corners with align_corners."""
    if align_corners:
        ratio = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        return [ratio * o for o in range(n_out)]
    ratio = 1.0 / scale if scale else n_in / n_out
    src = [ratio * (o + 0.5) - 0.5 for o in range(n_out)]
    return src if cubic else [max(s, 0.0) for s in src]


def _linear_cells(n_in, n_out, scale, align_corners):
    """(cell0, cell1, weight of cell1) of each output cell; output == input copies, as PyTorch does."""
    if n_out == n_in:
        return [(o, o, 0.0) for o in range(n_out)]
    cells = []
    for src in _linear_source(n_in, n_out, scale, align_corners, False):
        c0 = min(math.floor(src), n_in - 1)
        cells.append((c0, c0 + (1 if c0 < n_in - 1 else 0), min(max(src - c0, 0.0), 1.0)))
    return cells


def _cubic(t, A=-0.75):
    """Keys' cubic convolution weights for the cells at offsets -1, 0, 1, 2."""

    def near(v):
        return ((A + 2) * v - (A + 3)) * v * v + 1

    def far(v):
        return ((A * v - 5 * A) * v + 8 * A) * v - 4 * A

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def interpolate(x, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Each output cell from its source cells: nearest copies one, (bi)linear mixes 2 (x 2), bicubic 4 x 4."""
    spatial = x.shape[2:]
    nd = len(spatial)
    if size is not None:
        out = (size,) * nd if isinstance(size, int) else tuple(size)
        scales = (None,) * nd
    else:
        scales = (scale_factor,) * nd if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
        out = tuple(math.floor(n * s) for n, s in zip(spatial, scales))
    if mode in ("nearest", "nearest-exact"):
        y = x
        for axis, (n, o, s) in enumerate(zip(spatial, out, scales), start=2):
            src = _nearest_source(n, o, s, mode == "nearest-exact", nd == 2)
            y = np.stack([np.take(y, c, axis=axis) for c in src], axis=axis)
        return y
    if mode == "linear":  # one row of a bilinear image
        scale = None if scales[0] is None else (1.0, scales[0])
        return interpolate(x[:, :, None], None if scale else (1, out[0]), scale, "bilinear", align_corners)[:, :, 0]
    N, C = x.shape[:2]
    (H, W), (Ho, Wo) = spatial, out
    y = np.zeros((N, C, Ho, Wo))
    if mode == "bilinear":
        rows = _linear_cells(H, Ho, scales[0], bool(align_corners))
        cols = _linear_cells(W, Wo, scales[1], bool(align_corners))
        for i, (r0, r1, lr) in enumerate(rows):
            for j, (c0, c1, lc) in enumerate(cols):
                top = (1 - lc) * x[:, :, r0, c0] + lc * x[:, :, r0, c1]
                bottom = (1 - lc) * x[:, :, r1, c0] + lc * x[:, :, r1, c1]
                y[:, :, i, j] = (1 - lr) * top + lr * bottom
        return y
    rows = _linear_source(H, Ho, scales[0], bool(align_corners), True)
    cols = _linear_source(W, Wo, scales[1], bool(align_corners), True)
    for i, sr in enumerate(rows):
        r = min(math.floor(sr), H - 1)
        tr = min(max(sr - r, 0.0), 1.0)
        for j, sc in enumerate(cols):
            c = min(math.floor(sc), W - 1)
            tc = min(max(sc - c, 0.0), 1.0)
            for a, wa in enumerate(_cubic(tr)):
                for b, wb in enumerate(_cubic(tc)):
                    rr, cc = min(max(r - 1 + a, 0), H - 1), min(max(c - 1 + b, 0), W - 1)  # borders clamp
                    y[:, :, i, j] += wa * wb * x[:, :, rr, cc]
    return y


# ---------------------------------------------------------------------------------------------
# Padding modes, cell by cell


def _source_cell(k, n, mode):
    """The cell of an axis of length n that padded position k (k < 0 or k >= n in the border) copies."""
    if mode == "reflect":
        return -k if k < 0 else (2 * (n - 1) - k if k >= n else k)
    if mode == "replicate":
        return min(max(k, 0), n - 1)
    return k % n  # circular


def pad(x, pad, mode):
    """F.pad with a non-constant mode: pad = (left, right, top, bottom, ...) from the last dim."""
    y = x
    for i in range(len(pad) // 2):
        axis = x.ndim - 1 - i
        lo, hi, n = pad[2 * i], pad[2 * i + 1], y.shape[axis]
        y = np.take(y, [_source_cell(k, n, mode) for k in range(-lo, n + hi)], axis=axis)
    return y
