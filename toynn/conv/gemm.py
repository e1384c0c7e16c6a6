"""The machine room of convolution.py: im2col + GEMM in cache-sized chunks across threads, wide or narrow rows,
scratch buffers, and the tuning constants that choose between them (each with its reason; the measurements are
in docs/benchmarks.md, "Tuning constants and why"). Nothing here changes what is computed, only how.

Inside, activations are laid out channels first, (C, N, H, W): each GEMM then writes or reads one contiguous
block of a chunk's images.
"""

from __future__ import annotations

from ..backend import array_module
from ..compiled import kernels
from ..runtime import get_num_threads, parallel, scratch
from .windows import col2im_add, crop_or_pad, frame_size, im2col_view

# im2col columns are built a few images at a time, so that they (and the chunk's other work arrays: outputs,
# copies of g or x) stay in cache between the copy and the GEMMs: CHUNK_BYTES is their total per chunk
CHUNK_BYTES = 1 << 21
# convs (and adjoints) of fewer multiply-adds run whole on the calling thread, their GEMMs on BLAS's threads (see
# runtime._whole): below this, the hand-offs to another thread (and its turns at the GIL between NumPy calls) cost
# more than splitting saves. Measured on the Zen 3 (docs/benchmarks.md): at 2^22 LeNet-5's convs (7-15 M) split
# and its step ran 1.45-1.65x PyTorch's time, whole 1.05-1.2x; the CIFAR net's (56-604 M at batch 64) gain from it
SPLIT_MACS = 1 << 25
# im2col columns of fewer rows than this (C*KH*KW) are built with narrow rows: copying so few is cheap either
# way, and the wide rows' extra outputs would cost more GEMM work than they save in copies (see row_width)
WIDE_MIN_ROWS = 32
# wide rows at most this many times as long as the output rows: the dropped outputs cost GEMM work
WIDE_MAX_GROWTH = 2
# a stride-1 data adjoint runs as a conv of g while its columns are at most this many times col2im's: it then
# needs no scatter, which costs about as much as the extra columns
FLIP_RATIO = 1.5
# a conv's two adjoints share one im2col of g unless its output channels are more than this many times its inputs
SHARE_RATIO = 2
# the weight adjoint also copies g into wide rows (zero past Wo). That copy costs more than the wide columns save
# when x's columns have fewer than this many rows per row of g (per group) ...
GW_WIDE_MIN_ROW_RATIO = 4
# ... or when a long row (over GW_LONG_ROW outputs) would grow by more than 1 / GW_WIDE_MAX_EXTRA: g's copy and the
# GEMM then carry too many dropped columns; short rows have little to copy either way
GW_WIDE_MAX_EXTRA = 8
GW_LONG_ROW = 16


# ---------------------------------------------------------------------------------------------
# Which formulation, row width and chunk size


def flip_pays(x_shape, g_shape) -> bool:
    """Whether a stride-1 conv's data adjoint should run as a conv of g with the flipped kernel: its columns
    (O*KH*KW, N*H*W) are then at most FLIP_RATIO times col2im's (C*KH*KW, N*Ho*Wo), and it needs no scatter."""
    (C, H, W), (O, Ho, Wo) = x_shape[1:], g_shape[1:]
    return O * H * W <= FLIP_RATIO * C * Ho * Wo


def shares_columns(x_shape, w_shape, stride) -> bool:
    """Whether conv_adjoints (one im2col of g for both gradients) beats a data adjoint and a weight adjoint apart.

    Its columns hold O*KH*KW rows per output; apart, x's im2col holds C*KH*KW and col2im (or the flipped conv)
    as many again, plus a scatter or a copy of g. SHARE_RATIO is where the measured costs cross.
    """
    return stride == (1, 1) and w_shape[0] <= SHARE_RATIO * x_shape[1]


def row_width(W: int, padding, stride, out_w: int, rows: int) -> int:
    """Width of each output row in the columns: the padded width Wp for stride 1 ("wide" rows), else Wo.

    Wide rows make each tap's copy one contiguous run of Ho*Wp values per channel and image, instead of Ho
    runs of Wo: the copies then run near memcpy speed. The Wp - Wo extra outputs per row are dropped; they
    cost GEMM work, so rows stay narrow when they would grow more than WIDE_MAX_GROWTH times, and when the columns
    have fewer than WIDE_MIN_ROWS rows (C*KH*KW).
    """
    Wp = W + padding[1][0] + padding[1][1]
    return Wp if stride == (1, 1) and Wp <= WIDE_MAX_GROWTH * out_w and rows >= WIDE_MIN_ROWS else out_w


def weight_adjoint_width(x_shape, w_shape, padding, stride, out_w: int, groups: int) -> int:
    """row_width for the weight adjoint, which also copies g into rows of that width (zero past Wo): narrow
    where that copy costs more than the wide columns save (see GW_WIDE_MIN_ROW_RATIO, GW_WIDE_MAX_EXTRA)."""
    (C, W), (O, Cg, KH, KW) = (x_shape[1], x_shape[3]), w_shape
    Wq = row_width(W, padding, stride, out_w, C * KH * KW)
    few_rows = Cg * KH * KW < GW_WIDE_MIN_ROW_RATIO * (O // groups)
    many_extra = GW_WIDE_MAX_EXTRA * (Wq - out_w) > out_w and out_w > GW_LONG_ROW
    return out_w if few_rows or many_extra else Wq


def chunk_images(N: int, image_bytes: int) -> int:
    """Images per im2col chunk: as many as fit CHUNK_BYTES, evened out so that every thread gets as many chunks.

    NOTE: the chunks depend on N, the sizes and the thread count only, not on the array module, so that sums over
    chunks (the weight gradient) add in the same order on the CPU, split across threads or not, and on a GPU.
    """
    threads = get_num_threads()
    chunks = -(-N // max(1, min(N, CHUNK_BYTES // max(1, image_bytes))))
    chunks = min(N, -(-chunks // threads) * threads)
    return -(-N // chunks)


def split_step(N: int, nb: int, macs: int) -> int:
    """parallel()'s step for an op of `macs` multiply-adds over N images in chunks of nb: nb, or N (one part) when
    the op is too small to split. The chunks stay the same either way, so the sums add in the same order."""
    return nb if macs >= SPLIT_MACS else N


def sum_terms(parts, xp):
    """parts[0] + parts[1] + ..., added left to right into parts[0] (the order a single thread adds them in)."""
    total = parts[0]
    for p in parts[1:]:
        xp.add(total, p, out=total)
    return total


# ---------------------------------------------------------------------------------------------
# Chunks of im2col columns, across threads


def im2col_chunks(x, kernel, stride, padding, dilation, out_hw, width, nb):
    """Yield (n0, n1, cols): cols (C, KH, KW, n1-n0, Ho, width) holds the windows of images n0..n1, channels first.

    width is Wo, or the padded width Wp (stride 1): output column c < Wo of a wide row is column c of the conv.
    The images come nb at a time (see chunk_images).
    """
    xp = array_module(x)
    N, C, H, W = x.shape
    (KH, KW), (dh, dw), Ho = kernel, dilation, out_hw[0]
    (pt, pb), (pl, pr) = padding
    Hp, Wp = H + pt + pb, W + pl + pr
    wide = stride == (1, 1) and width == Wp  # callers only widen rows of stride-1 convs
    (rs, rd), (cs, cd) = crop_or_pad(H, pt, pb), crop_or_pad(W, pl, pr)
    padded = wide or (pt, pb, pl, pr) != (0, 0, 0, 0)
    tail = dh * (KH - 1) * Wp + dw * (KW - 1) if wide else 0
    # one buffer for the columns of every chunk, kept between calls: no fresh megabytes (and page faults) per conv
    flat = scratch(xp, "im2col.cols", (C * KH * KW * nb * Ho * width,), x.dtype)
    buf, compiled = None, kernels(xp)
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
        if compiled is not None and not wide and stride[1] == 1 and frame.flags.c_contiguous:
            compiled.im2col_narrow(frame, cols, *stride, dh, dw)  # 1.4-2.2x NumPy's copy (compiled.py)
            yield n0, n1, cols
            continue
        # NOTE: one copy from a strided view of every tap's windows, not one copy per tap: with many small taps
        # the NumPy calls cost more than the copying (tests: test_conv_fast.py, against the taps one by one)
        cols[...] = im2col_view(xp, buf if wide else frame, (KH, KW), stride, dilation, m, (Ho, width), wide, Hp)
        yield n0, n1, cols


def over_chunks(fn, xp, x, kernel, stride, padding, dilation, out_hw, width, image_bytes, macs) -> list:
    """[fn(n0, n1, cols) for each chunk of images n0..n1 of x and its im2col columns cols (C, KH, KW, m, Ho,
    width)], in order. Chunks hold about CHUNK_BYTES (image_bytes per image); threads take whole chunks when the
    op has at least SPLIT_MACS multiply-adds (macs)."""
    N = x.shape[0]
    nb = chunk_images(N, image_bytes)

    def images(a, b):  # images a..b, on one thread: one im2col generator, so its frame buffer is zeroed once
        chunks = im2col_chunks(x[a:b], kernel, stride, padding, dilation, out_hw, width, nb)
        return [fn(a + n0, a + n1, cols) for n0, n1, cols in chunks]

    return [r for part in parallel(images, N, xp, split_step(N, nb, macs)) for r in part]


# ---------------------------------------------------------------------------------------------
# GEMMs into compact outputs, copies of g or x, and col2im


def gemm_into(xp, wg, cols, out, Wq: int, bias=None) -> None:
    """out (O, m, Ho, Wo) = wg (G, O/G, K) @ cols (G, K, m*Ho*Wq) (+ bias (O,)), rows of width Wq cropped to Wo.

    Narrow rows (Wq == Wo): the GEMM writes straight into out, whose (m, Ho*Wo) merge without a copy. Wide rows:
    it writes a scratch chunk, cropped into out (with the bias) while in cache.
    NOTE: compact outputs save more than the crop costs: elementwise ops on cropped views (a ReLU after the conv,
    the ReLU's backward after its data adjoint) run much slower, their inner loops one short row long.
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


def images_channels_first(x, n0: int, n1: int, width: int, name: str):
    """Images n0..n1 of x (N, C, H, W) as (C, m, H, width), zero in the columns past W: a view of x when it is
    channels-first memory (a conv's output) and width is W, else a copy into the scratch buffer `name`.

    NOTE: each thread copies its own chunks, in cache just before their GEMM, instead of the caller copying all
    of x first on one thread while the other threads wait.
    """
    part = x[n0:n1].transpose(1, 0, 2, 3)  # (C, m, H, W)
    C, m, H, W = part.shape
    if width == W and part.strides[1:] == (H * W * x.itemsize, W * x.itemsize, x.itemsize):
        return part  # (m, H, W) merge without a copy
    buf = scratch(array_module(x), name, (C, m, H, width), x.dtype)
    buf[..., :W] = part
    buf[..., W:] = 0
    return buf


def col2im_gemm(g, wgT, x_shape, kernel, stride, padding, dilation):
    """gx (C, N, H, W), channels first = col2im(wgT @ g): wgT (G, C/G*KH*KW, O/G), g (N, O, Ho, Wo). Per chunk of
    images, one GEMM gives the columns, and col2im_add adds each tap's back onto zeroed frames, cropped into gx."""
    xp = array_module(g, wgT)
    N, C, H, W = x_shape
    (KH, KW), (G, K, Og) = kernel, wgT.shape
    Ho, Wo = g.shape[2:]
    (sh, sw), ((pt, _), (pl, _)), (dh, dw) = stride, padding, dilation
    Hb, Wb = frame_size((H, W), (pt, pl), stride, kernel, dilation, (Ho, Wo))
    wide = (sh, sw) == (1, 1) and Wb <= WIDE_MAX_GROWTH * Wo  # rows of width Wb: each tap adds one run per image
    Wq = Wb if wide else Wo
    tail = dh * (KH - 1) * Wb + dw * (KW - 1) if wide else 0
    gx = xp.empty((C, N, H, W), dtype=g.dtype)
    nb = chunk_images(N, ((C * KH * KW + G * Og) * Ho * Wq + C * Hb * Wb) * g.itemsize)  # columns, g and frames

    def images(a, b):  # images a..b, on one thread
        for n0 in range(a, b, nb):
            n1 = min(n0 + nb, b)
            m = n1 - n0
            # NOTE: columns and frames live in scratch buffers kept between calls (no fresh megabytes per chunk)
            cols = scratch(xp, "im2col.cols", (G, K, m * Ho * Wq), g.dtype)
            gc = images_channels_first(g, n0, n1, Wq, "data_adjoint.g")  # zero past Wo: their adds are exact zeros
            xp.matmul(wgT, gc.reshape(G, Og, m * Ho * Wq), out=cols)  # (G, C/G*KH*KW, m*Ho*Wq)
            buf = scratch(xp, "im2col.frame", (C, m * Hb * Wb + tail), g.dtype)  # the chunk's frames, then the tail
            buf.fill(0)
            col2im(xp, buf, cols.reshape(C, KH, KW, m, Ho, Wq), kernel, stride, dilation, (Hb, Wb), wide)
            frame = buf[:, : m * Hb * Wb].reshape(C, m, Hb, Wb)
            gx[:, n0:n1] = frame[:, :, pt : pt + H, pl : pl + W]

    parallel(images, N, xp, split_step(N, nb, wgT.size * N * Ho * Wo))
    return gx


def col2im(xp, buf, cols, kernel, stride, dilation, frame_hw, wide: bool) -> None:
    """windows.col2im_add (each tap's columns cols (C, KH, KW, m, Ho, width) added onto the frames in buf), by the
    compiled kernel where there is one: one pass in which each image's frame stays in cache, instead of one NumPy
    add per tap over the whole chunk (LeNet-5's 6->16 conv: 0.39 -> 0.05 ms per chunk of 16 images)."""
    k = kernels(xp)
    if k is None:
        col2im_add(buf, cols, kernel, stride, dilation, frame_hw, wide)
        return
    C, KH, KW, m, Ho, width = cols.shape
    (dh, dw), (Hb, Wb) = dilation, frame_hw
    if wide:
        k.col2im_wide(buf, cols.reshape(C, KH, KW, m, Ho * width), Hb * Wb, dh * Wb, dw)
    else:
        frames = buf[:, : m * Hb * Wb].reshape(C, m, Hb, Wb)
        k.col2im_narrow(frames, cols, stride[0], stride[1], dh, dw)
