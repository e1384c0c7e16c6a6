"""Convolution: three array helpers (conv, its data adjoint, its weight adjoint), the Conv2d and
ConvTranspose2d Functions built from them as an adjoint pair, and the public conv functions.

Inside, activations are laid out channels first, (C, N, H, W): each GEMM then writes or reads one
contiguous block. Outputs are returned as (N, C, H, W) views of that memory; NumPy's elementwise ops
keep the layout, so the next conv finds its input already channels first and copies nothing.
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..backend import array_module
from ..errors import ShapeError
from ..runtime import get_num_threads, parallel, scratch
from ..tensor import Function, Tensor
from .arithmetic import (
    channels,
    check_nonnegative,
    check_positive,
    check_same_dtype,
    check_tensor,
    conv_out,
    conv_transpose_out,
    dims,
    ntuple,
)

# im2col columns are built a few images at a time, so that they (and the chunk's other work arrays: outputs,
# copies of g or x) stay in cache between the copy and the GEMMs: CHUNK_BYTES is their total per chunk
CHUNK_BYTES = 1 << 21
# stride-1 data adjoints run as a conv of g unless its columns would be this many times col2im's
FLIP_RATIO = 1.5
# a conv's two adjoints share one im2col of g unless its output channels are more than this many times its inputs
SHARE_RATIO = 2
# convs (and adjoints) of fewer multiply-adds run whole on the calling thread: a hand-off to another thread costs
# ~0.07 ms, about what splitting saves at this size (LeNet-5's convs at batch 16, 2-4M multiply-adds, ran 1.3-1.6x
# faster whole; at 7.5M and up, split ran faster)
SPLIT_MACS = 1 << 22
# im2col columns of fewer rows than this are built with narrow rows (see _row_width)
WIDE_MIN_ROWS = 32


def _crop_or_pad(n: int, lo: int, hi: int) -> tuple[slice, slice]:
    """Source and destination slices that copy an axis of length n into one padded by lo, hi (negative crops)."""
    src = slice(max(-lo, 0), n - max(-hi, 0))
    start = max(lo, 0)
    return src, slice(start, start + src.stop - src.start)


def _tap(i: int, dil: int, stride: int, n_out: int) -> slice:
    """Rows (or columns) that kernel tap i reads for n_out outputs: i*dil, i*dil + stride, ..."""
    return slice(i * dil, i * dil + stride * (n_out - 1) + 1, stride)


def _row_width(W: int, padding, stride, out_w: int, rows: int) -> int:
    """Width of each output row in the columns: the padded width Wp for stride 1 ("wide" rows), else Wo.

    Wide rows make each tap's copy one contiguous run of Ho*Wp values per channel and image, instead of Ho
    runs of Wo: the copies then run near memcpy speed. The Wp - Wo extra outputs per row are dropped; they
    cost GEMM work, so rows stay narrow when they would more than double, and when the columns have fewer than
    WIDE_MIN_ROWS rows (C*KH*KW): copying those few is cheap, and LeNet-5's first conv (25 rows) ran its forward
    in 0.47 ms narrow against 0.82 ms wide.
    """
    Wp = W + padding[1][0] + padding[1][1]
    return Wp if stride == (1, 1) and Wp - out_w <= out_w and rows >= WIDE_MIN_ROWS else out_w


def _chunk_images(N: int, image_bytes: int) -> int:
    """Images per im2col chunk: as many as fit CHUNK_BYTES, evened out so that every thread gets as many chunks.

    NOTE: the chunks depend on N, the sizes and the thread count only, not on the array module, so that sums over
    chunks (the weight gradient) add in the same order on the CPU, split across threads or not, and on a GPU.
    """
    threads = get_num_threads()
    chunks = -(-N // max(1, min(N, CHUNK_BYTES // max(1, image_bytes))))
    chunks = min(N, -(-chunks // threads) * threads)
    return -(-N // chunks)


def _split(N: int, nb: int, macs: int) -> int:
    """parallel()'s step for an op of `macs` multiply-adds over N images in chunks of nb: nb, or N (one part) when
    the op is too small to split. The chunks stay the same either way, so the sums add in the same order."""
    return nb if macs >= SPLIT_MACS else N


def _sum_terms(parts, xp):
    """parts[0] + parts[1] + ..., added left to right into parts[0] (the order a single thread adds them in)."""
    total = parts[0]
    for p in parts[1:]:
        xp.add(total, p, out=total)
    return total


def _im2col(x, kernel, stride, padding, dilation, out_hw, width, nb):
    """Yield (n0, n1, cols): cols (C, KH, KW, n1-n0, Ho, width) holds the windows of images n0..n1, channels first.

    width is Wo, or the padded width Wp (stride 1): output column c < Wo of a wide row is column c of the conv.
    The images come nb at a time (see _chunk_images).
    """
    xp = array_module(x)
    N, C, H, W = x.shape
    (KH, KW), (dh, dw), Ho = kernel, dilation, out_hw[0]
    (pt, pb), (pl, pr) = padding
    Hp, Wp = H + pt + pb, W + pl + pr
    wide = stride == (1, 1) and width == Wp  # callers only widen rows of stride-1 convs
    (rs, rd), (cs, cd) = _crop_or_pad(H, pt, pb), _crop_or_pad(W, pl, pr)
    padded = wide or (pt, pb, pl, pr) != (0, 0, 0, 0)
    tail = dh * (KH - 1) * Wp + dw * (KW - 1) if wide else 0
    # one buffer for the columns of every chunk, kept between calls: no fresh megabytes (and page faults) per conv
    flat = scratch(xp, "im2col.cols", (C * KH * KW * nb * Ho * width,), x.dtype)
    buf = None
    for n0 in range(0, N, nb):
        n1 = min(n0 + nb, N)
        m = n1 - n0
        if padded:
            if buf is None or buf.shape[1] != m * Hp * Wp + tail:
                # NOTE: the border must be zero, so a new chunk size (or a buffer left by another call) is zeroed;
                # the tail lets the last tap's view of the last image run past the frames
                buf = scratch(xp, "im2col.frame", (C, m * Hp * Wp + tail), x.dtype)
                buf.fill(0)
            frame = buf[:, : m * Hp * Wp].reshape(C, m, Hp, Wp)
            frame[:, :, rd, cd] = x[n0:n1, :, rs, cs].transpose(1, 0, 2, 3)  # (C, m, H, W) into the padded frame
        else:
            frame = x[n0:n1].transpose(1, 0, 2, 3)  # (C, m, H, W), a view
        cols = flat[: C * KH * KW * m * Ho * width].reshape(C, KH, KW, m, Ho, width)
        # NOTE: one copy from a strided view of every tap's windows, not one copy per tap: LeNet-5's convs ran
        # 20-30% faster (25 taps: the NumPy calls cost more than the copying), the CIFAR net's 5-8% (tests:
        # test_conv_fast.py, against slices of the padded input tap by tap)
        cols[...] = _windows_view(xp, buf if wide else frame, (KH, KW), stride, dilation, m, (Ho, width), wide, Hp)
        yield n0, n1, cols


def _windows_view(xp, src, kernel, stride, dilation, m: int, out_hw, wide: bool, Hp: int):
    """A read-only strided view (C, KH, KW, m, Ho, width) of every kernel tap's windows, copying nothing.

    Wide rows (stride 1): src is the chunk's frames as (C, m*Hp*Wp + tail), width = Wp, and tap (i, j)'s windows
    are one run of Ho*Wp values per image, starting i*dh*Wp + j*dw into the image's frame. Otherwise src is the
    frames (C, m, Hp, Wp) (a view of x when unpadded) and tap (i, j) reads rows i*dh + sh*r, columns j*dw + sw*q.
    """
    (KH, KW), (sh, sw), (dh, dw), (Ho, width) = kernel, stride, dilation, out_hw
    C, isz = src.shape[0], src.itemsize
    if wide:
        Wp = width
        strides = (src.strides[0], dh * Wp * isz, dw * isz, Hp * Wp * isz, Wp * isz, isz)
    else:
        s0, s1, s2, s3 = src.strides
        strides = (s0, dh * s2, dw * s3, s1, sh * s2, sw * s3)
    return xp.lib.stride_tricks.as_strided(src, (C, KH, KW, m, Ho, width), strides)


def conv(x, w, stride, padding, dilation, groups, out_hw=None, bias=None):
    """Cross-correlation. x (N, C, H, W), w (O, C/G, KH, KW) -> (N, O, Ho, Wo); padding ((top, bottom), (left, right)).

    out_hw computes only the first (Ho, Wo) outputs (the adjoint of a transposed conv with output_padding >= stride).
    bias (O,) is added to each chunk of the output while the GEMM has just written it (still in cache).
    """
    xp = array_module(x, w)
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    G = groups
    (sh, sw), ((pt, pb), (pl, pr)), (dh, dw) = stride, padding, dilation
    if out_hw is None:
        out_hw = (conv_out(H, KH, sh, pt, pb, dh), conv_out(W, KW, sw, pl, pr, dw))
    Ho, Wo = out_hw
    Wq = _row_width(W, padding, stride, Wo, C * KH * KW)
    wg = w.reshape(G, O // G, Cg * KH * KW)  # (G, O/G, C/G*KH*KW): one GEMM per group
    out = xp.empty((O, N, Ho, Wo), dtype=x.dtype)
    nb = _chunk_images(N, (C * KH * KW + O) * Ho * Wq * x.itemsize)  # a chunk's columns and outputs

    def images(a, b):  # images a..b, on one thread
        for n0, n1, cols in _im2col(x[a:b], (KH, KW), stride, padding, dilation, out_hw, Wq, nb):
            _gemm_into(xp, wg, cols.reshape(G, Cg * KH * KW, -1), out[:, a + n0 : a + n1], Wq, bias)

    parallel(images, N, xp, _split(N, nb, w.size * N * Ho * Wo))
    return out.transpose(1, 0, 2, 3)  # (N, O, Ho, Wo), a view of channels-first memory


def _gemm_into(xp, wg, cols, out, Wq: int, bias=None) -> None:
    """out (O, m, Ho, Wo) = wg (G, O/G, K) @ cols (G, K, m*Ho*Wq) (+ bias (O,)), rows of width Wq cropped to Wo.

    Narrow rows (Wq == Wo): the GEMM writes straight into out, whose (m, Ho*Wo) merge without a copy. Wide rows:
    it writes a scratch chunk, cropped into out (with the bias) while in cache.
    NOTE: compact outputs save more than the crop costs: elementwise ops on the cropped views (a ReLU after the
    conv, the ReLU's backward after its data adjoint) ran 1.6-2x slower, their inner loops one short row long.
    """
    O, m, Ho, Wo = out.shape
    G = wg.shape[0]
    if Wq == Wo:
        part = out.reshape(G, O // G, -1)
        xp.matmul(wg, cols, out=part)
        if bias is not None:
            part += bias.reshape(G, O // G, 1)
        return
    tmp = scratch(xp, "conv.wide", (G, O // G, m * Ho * Wq), out.dtype)
    xp.matmul(wg, cols, out=tmp)
    tmp = tmp.reshape(O, m, Ho, Wq)[..., :Wo]
    if bias is None:
        out[...] = tmp
    else:
        xp.add(tmp, bias.reshape(O, 1, 1, 1), out=out)


def _flipped(w, x_shape, out_hw, padding, dilation, groups):
    """The conv of g that is a stride-1 conv's data adjoint: (kernel, padding). w (O, C/G, KH, KW) -> (C, O/G, KH, KW).

    The kernel is flipped and its in/out channels swapped per group; g is padded so that the output is x_shape.
    """
    N, C, H, W = x_shape
    O, Cg, KH, KW = w.shape
    G = groups
    (Ho, Wo), ((pt, _), (pl, _)), (dh, dw) = out_hw, padding, dilation
    wf = w.reshape(G, O // G, Cg, KH, KW).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]  # (G, C/G, O/G, KH, KW)
    wf = wf.reshape(C, O // G, KH, KW)
    top, left = dh * (KH - 1) - pt, dw * (KW - 1) - pl
    bottom, right = H + dh * (KH - 1) - Ho - top, W + dw * (KW - 1) - Wo - left
    return wf, ((top, bottom), (left, right))


def shares_columns(x_shape, w_shape, stride) -> bool:
    """Whether conv_adjoints (one im2col of g for both gradients) beats a data adjoint and a weight adjoint apart.

    Its columns hold O*KH*KW rows per output; apart, x's im2col holds C*KH*KW and col2im (or the flipped conv)
    as many again, plus a scatter or a copy of g. SHARE_RATIO is where the measured costs cross.
    """
    return stride == (1, 1) and w_shape[0] <= SHARE_RATIO * x_shape[1]


def conv_adjoints(g, x, w, padding, dilation, groups):
    """Both adjoints of a stride-1 conv from one im2col of g: (gx, gw), with gx = conv_data_adjoint(g, w, x.shape, ...)
    and gw = conv_weight_adjoint(g, x, w.shape, ...).

    gx is the conv of g with the flipped kernel (see _flipped), and its columns G[o, i', j', q] = gpad[o, q + tap]
    also give gw[o, c, i, j] = sum_q x[c, q] G[o, KH-1-i, KW-1-j, q]: x's own im2col is never built.
    """
    xp = array_module(g, x, w)
    N, C, H, W = x.shape
    O, Cg, KH, KW = w.shape
    G = groups
    wf, pads = _flipped(w, x.shape, g.shape[2:], padding, dilation, groups)
    Wq = _row_width(g.shape[3], pads, (1, 1), W, O * KH * KW)
    wfg = wf.reshape(G, Cg, (O // G) * KH * KW)  # (G, C/G, O/G*KH*KW)
    gx = xp.empty((C, N, H, W), dtype=g.dtype)
    nb = _chunk_images(N, (O * KH * KW + 2 * C) * H * Wq * g.itemsize)  # a chunk's columns, gx and x

    def images(a, b):  # images a..b, on one thread: their share of gx, and each chunk's term of gw
        terms = []
        for n0, n1, cols in _im2col(g[a:b], (KH, KW), (1, 1), pads, dilation, (H, W), Wq, nb):
            n0, n1 = a + n0, a + n1
            cols = cols.reshape(G, (O // G) * KH * KW, -1)  # (G, O/G*KH*KW, m*H*Wq), read by both GEMMs in cache
            _gemm_into(xp, wfg, cols, gx[:, n0:n1], Wq)
            # NOTE: x's images zero in the columns past W, so the wide rows' extra outputs add nothing to gw
            xc = _images_channels_first(x, n0, n1, Wq, "adjoints.x").reshape(G, Cg, -1)  # (G, C/G, m*H*Wq)
            terms.append(cols @ xc.transpose(0, 2, 1))  # (G, O/G*KH*KW, C/G)
        return terms

    parts = parallel(images, N, xp, _split(N, nb, w.size * N * H * W))
    gwT = _sum_terms([t for terms in parts for t in terms], xp)
    gw = gwT.reshape(G, O // G, KH, KW, Cg)[:, :, ::-1, ::-1]  # (G, O/G, KH, KW, C/G), taps unflipped
    gw = gw.transpose(0, 1, 4, 2, 3).reshape(O, Cg, KH, KW)
    return gx.transpose(1, 0, 2, 3), gw  # gx (N, C, H, W), a view of channels-first memory


def conv_data_adjoint(g, w, x_shape, stride, padding, dilation, groups):
    """The adjoint of conv in x (conv_transpose2d's forward). g (N, O, Ho, Wo), w (O, C/G, KH, KW) -> x_shape."""
    xp = array_module(g, w)
    N, C, H, W = x_shape
    O, Cg, KH, KW = w.shape
    G = groups
    Ho, Wo = g.shape[2:]
    (sh, sw), ((pt, _), (pl, _)), (dh, dw) = stride, padding, dilation
    if (sh, sw) == (1, 1) and O * H * W <= FLIP_RATIO * C * Ho * Wo:
        # a stride-1 conv's adjoint is a conv of g with the kernel flipped and in/out channels swapped per group;
        # its columns (O*KH*KW, N*H*W) are no bigger than col2im's (C*KH*KW, N*Ho*Wo), and it needs no scatter
        wf, pads = _flipped(w, x_shape, (Ho, Wo), padding, dilation, G)
        return conv(g, wf, (1, 1), pads, dilation, G)
    # col2im: one GEMM per chunk of images, then one strided slice-add per kernel tap
    Hb, Wb = max(pt + H, sh * (Ho - 1) + dh * (KH - 1) + 1), max(pl + W, sw * (Wo - 1) + dw * (KW - 1) + 1)
    wide = (sh, sw) == (1, 1) and Wb - Wo <= Wo  # rows of width Wb: each tap adds one run per channel and image
    Wq = Wb if wide else Wo
    wgT = w.reshape(G, O // G, Cg * KH * KW).transpose(0, 2, 1)  # (G, C/G*KH*KW, O/G)
    tail = dh * (KH - 1) * Wb + dw * (KW - 1) if wide else 0
    gx = xp.empty((C, N, H, W), dtype=g.dtype)
    nb = _chunk_images(N, ((C * KH * KW + O) * Ho * Wq + C * Hb * Wb) * g.itemsize)  # columns, g and frames

    def images(a, b):  # images a..b, on one thread
        for n0 in range(a, b, nb):
            n1 = min(n0 + nb, b)
            m = n1 - n0
            # NOTE: columns and frames live in scratch buffers kept between calls (no fresh megabytes per chunk)
            cols = scratch(xp, "im2col.cols", (G, Cg * KH * KW, m * Ho * Wq), g.dtype)
            gc = _images_channels_first(g, n0, n1, Wq, "data_adjoint.g")  # zero past Wo: their adds are exact zeros
            xp.matmul(wgT, gc.reshape(G, O // G, m * Ho * Wq), out=cols)  # (G, C/G*KH*KW, m*Ho*Wq)
            cols = cols.reshape(C, KH, KW, m, Ho, Wq)
            buf = scratch(xp, "im2col.frame", (C, m * Hb * Wb + tail), g.dtype)  # the chunk's frames, then the tail
            buf.fill(0)
            frame = buf[:, : m * Hb * Wb].reshape(C, m, Hb, Wb)
            for i in range(KH):
                for j in range(KW):
                    if wide:
                        off = i * dh * Wb + j * dw
                        run = buf[:, off : off + m * Hb * Wb].reshape(C, m, Hb * Wb)[:, :, : Ho * Wb]
                        run += cols[:, i, j].reshape(C, m, Ho * Wb)
                    else:
                        frame[:, :, _tap(i, dh, sh, Ho), _tap(j, dw, sw, Wo)] += cols[:, i, j]
            gx[:, n0:n1] = frame[:, :, pt : pt + H, pl : pl + W]

    parallel(images, N, xp, _split(N, nb, w.size * N * Ho * Wo))
    return gx.transpose(1, 0, 2, 3)  # (N, C, H, W)


def _images_channels_first(x, n0: int, n1: int, width: int, name: str):
    """Images n0..n1 of x (N, C, H, W) as (C, m, H, width), zero in the columns past W: a view of x when it is
    channels-first memory (a conv's output) and width is W, else a copy into the scratch buffer `name`.

    NOTE: each thread copies its own chunks, in cache just before their GEMM, instead of the caller copying all
    of x first on one thread (2-3 ms for the CIFAR net's 32x32 layers, while the other thread waited).
    """
    part = x[n0:n1].transpose(1, 0, 2, 3)  # (C, m, H, W)
    C, m, H, W = part.shape
    if width == W and part.strides[1:] == (H * W * x.itemsize, W * x.itemsize, x.itemsize):
        return part  # (m, H, W) merge without a copy
    buf = scratch(array_module(x), name, (C, m, H, width), x.dtype)
    buf[..., :W] = part
    buf[..., W:] = 0
    return buf


def conv_weight_adjoint(g, x, w_shape, stride, padding, dilation, groups):
    """The adjoint of conv in w. g (N, O, Ho, Wo), x (N, C, H, W) -> w_shape (O, C/G, KH, KW)."""
    xp = array_module(g, x)
    O, Cg, KH, KW = w_shape
    G = groups
    Ho, Wo = g.shape[2:]
    N, C = x.shape[:2]
    Wq = _row_width(x.shape[3], padding, stride, Wo, C * KH * KW)
    if Cg * KH * KW < 4 * (O // G) or (8 * (Wq - Wo) > Wo and Wo > 16):
        Wq = Wo  # g's zero-padded wide copy would cost more than the long copies save (measured)
    nb = _chunk_images(N, (C * KH * KW + O) * Ho * Wq * x.itemsize)  # a chunk's columns and g

    def images(a, b):  # images a..b, on one thread: each chunk's term of the sum
        terms = []
        for n0, n1, cols in _im2col(x[a:b], (KH, KW), stride, padding, dilation, (Ho, Wo), Wq, nb):
            gc = _images_channels_first(g, a + n0, a + n1, Wq, "weight_adjoint.g")  # the extra outputs get zero
            gc = gc.reshape(G, O // G, -1)  # (G, O/G, m*Ho*Wq)
            # NOTE: cols @ g^T, (C/G*KH*KW, n) @ (n, O/G), ran 1.3-1.6x faster than g @ cols^T on both test machines
            terms.append(cols.reshape(G, Cg * KH * KW, -1) @ gc.transpose(0, 2, 1))  # (G, C/G*KH*KW, O/G)
        return terms

    parts = parallel(images, N, xp, _split(N, nb, O * Cg * KH * KW * N * Ho * Wo))
    gwT = _sum_terms([t for terms in parts for t in terms], xp)
    return gwT.transpose(0, 2, 1).reshape(O, Cg, KH, KW)  # (G, O/G, C/G*KH*KW) -> (O, C/G, KH, KW)


class Conv2d(Function):
    """y = conv(x, w), a cross-correlation. x (N, C, H, W), w (O, C/G, KH, KW) -> (N, O, Ho, Wo)."""

    def forward(self, x, w, *, stride, padding, dilation, groups):
        self.x, self.w, self.geom = x, w, (stride, padding, dilation, groups)
        return conv(x, w, *self.geom)

    def backward(self, g):
        need, (stride, padding, dilation, groups) = self.needs_input_grad, self.geom
        if need[0] and need[1] and shares_columns(self.x.shape, self.w.shape, stride):
            return conv_adjoints(g, self.x, self.w, padding, dilation, groups)  # one im2col (of g) for both
        gx = conv_data_adjoint(g, self.w, self.x.shape, *self.geom) if need[0] else None
        gw = conv_weight_adjoint(g, self.x, self.w.shape, *self.geom) if need[1] else None
        return gx, gw

    def jvp(self, dx, dw):  # bilinear: d conv(x, w) = conv(dx, w) + conv(x, dw); no conv of a missing tangent
        t = self.has_tangent
        return (conv(dx, self.w, *self.geom) if t[0] else 0) + (conv(self.x, dw, *self.geom) if t[1] else 0)


class Conv2dBias(Conv2d):
    """y = conv(x, w) + b over the channel dim, in one node. x (N, C, H, W), w (O, C/G, KH, KW), b (O,).

    Fused for speed: the bias is added to each output chunk while it is in cache, instead of a broadcast add
    that reads and writes the whole output again (and its backward's sum-to in the engine). Conv2d followed by
    a broadcast add is the reference it is tested against.
    """

    def forward(self, x, w, b, *, stride, padding, dilation, groups):
        self.x, self.w, self.geom = x, w, (stride, padding, dilation, groups)
        return conv(x, w, *self.geom, bias=b)

    def backward(self, g):
        gx, gw = super().backward(g)
        gb = g.sum(axis=(0, 2, 3)) if self.needs_input_grad[2] else None  # the adjoint of broadcasting over N, H, W
        return gx, gw, gb

    def jvp(self, dx, dw, db):  # conv's rule, plus the bias tangent broadcast over (N, H, W)
        return super().jvp(dx, dw) + (db.reshape(1, -1, 1, 1) if self.has_tangent[2] else 0)


class ConvTranspose2d(Function):
    """y = conv_data_adjoint(x, w): the adjoint of Conv2d in x. x (N, Cin, H, W), w (Cin, Cout/G, KH, KW)."""

    def forward(self, x, w, *, stride, padding, dilation, groups, out_shape):
        self.x, self.w, self.out_shape = x, w, out_shape
        self.geom = (stride, padding, dilation, groups)
        return conv_data_adjoint(x, w, out_shape, *self.geom)

    def backward(self, g):  # the roles of the conv's input and output swap
        gx = conv(g, self.w, *self.geom, out_hw=self.x.shape[2:]) if self.needs_input_grad[0] else None
        gw = conv_weight_adjoint(self.x, g, self.w.shape, *self.geom) if self.needs_input_grad[1] else None
        return gx, gw

    def jvp(self, dx, dw):  # bilinear, as conv: no product of a missing tangent
        t = self.has_tangent
        dy_x = conv_data_adjoint(dx, self.w, self.out_shape, *self.geom) if t[0] else 0
        return dy_x + (conv_data_adjoint(self.x, dw, self.out_shape, *self.geom) if t[1] else 0)


# ---------------------------------------------------------------------------------------------
# Public functions: check at the boundary, then call the Functions on 2-D geometry


def _check_conv_args(op, input, weight, bias, nd, transposed, groups):
    """Dimensions, dtypes, groups and channel counts shared by conv and conv_transpose."""
    batched = nd + 2
    check_tensor(op, "input", input, (batched - 1, batched), f"(N, C, {'H, W' if nd == 2 else 'L'}) or unbatched")
    wlayout = "(Cin, Cout/groups, " if transposed else "(O, C/groups, "
    wlayout += "KH, KW)" if nd == 2 else "K)"
    check_tensor(op, "weight", weight, (batched,), wlayout)
    check_same_dtype(op, "weight", weight, input)
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int; got {groups!r}")
    C = input.shape[-nd - 1]
    if transposed:
        if weight.shape[0] != C:
            raise ShapeError(
                f"{op}: x has {channels(C)} (x.shape={input.shape}) but weight {weight.shape} expects "
                f"{weight.shape[0]} (weight.shape[0] is the input channels of a transposed conv)"
            )
        if C % groups:
            raise ShapeError(f"{op}: groups={groups} must divide the input channels {C} (x.shape={input.shape})")
        out_channels = weight.shape[1] * groups
    else:
        if C % groups:
            raise ShapeError(f"{op}: groups={groups} must divide the input channels {C} (x.shape={input.shape})")
        if weight.shape[0] % groups:
            raise ShapeError(
                f"{op}: groups={groups} must divide the output channels {weight.shape[0]} (weight.shape={weight.shape})"
            )
        if weight.shape[1] * groups != C:
            raise ShapeError(
                f"{op}: x has {channels(C)} (x.shape={input.shape}) but weight {weight.shape} with groups={groups} "
                f"expects {weight.shape[1] * groups}"
            )
        out_channels = weight.shape[0]
    if bias is not None:
        if not isinstance(bias, Tensor):
            raise TypeError(f"{op}: bias must be a Tensor or None; got {type(bias).__name__}")
        check_same_dtype(op, "bias", bias, input)
        if bias.shape != (out_channels,):
            raise ShapeError(
                f"{op}: bias must have shape ({out_channels},) for weight {weight.shape}; got {bias.shape}"
            )
    return out_channels


def _conv_padding(op, padding, kernel, dilation, stride, nd):
    """padding as ((lo, hi), ...) per spatial dim; 'same' pads d(k-1) in total, the odd one at the end."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding != "same":
            raise ValueError(f"{op}: padding must be an int, a tuple, 'same' or 'valid'; got {padding!r}")
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
        return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation))
    pad = ntuple(padding, nd, "padding", op)
    check_nonnegative(op, padding=pad)
    return tuple((p, p) for p in pad)


def _batch(x: Tensor, nd: int) -> tuple[Tensor, bool]:
    """Unbatched input (C, *spatial) gains a batch dim of 1, as PyTorch allows."""
    return (ops.unsqueeze(x, 0), True) if x.ndim == nd + 1 else (x, False)


def _as_2d(t: Tensor, nd: int) -> Tensor:
    """1-D spatial data (..., L) becomes 2-D (..., 1, L), so the 2-D ops serve conv1d and pool1d for free."""
    return ops.unsqueeze(t, -2) if nd == 1 else t


def _from_2d(t: Tensor, nd: int, unbatched: bool) -> Tensor:
    if nd == 1:
        t = ops.squeeze(t, -2)
    return ops.squeeze(t, 0) if unbatched else t


def _add_bias(y: Tensor, bias: Tensor | None) -> Tensor:
    """y + bias over the channel dim: a separate broadcast add, so conv stays bilinear."""
    return y if bias is None else y + ops.reshape(bias, (1, -1, 1, 1))


def _conv(op, input, weight, bias, stride, padding, dilation, groups, nd):
    _check_conv_args(op, input, weight, bias, nd, False, groups)
    kernel = weight.shape[2:]
    stride, dilation = ntuple(stride, nd, "stride", op), ntuple(dilation, nd, "dilation", op)
    check_positive(op, stride=stride, dilation=dilation)
    pads = _conv_padding(op, padding, kernel, dilation, stride, nd)
    spatial = input.shape[-nd:]
    out = tuple(conv_out(i, k, s, lo, hi, d) for i, k, s, (lo, hi), d in zip(spatial, kernel, stride, pads, dilation))
    if min(out) < 1:
        dilated = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        shown = tuple(lo for lo, hi in pads) if all(lo == hi for lo, hi in pads) else pads
        raise ShapeError(
            f"{op}: output would be empty: input {dims(spatial)}, padding {shown}, dilated kernel {dims(dilated)}, "
            f"stride {stride} (x.shape={input.shape}, weight.shape={weight.shape})"
        )
    x, unbatched = _batch(input, nd)
    if nd == 1:
        stride, dilation, pads = (1, *stride), (1, *dilation), ((0, 0), *pads)
    geom = dict(stride=stride, padding=pads, dilation=dilation, groups=groups)
    if bias is None:
        y = Conv2d.apply(_as_2d(x, nd), _as_2d(weight, nd), **geom)
    else:
        y = Conv2dBias.apply(_as_2d(x, nd), _as_2d(weight, nd), bias, **geom)
    return _from_2d(y, nd, unbatched)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (+ bias). input (N, C, H, W), weight (O, C/groups, KH, KW) -> (N, O, Ho, Wo).

    Ho = floor((H + 2 padding - dilation (KH - 1) - 1) / stride) + 1; padding may be 'same' or 'valid'.
    """
    return _conv("conv2d", input, weight, bias, stride, padding, dilation, groups, 2)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation (+ bias). input (N, C, L), weight (O, C/groups, K) -> (N, O, Lo)."""
    return _conv("conv1d", input, weight, bias, stride, padding, dilation, groups, 1)


def _conv_transpose(op, input, weight, bias, stride, padding, output_padding, groups, dilation, nd):
    out_channels = _check_conv_args(op, input, weight, bias, nd, True, groups)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple; got {padding!r}")
    kernel = weight.shape[2:]
    stride, dilation = ntuple(stride, nd, "stride", op), ntuple(dilation, nd, "dilation", op)
    pad, out_pad = ntuple(padding, nd, "padding", op), ntuple(output_padding, nd, "output_padding", op)
    check_positive(op, stride=stride, dilation=dilation)
    check_nonnegative(op, padding=pad, output_padding=out_pad)
    if any(a >= s and a >= d for a, s, d in zip(out_pad, stride, dilation)):
        raise ShapeError(
            f"{op}: output_padding {out_pad} must be smaller than either stride {stride} or dilation {dilation}"
        )
    spatial = input.shape[-nd:]
    out = tuple(conv_transpose_out(*v) for v in zip(spatial, kernel, stride, pad, dilation, out_pad))
    if min(out) < 1:
        raise ShapeError(
            f"{op}: output would be empty: (input - 1) stride - 2 padding + dilation (kernel - 1) + output_padding + 1"
            f" = {dims(out)} for input {dims(spatial)}, stride {stride}, padding {pad}, dilation {dilation}, "
            f"kernel {dims(kernel)}, output_padding {out_pad}"
        )
    x, unbatched = _batch(input, nd)
    if nd == 1:
        stride, dilation, pad, out = (1, *stride), (1, *dilation), (0, *pad), (1, *out)
    y = ConvTranspose2d.apply(
        _as_2d(x, nd),
        _as_2d(weight, nd),
        stride=stride,
        padding=tuple((p, p) for p in pad),
        dilation=dilation,
        groups=groups,
        out_shape=(x.shape[0], out_channels, *out),
    )
    return _from_2d(_add_bias(y, bias), nd, unbatched)


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
):
    """Transposed ("fractionally strided") conv, the adjoint of conv2d in x. (N, Cin, H, W), (Cin, Cout/G, KH, KW).

    Ho = (H - 1) stride - 2 padding + dilation (KH - 1) + output_padding + 1.
    """
    return _conv_transpose(
        "conv_transpose2d", input, weight, bias, stride, padding, output_padding, groups, dilation, 2
    )


def conv_transpose1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride=1,
    padding=0,
    output_padding=0,
    groups=1,
    dilation=1,
):
    """Transposed 1-D conv. input (N, Cin, L), weight (Cin, Cout/groups, K) -> (N, Cout, Lo)."""
    return _conv_transpose(
        "conv_transpose1d", input, weight, bias, stride, padding, output_padding, groups, dilation, 1
    )
