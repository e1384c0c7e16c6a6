"""The convolution of the lecture as plain loops: each output is a window of the input times a kernel, summed.

Slow and readable: NumPy arrays in NCHW (weights OIHW), float64 out, PyTorch's arguments and semantics. The tests
use it as the reference for toynn.conv's fast path (im2col + BLAS), from which it imports nothing.
"""

from __future__ import annotations

import numpy as np


def _pair(v):
    """An int or a pair, as (height, width)."""
    return (v, v) if isinstance(v, int) else tuple(v)


def _taps(start, k, dil):
    """The k cells of a window that starts at `start`, dil apart (dilation spreads the kernel)."""
    return slice(start, start + dil * (k - 1) + 1, dil)


def _conv_padding(padding, kernel, dilation):
    """((top, bottom), (left, right)); 'same' splits d(k-1) cells, the odd one at the bottom / right."""
    if padding == "valid":
        return (0, 0), (0, 0)
    if padding == "same":
        return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation))
    return tuple((p, p) for p in _pair(padding))


def _pool_out(n, k, s, p, d, ceil_mode):
    """floor((n + 2p - d(k-1) - 1) / s) + 1, or ceil in ceil_mode: then the last window must start in the input."""
    o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:  # it would start in the right padding: drop it
        o -= 1
    return o


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o, i, j] = sum(window * weight[o]) + bias[o]. (N, C, H, W), (O, C/G, KH, KW), (O,) -> (N, O, Ho, Wo)."""
    x, w = input, weight
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape  # a kernel sees the Cg = C/G channels of its group
    (sh, sw), (dil_h, dil_w) = _pair(stride), _pair(dilation)
    (pt, pb), (pl, pr) = _conv_padding(padding, (KH, KW), (dil_h, dil_w))
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))  # zeros around each image
    Ho = (H + pt + pb - dil_h * (KH - 1) - 1) // sh + 1
    Wo = (W + pl + pr - dil_w * (KW - 1) - 1) // sw + 1
    y = np.zeros((N, O, Ho, Wo))
    for n in range(N):
        for o in range(O):
            g = o // (O // groups)  # kernels g*O/G .. (g+1)*O/G - 1 read channels g*Cg .. (g+1)*Cg - 1
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, g * Cg : (g + 1) * Cg, _taps(i * sh, KH, dil_h), _taps(j * sw, KW, dil_w)]
                    y[n, o, i, j] = (window * w[o]).sum() + (0.0 if bias is None else bias[o])  # both (Cg, KH, KW)
    return y


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Each input cell adds itself times a kernel to a window of y. (N, C, H, W), (C, O/G, KH, KW) -> (N, O, Ho, Wo)."""
    x, w = input, weight
    N, C, H, W = x.shape
    _, Og, KH, KW = w.shape  # channel c writes to the Og = O/G output channels of its group
    (sh, sw), (ph, pw), (dil_h, dil_w) = _pair(stride), _pair(padding), _pair(dilation)
    ah, aw = _pair(output_padding)
    Cg = C // groups
    # the whole output before `padding` is cut from each border; output_padding adds rows / columns at the end
    y = np.zeros((N, groups * Og, (H - 1) * sh + dil_h * (KH - 1) + 1 + ah, (W - 1) * sw + dil_w * (KW - 1) + 1 + aw))
    for n in range(N):
        for c in range(C):
            g = c // Cg
            for i in range(H):
                for j in range(W):
                    window = y[n, g * Og : (g + 1) * Og, _taps(i * sh, KH, dil_h), _taps(j * sw, KW, dil_w)]
                    window += x[n, c, i, j] * w[c]  # (Og, KH, KW); a view, so this writes into y
    y = y[:, :, ph : y.shape[2] - ph, pw : y.shape[3] - pw]  # Ho = (H-1)s - 2p + d(k-1) + output_padding + 1
    return y if bias is None else y + bias[:, None, None]


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """y = max of each window; the switches index each (H, W) plane flat, r * W + s. (N, C, H, W) -> (N, C, Ho, Wo)."""
    N, C, H, W = input.shape
    (KH, KW), (ph, pw), (dil_h, dil_w) = _pair(kernel_size), _pair(padding), _pair(dilation)
    sh, sw = _pair(kernel_size if stride is None else stride)
    Ho, Wo = _pool_out(H, KH, sh, ph, dil_h, ceil_mode), _pool_out(W, KW, sw, pw, dil_w, ceil_mode)
    x = np.pad(input, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)  # padding never wins
    y, indices = np.zeros((N, C, Ho, Wo)), np.zeros((N, C, Ho, Wo), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    # NOTE: in ceil_mode the last window may stick out of x: slicing stops at x's end
                    window = x[n, c, _taps(i * sh, KH, dil_h), _taps(j * sw, KW, dil_w)]
                    p, q = np.unravel_index(np.argmax(window), window.shape)  # the first maximum, row by row
                    r, s = i * sh + p * dil_h - ph, j * sw + q * dil_w - pw  # its cell in the unpadded input
                    y[n, c, i, j], indices[n, c, i, j] = window[p, q], r * W + s
    return (y, indices) if return_indices else y


def avg_pool2d(
    input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
):
    """y = window sum / its size (with or without padding) or divisor_override. (N, C, H, W) -> (N, C, Ho, Wo)."""
    N, C, H, W = input.shape
    (KH, KW), (ph, pw) = _pair(kernel_size), _pair(padding)
    sh, sw = _pair(kernel_size if stride is None else stride)
    Ho, Wo = _pool_out(H, KH, sh, ph, 1, ceil_mode), _pool_out(W, KW, sw, pw, 1, ceil_mode)
    x = np.pad(input, ((0, 0), (0, 0), (ph, ph), (pw, pw)))  # zeros add nothing to a sum
    y = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    window = x[n, c, i * sh : i * sh + KH, j * sw : j * sw + KW]  # ends at x's end (ceil_mode)
                    r, s = i * sh - ph, j * sw - pw  # the window's first cell in the unpadded input
                    inside = (min(r + KH, H) - max(r, 0)) * (min(s + KW, W) - max(s, 0))
                    divisor = window.size if count_include_pad else inside
                    y[n, c, i, j] = window.sum() / (divisor if divisor_override is None else divisor_override)
    return y


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Zeros, with each value written back at its switch in its (H, W) plane. (N, C, H, W) -> (N, C, Ho, Wo)."""
    x = input
    N, C, H, W = x.shape
    (KH, KW), (ph, pw) = _pair(kernel_size), _pair(padding)
    sh, sw = _pair(kernel_size if stride is None else stride)
    if output_size is None:  # the input size of the max-pool, rounded down
        Ho, Wo = (H - 1) * sh - 2 * ph + KH, (W - 1) * sw - 2 * pw + KW
    else:
        Ho, Wo = output_size[-2:]
    y = np.zeros((N, C, Ho * Wo))  # each plane flat, as the switches count
    for n in range(N):
        for c in range(C):
            for i in range(H):
                for j in range(W):
                    k = indices[n, c, i, j]
                    if not 0 <= k < Ho * Wo:
                        raise IndexError(f"max_unpool2d: switch {k} is outside the {Ho}x{Wo} output")
                    y[n, c, k] = x[n, c, i, j]
    return y.reshape(N, C, Ho, Wo)  # (N, C, Ho * Wo) -> (N, C, Ho, Wo)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """conv2d over images of height 1. (N, C, L), (O, C/G, K), (O,) -> (N, O, Lo)."""
    pad = padding if isinstance(padding, str) else (0, padding)
    return conv2d(input[:, :, None], weight[:, :, None], bias, (1, stride), pad, (1, dilation), groups)[:, :, 0]


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """conv_transpose2d over images of height 1. (N, C, L), (C, O/G, K), (O,) -> (N, O, Lo)."""
    x, w = input[:, :, None], weight[:, :, None]  # (N, C, 1, L), (C, O/G, 1, K)
    return conv_transpose2d(x, w, bias, (1, stride), (0, padding), (0, output_padding), groups, (1, dilation))[:, :, 0]


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """max_pool2d over images of height 1; the switches index each row. (N, C, L) -> (N, C, Lo)."""
    s = kernel_size if stride is None else stride
    y, idx = max_pool2d(input[:, :, None], (1, kernel_size), (1, s), (0, padding), (1, dilation), ceil_mode, True)
    return (y[:, :, 0], idx[:, :, 0]) if return_indices else y[:, :, 0]


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """avg_pool2d over images of height 1. (N, C, L) -> (N, C, Lo)."""
    s = kernel_size if stride is None else stride
    return avg_pool2d(input[:, :, None], (1, kernel_size), (1, s), (0, padding), ceil_mode, count_include_pad)[:, :, 0]
