"""Direct convolution, for layers too thin for a GEMM: a compiled loop (toynn/compiled.py) instead of im2col + BLAS.

LeNet-5's first layer (1 input channel, 6 outputs, 5x5) is, as im2col + GEMM, a (6 x 25) @ (25 x 50,176) product,
which OpenBLAS runs at ~22 GFLOP/s (its kernels are built for more rows); the direct loop over wide rows ran it
in 0.80 ms against 1.55 ms on one thread (PyTorch: 0.76 ms), and its weight gradient, a (25 x 50,176) @
(50,176 x 6) product, as dot products over the same wide rows. With more output channels or input rows the GEMM
wins (the CIFAR net's 3->32 layer: 5.7 ms direct against 3.5 ms), so only layers within both limits below run
here, and only when the compiled kernels are on. The data gradient keeps the im2col + GEMM route (a first layer
rarely needs one).
"""

from __future__ import annotations

import numpy as np

from ..runtime import parallel, scratch
from .gemm import sum_terms

# a stride-1, ungrouped conv runs directly when it has at most this many output channels (rows of the GEMM) ...
DIRECT_MAX_OUT = 8
# ... and at most this many input rows per output (C*KH*KW, the GEMM's inner dimension)
DIRECT_MAX_ROWS = 32
# images per part when the batch splits across threads: enough work to outweigh a hand-off (a LeNet-5 image's
# first layer is ~0.1 M multiply-adds)
DIRECT_PART_IMAGES = 32


def pays(x_shape, w_shape, stride, padding, groups) -> bool:
    """Whether conv(x, w) should run directly (see the module's docstring)."""
    O, Cg, KH, KW = w_shape
    no_crop = all(p >= 0 for pair in padding for p in pair)
    return stride == (1, 1) and groups == 1 and no_crop and O <= DIRECT_MAX_OUT and Cg * KH * KW <= DIRECT_MAX_ROWS


def conv(k, x, w, padding, dilation, out_hw, bias):
    """(O, N, Ho, Wo), channels first: the stride-1 conv of x (N, C, H, W) with w (O, C, KH, KW) (+ bias), by the
    compiled kernel k.conv_direct, images split across threads in parts of DIRECT_PART_IMAGES."""
    N, W = x.shape[0], x.shape[3]
    O, _, KH, KW = w.shape
    (_, (pl, pr)), (dh, dw), (Ho, Wo) = padding, dilation, out_hw
    Wp = W + pl + pr
    tail = dw * (KW - 1)  # the last tap's run reads this far past the last frame
    out = np.empty((O, N, Ho, Wo), dtype=x.dtype)
    b = bias if bias is not None else np.zeros(O, dtype=x.dtype)
    wc = np.ascontiguousarray(w)

    def images(n0, n1):  # this thread's images: their padded frames, then the loop
        acc = scratch(np, "direct.acc", (Ho * Wp,), x.dtype)
        k.conv_direct(_frames(x, n0, n1, padding, tail), wc, acc, out[:, n0:n1], b, dh * Wp, dw)

    parallel(images, N, np, DIRECT_PART_IMAGES)
    return out


def weight_adjoint(k, g, x, w_shape, padding, dilation):
    """gw (O, C, KH, KW), conv's weight gradient for the layers conv() runs: g (N, O, Ho, Wo), x (N, C, H, W).
    Each thread sums its images' dot products (k.conv_direct_weight); the threads' terms add in order."""
    N, W = x.shape[0], x.shape[3]
    O, _, KH, KW = w_shape
    (_, (pl, pr)), (dh, dw), (Ho, Wo) = padding, dilation, g.shape[2:]
    Wp = W + pl + pr

    def images(n0, n1):
        m = n1 - n0
        gw = np.zeros(w_shape, dtype=g.dtype)
        rows = scratch(np, "direct.g", (O, m, Ho, Wp), g.dtype)  # g in wide rows, zero past Wo
        rows[..., :Wo] = g[n0:n1].transpose(1, 0, 2, 3)
        rows[..., Wo:] = 0
        frames = _frames(x, n0, n1, padding, dw * (KW - 1))
        k.conv_direct_weight(frames, rows.reshape(O, m, Ho * Wp), gw, dh * Wp, dw)
        return gw

    return sum_terms(parallel(images, N, np, DIRECT_PART_IMAGES), np)


def _frames(x, n0, n1, padding, tail):
    """Images n0..n1 of x (N, C, H, W) zero-padded, flat per channel and image: (C, m, Hp*Wp + tail), in this
    thread's scratch buffer (zeroed each call: another op may have left it dirty)."""
    (pt, pb), (pl, pr) = padding
    C, H, W = x.shape[1:]
    m, Hp, Wp = n1 - n0, H + pt + pb, W + pl + pr
    buf = scratch(np, "direct.frames", (C, m, Hp * Wp + tail), x.dtype)
    buf.fill(0)
    buf[:, :, : Hp * Wp].reshape(C, m, Hp, Wp)[:, :, pt : pt + H, pl : pl + W] = x[n0:n1].transpose(1, 0, 2, 3)
    return buf
