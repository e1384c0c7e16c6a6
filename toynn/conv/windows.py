"""Windows and their adjoints, shared by convolution, pooling and upsampling: strided views that gather what each
kernel tap reads, and the scatter-adds that send gradients back the same way. Each gather sits next to its
adjoint: im2col_view / col2im_add (conv), window_taps / scatter_window_taps (pooling), gather_axis_taps /
scatter_axis_taps (interpolation along one axis), repeat_blocks / sum_blocks (nearest upsampling)."""

from __future__ import annotations

import itertools

import numpy as np

from ..backend import array_module
from ..runtime import parallel

# ---------------------------------------------------------------------------------------------
# Frames: the input placed in a plane large enough for every window


def frame_size(x_hw, padding, stride, kernel, dilation, out_hw) -> tuple[int, int]:
    """(Hb, Wb): the input (H, W) after its (top, left) padding, extended as far down/right as the last window
    reaches."""
    (H, W), (ph, pw), (sh, sw), (KH, KW), (dil_h, dil_w), (Ho, Wo) = x_hw, padding, stride, kernel, dilation, out_hw
    return max(ph + H, sh * (Ho - 1) + dil_h * (KH - 1) + 1), max(pw + W, sw * (Wo - 1) + dil_w * (KW - 1) + 1)


def crop_or_pad(n: int, lo: int, hi: int) -> tuple[slice, slice]:
    """Source and destination slices that copy an axis of length n into one padded by lo, hi (negative crops)."""
    src = slice(max(-lo, 0), n - max(-hi, 0))
    start = max(lo, 0)
    return src, slice(start, start + src.stop - src.start)


def pad_frame(x, padding, stride, kernel, dilation, out_hw, value):
    """x (N, C, H, W) placed in its frame (N, C, Hb, Wb), the rest filled with `value` (-inf for max, 0 for sums);
    x itself when it fits."""
    xp = array_module(x)
    N, C, H, W = x.shape
    Hb, Wb = frame_size((H, W), padding, stride, kernel, dilation, out_hw)
    if (Hb, Wb) == (H, W):
        return x
    frame = xp.full((C, N, Hb, Wb), value, dtype=x.dtype).transpose(1, 0, 2, 3)  # (N, C, Hb, Wb), channels first
    frame[:, :, padding[0] : padding[0] + H, padding[1] : padding[1] + W] = x
    return frame


# ---------------------------------------------------------------------------------------------
# 2-D kernel windows: tap (i, j) of the window at output (r, q) reads frame row i*dil_h + sh*r, column j*dil_w + sw*q


def tap_slice(i: int, dil: int, stride: int, n_out: int) -> slice:
    """Rows (or columns) that kernel tap i reads for n_out outputs: i*dil, i*dil + stride, ..."""
    return slice(i * dil, i * dil + stride * (n_out - 1) + 1, stride)


def tap_offsets(kernel, dilation) -> list[tuple[int, int]]:
    """(i*dil_h, j*dil_w) for each kernel tap t = i*KW + j, row-major: the order PyTorch scans a window."""
    (KH, KW), (dil_h, dil_w) = kernel, dilation
    return [(i * dil_h, j * dil_w) for i in range(KH) for j in range(KW)]


def window_taps(frame, kernel, stride, dilation, out_hw) -> list:
    """One strided view (..., Ho, Wo) of the frame (..., Hb, Wb) per kernel tap, in tap_offsets' order."""
    (sh, sw), (Ho, Wo) = stride, out_hw
    return [frame[:, :, tap_slice(oi, 1, sh, Ho), tap_slice(oj, 1, sw, Wo)] for oi, oj in tap_offsets(kernel, dilation)]


def scatter_window_taps(parts, x_shape, padding, stride, kernel, dilation, out_hw, like, step: int):
    """The adjoint of window_taps: parts(t, n, out) writes tap t's share of images n (a slice) into `out`, a strided
    view of a zero frame, or returns it when out is None. Images split across threads in parts of `step`.

    Non-overlapping windows write straight into the view (no temporary, no read); overlapping ones add.
    """
    xp = array_module(like)
    N, C, H, W = x_shape
    (ph, pw), (sh, sw), (KH, KW), (dil_h, dil_w) = padding, stride, kernel, dilation
    Hb, Wb = frame_size((H, W), padding, stride, kernel, dilation, out_hw)
    overlapping = sh < dil_h * (KH - 1) + 1 or sw < dil_w * (KW - 1) + 1
    tiles = (sh, sw) == (dil_h * (KH - 1) + 1, dil_w * (KW - 1) + 1) and dilation == (1, 1)
    covered = tiles and (Hb, Wb) == (sh * out_hw[0], sw * out_hw[1])  # every cell gets written: no zero fill
    # channels-first memory, like the conv outputs: the conv backward that follows then copies nothing
    frame = (xp.empty if covered else xp.zeros)((C, N, Hb, Wb), dtype=like.dtype).transpose(1, 0, 2, 3)  # (N,C,Hb,Wb)
    views = window_taps(frame, kernel, stride, dilation, out_hw)

    def images(a, b):  # images a..b, on one thread
        n = slice(a, b)
        for t, view in enumerate(views):
            if overlapping:
                view[n] += parts(t, n, None)
            else:
                parts(t, n, view[n])

    parallel(images, N, xp, step)
    return frame[:, :, ph : ph + H, pw : pw + W]


def im2col_view(xp, src, kernel, stride, dilation, m: int, out_hw, wide: bool, Hp: int):
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


def col2im_add(buf, cols, kernel, stride, dilation, frame_hw, wide: bool) -> None:
    """The adjoint of im2col_view: adds each tap's columns cols (C, KH, KW, m, Ho, width) back onto the frames it
    was read from, one strided slice-add per tap. buf (C, m*Hb*Wb + tail) holds the m frames (Hb, Wb), then a
    tail for the last wide run.

    Wide rows (stride 1, width = Wb): tap (i, j) adds one run of Ho*Wb values per image, i*dh*Wb + j*dw into it.
    """
    C, KH, KW, m, Ho, width = cols.shape
    (dh, dw), (Hb, Wb) = dilation, frame_hw
    if wide:
        for i in range(KH):
            for j in range(KW):
                off = i * dh * Wb + j * dw
                run = buf[:, off : off + m * Hb * Wb].reshape(C, m, Hb * Wb)[:, :, : Ho * Wb]
                run += cols[:, i, j].reshape(C, m, Ho * Wb)
        return
    frame = buf[:, : m * Hb * Wb].reshape(C, m, Hb, Wb)
    taps = cols.reshape(C, KH * KW, m, Ho, width)  # tap t = i*KW + j, window_taps' order
    for t, view in enumerate(window_taps(frame, kernel, stride, dilation, (Ho, width))):
        view += taps[:, t]


# ---------------------------------------------------------------------------------------------
# 1-D taps along one axis: output o reads cells idx[t][o] with weights wts[t][o]


def gather_axis_taps(x, axis: int, idx, wts):
    """sum_t wts[t] * x.take(idx[t], axis); wts None means one tap of weight 1 (nearest)."""
    xp = array_module(x)
    bcast = (-1,) + (1,) * (x.ndim - 1 - axis)  # weights vary along `axis` only
    y = None
    for t, i in enumerate(idx):
        term = xp.take(x, xp.asarray(i), axis=axis)
        if wts is not None:
            with np.errstate(invalid="ignore"):  # inf * 0 is NaN, silently, as in PyTorch
                term *= xp.asarray(wts[t]).reshape(bcast)  # (out,) -> (out, 1, ...) along axis
        y = term if y is None else xp.add(y, term, out=y)
    return y


def scatter_axis_taps(g, axis: int, idx, wts, n_in: int):
    """The adjoint of gather_axis_taps: g's slices, weighted, added back onto the cells they were read from.

    Repeated cells are handled in rounds: round r takes the r-th occurrence of each cell, so within a
    round the targets are distinct and a fancy-index += is exact (no np.add.at).
    """
    xp = array_module(g)
    lead = (slice(None),) * axis
    gx = xp.zeros(g.shape[:axis] + (n_in,) + g.shape[axis + 1 :], dtype=g.dtype)
    bcast = (-1,) + (1,) * (g.ndim - 1 - axis)
    for t, i in enumerate(idx):
        v = g if wts is None else g * xp.asarray(wts[t]).reshape(bcast)  # (out,) -> (out, 1, ...) along axis
        order = np.argsort(i, kind="stable")
        first = np.searchsorted(i[order], i[order])  # position of each cell's first occurrence in sorted order
        rank = np.empty_like(order)
        rank[order] = np.arange(len(i)) - first
        for r in range(int(rank.max()) + 1):
            pos = np.flatnonzero(rank == r)
            gx[lead + (xp.asarray(i[pos]),)] += xp.take(v, xp.asarray(pos), axis=axis)
    return gx


# ---------------------------------------------------------------------------------------------
# Blocks: windows of the last dims whose stride is their size (nearest upsampling by whole factors)


def _block_cells(factors):
    """For each cell of a block, the strided index that picks that cell from every block of the last dims."""
    for offsets in itertools.product(*[range(f) for f in factors]):
        yield (Ellipsis,) + tuple(slice(o, None, f) for o, f in zip(offsets, factors))


def repeat_blocks(x, factors):
    """Each cell of the last len(factors) dims becomes a block of that size. (N, C, H, W) -> (N, C, H*fh, W*fw)."""
    xp = array_module(x)
    lead = x.ndim - len(factors)
    y = xp.empty(x.shape[:lead] + tuple(n * f for n, f in zip(x.shape[lead:], factors)), dtype=x.dtype)
    for cell in _block_cells(factors):  # one strided copy per cell of a block
        y[cell] = x
    return y


def sum_blocks(g, factors):
    """The adjoint of repeat_blocks: each block summed. (N, C, H*fh, W*fw) -> (N, C, H, W)."""
    gx = None
    for cell in _block_cells(factors):  # one strided add per cell of a block
        part = g[cell]
        gx = part.copy() if gx is None else array_module(g).add(gx, part, out=gx)
    return gx
