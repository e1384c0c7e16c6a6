"""Direct convolution, for layers too thin for a GEMM: a compiled loop (toynn/compiled.py) instead of im2col + BLAS.

LeNet-5's first layer (1 input channel, 6 outputs, 5x5) is, as im2col + GEMM, a (6 x 25) @ (25 x 50,176) product,
which OpenBLAS runs at ~22 GFLOP/s (its kernels are built for more rows); the direct loop over wide rows ran it
in 0.80 ms against 1.55 ms on one thread (PyTorch: 0.76 ms). With more output channels or input rows the GEMM
wins (the CIFAR net's 3->32 layer: 5.7 ms direct against 3.5 ms), so only layers within both limits below run
here, and only when the compiled kernels are on. The backward passes keep the im2col + GEMM route.
"""

from __future__ import annotations

import numpy as np

from ..runtime import parallel, scratch

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
    N, C, H, W = x.shape
    O, _, KH, KW = w.shape
    (pt, pb), (pl, pr) = padding
    (dh, dw), (Ho, Wo) = dilation, out_hw
    Hp, Wp = H + pt + pb, W + pl + pr
    tail = dw * (KW - 1)  # the last tap's run reads this far past the last frame
    out = np.empty((O, N, Ho, Wo), dtype=x.dtype)
    b = bias if bias is not None else np.zeros(O, dtype=x.dtype)
    wc = np.ascontiguousarray(w)

    def images(n0, n1):  # this thread's images: frames zero-padded in its scratch buffer, then the loop
        m = n1 - n0
        buf = scratch(np, "direct.frames", (C, m, Hp * Wp + tail), x.dtype)
        buf.fill(0)
        buf[:, :, : Hp * Wp].reshape(C, m, Hp, Wp)[:, :, pt : pt + H, pl : pl + W] = x[n0:n1].transpose(1, 0, 2, 3)
        acc = scratch(np, "direct.acc", (Ho * Wp,), x.dtype)
        k.conv_direct(buf, wc, acc, out[:, n0:n1], b, dh * Wp, dw)

    parallel(images, N, np, DIRECT_PART_IMAGES)
    return out
