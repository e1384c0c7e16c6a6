"""Naive references for the spatial ops: explicit loops over every output cell and tap, float64 NumPy.

Slow and obviously right, for tiny shapes only. They share no code with toynn.conv: each one is the
definition of its op written out (PyTorch's conventions for windows, padding, indices and pixel centres).
"""

from __future__ import annotations

import math

import numpy as np


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o, i, j] = b[o] + sum_{c, p, q} x[n, g*Cg + c, i*s + p*d - pad, j*s + q*d - pad] w[o, c, p, q]."""
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    (sh, sw), (dh, dw) = _pair(stride), _pair(dilation)
    if padding == "same":
        pads = [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in ((KH, dh), (KW, dw))]
    elif padding == "valid":
        pads = [(0, 0), (0, 0)]
    else:
        pads = [(p, p) for p in _pair(padding)]
    (pt, pb), (pl, pr) = pads
    Ho = (H + pt + pb - dh * (KH - 1) - 1) // sh + 1
    Wo = (W + pl + pr - dw * (KW - 1) - 1) // sw + 1
    Og = O // groups
    y = np.zeros((N, O, Ho, Wo))
    for n in range(N):
        for o in range(O):
            g = o // Og
            for i in range(Ho):
                for j in range(Wo):
                    acc = 0.0 if b is None else b[o]
                    for c in range(Cg):
                        for p in range(KH):
                            for q in range(KW):
                                r, s = i * sh + p * dh - pt, j * sw + q * dw - pl
                                if 0 <= r < H and 0 <= s < W:
                                    acc += x[n, g * Cg + c, r, s] * w[o, c, p, q]
                    y[n, o, i, j] = acc
    return y


def conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Each input cell scatters x * kernel: y[n, o, i*s + p*d - pad, j*s + q*d - pad] += x[n, c, i, j] w[c, o, p, q]."""
    N, Cin, H, W = x.shape
    _, Og, KH, KW = w.shape
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    ah, aw = _pair(output_padding)
    Ho = (H - 1) * sh - 2 * ph + dh * (KH - 1) + ah + 1
    Wo = (W - 1) * sw - 2 * pw + dw * (KW - 1) + aw + 1
    Cg = Cin // groups
    y = np.zeros((N, Og * groups, Ho, Wo))
    for n in range(N):
        for c in range(Cin):
            g = c // Cg
            for i in range(H):
                for j in range(W):
                    for o in range(Og):
                        for p in range(KH):
                            for q in range(KW):
                                r, s = i * sh + p * dh - ph, j * sw + q * dw - pw
                                if 0 <= r < Ho and 0 <= s < Wo:
                                    y[n, g * Og + o, r, s] += x[n, c, i, j] * w[c, o, p, q]
    if b is not None:
        y += np.asarray(b)[None, :, None, None]
    return y


def conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """conv2d over a height of 1."""
    pad = padding if isinstance(padding, str) else (0, padding)
    return conv2d(x[:, :, None], w[:, :, None], b, (1, stride), pad, (1, dilation), groups)[:, :, 0]


def conv_transpose1d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """conv_transpose2d over a height of 1."""
    return conv_transpose2d(
        x[:, :, None], w[:, :, None], b, (1, stride), (0, padding), (0, output_padding), groups, (1, dilation)
    )[:, :, 0]


def _pool_out(n, k, s, p, d, ceil_mode):
    o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over the in-bounds cells of each window, scanned row by row; the first maximum wins."""
    N, C, H, W = x.shape
    KH, KW = _pair(kernel_size)
    sh, sw = _pair(stride if stride is not None else kernel_size)
    (ph, pw), (dh, dw) = _pair(padding), _pair(dilation)
    Ho, Wo = _pool_out(H, KH, sh, ph, dh, ceil_mode), _pool_out(W, KW, sw, pw, dw, ceil_mode)
    y = np.zeros((N, C, Ho, Wo))
    idx = np.zeros((N, C, Ho, Wo), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    best, arg = -math.inf, -1
                    for p in range(KH):
                        for q in range(KW):
                            r, s = i * sh - ph + p * dh, j * sw - pw + q * dw
                            if 0 <= r < H and 0 <= s < W and x[n, c, r, s] > best:
                                best, arg = x[n, c, r, s], r * W + s
                    y[n, c, i, j], idx[n, c, i, j] = best, arg
    return (y, idx) if return_indices else y


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None):
    """Window sum / divisor; the window may stick out into the padding and (ceil_mode) past it."""
    N, C, H, W = x.shape
    KH, KW = _pair(kernel_size)
    sh, sw = _pair(stride if stride is not None else kernel_size)
    ph, pw = _pair(padding)
    Ho, Wo = _pool_out(H, KH, sh, ph, 1, ceil_mode), _pool_out(W, KW, sw, pw, 1, ceil_mode)
    y = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            r0, s0 = i * sh - ph, j * sw - pw
            r1, s1 = min(r0 + KH, H + ph), min(s0 + KW, W + pw)
            size_with_pad = (r1 - r0) * (s1 - s0)
            r0, s0, r1, s1 = max(r0, 0), max(s0, 0), min(r1, H), min(s1, W)
            total = x[:, :, r0:r1, s0:s1].sum(axis=(2, 3))
            if divisor_override is not None:
                div = divisor_override
            else:
                div = size_with_pad if count_include_pad else (r1 - r0) * (s1 - s0)
            y[:, :, i, j] = total / div
    return y


def max_pool1d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    s = stride if stride is not None else kernel_size
    y, idx = max_pool2d(x[:, :, None], (1, kernel_size), (1, s), (0, padding), (1, dilation), ceil_mode, True)
    return (y[:, :, 0], idx[:, :, 0]) if return_indices else y[:, :, 0]


def avg_pool1d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    s = stride if stride is not None else kernel_size
    return avg_pool2d(x[:, :, None], (1, kernel_size), (1, s), (0, padding), ceil_mode, count_include_pad)[:, :, 0]


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


def max_unpool2d(x, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Zeros, with each value written at its flat index into its (H, W) plane."""
    N, C, H, W = x.shape
    KH, KW = _pair(kernel_size)
    sh, sw = _pair(stride if stride is not None else kernel_size)
    ph, pw = _pair(padding)
    if output_size is None:
        Ho, Wo = (H - 1) * sh - 2 * ph + KH, (W - 1) * sw - 2 * pw + KW
    else:
        Ho, Wo = output_size[-2:]
    y = np.zeros((N, C, Ho * Wo))
    for n in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    y[n, c, indices[n, c, i, j]] = x[n, c, i, j]
    return y.reshape(N, C, Ho, Wo)


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
