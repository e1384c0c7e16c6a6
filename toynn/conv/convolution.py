"""Convolution: three array helpers (conv, its data adjoint, its weight adjoint), the Conv2d and
ConvTranspose2d Functions built from them as an adjoint pair, and the public conv functions.

Each helper says which GEMM it computes on im2col columns; gemm.py runs it (chunks, threads, row widths,
scratch buffers). Outputs are returned as (N, C, H, W) views of channels-first (C, N, H, W) memory; NumPy's
elementwise ops keep the layout, so the next conv finds its input already channels first and copies nothing.
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..backend import array_module
from ..compiled import kernels
from ..errors import ShapeError
from ..tensor import Function, Tensor
from . import direct
from .arithmetic import (
    add_batch,
    as_2d,
    channels,
    check_nonnegative,
    check_positive,
    check_same_dtype,
    check_tensor,
    conv_out,
    conv_transpose_out,
    dims,
    from_2d,
    ntuple,
    tensors,
)
from .gemm import (
    col2im_gemm,
    flip_pays,
    gemm_into,
    images_channels_first,
    over_chunks,
    row_width,
    shares_columns,
    sum_terms,
    weight_adjoint_width,
)


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
    whole = out_hw is None  # every output, not only the first out_hw (the direct loop computes them all)
    if out_hw is None:
        out_hw = (conv_out(H, KH, sh, pt, pb, dh), conv_out(W, KW, sw, pl, pr, dw))
    Ho, Wo = out_hw
    if N == 0:  # an empty batch, as PyTorch: an empty output (the chunks and threads below need images)
        return xp.zeros((0, O, Ho, Wo), dtype=x.dtype)
    k = kernels(xp)
    if k is not None and whole and direct.pays(x.shape, w.shape, stride, padding, groups):
        return direct.conv(k, x, w, padding, dilation, out_hw, bias).transpose(1, 0, 2, 3)  # thin layers: no GEMM
    Wq = row_width(W, padding, stride, Wo, C * KH * KW)  # the columns' row width: Wo, or wider rows that copy faster
    wg = w.reshape(G, O // G, Cg * KH * KW)  # (G, O/G, C/G*KH*KW): one GEMM per group
    out = xp.empty((O, N, Ho, Wo), dtype=x.dtype)

    def product(n0, n1, cols):  # out[:, n0:n1] = wg @ cols (+ bias), cols (C, KH, KW, m, Ho, Wq)
        gemm_into(xp, wg, cols.reshape(G, Cg * KH * KW, -1), out[:, n0:n1], Wq, bias)

    image_bytes = (C * KH * KW + O) * Ho * Wq * x.itemsize  # an image's columns and outputs
    over_chunks(product, xp, x, (KH, KW), stride, padding, dilation, out_hw, Wq, image_bytes, w.size * N * Ho * Wo)
    return out.transpose(1, 0, 2, 3)  # (N, O, Ho, Wo), a view of channels-first memory


def conv_data_adjoint(g, w, x_shape, stride, padding, dilation, groups):
    """The adjoint of conv in x (conv_transpose2d's forward). g (N, O, Ho, Wo), w (O, C/G, KH, KW) -> x_shape."""
    O, Cg, KH, KW = w.shape
    G = groups
    if g.shape[0] == 0:  # an empty batch
        return array_module(g, w).zeros(x_shape, dtype=g.dtype)
    if stride == (1, 1) and flip_pays(x_shape, g.shape):
        # a stride-1 conv's adjoint is a conv of g with the kernel flipped and in/out channels swapped per group
        wf, pads = _flipped(w, x_shape, g.shape[2:], padding, dilation, G)
        return conv(g, wf, (1, 1), pads, dilation, G)
    # col2im: the columns wgT @ g, each tap's added back onto the input cells it read
    wgT = w.reshape(G, O // G, Cg * KH * KW).transpose(0, 2, 1)  # (G, C/G*KH*KW, O/G)
    gx = col2im_gemm(g, wgT, x_shape, (KH, KW), stride, padding, dilation)  # (C, N, H, W)
    return gx.transpose(1, 0, 2, 3)  # (N, C, H, W)


def conv_weight_adjoint(g, x, w_shape, stride, padding, dilation, groups):
    """The adjoint of conv in w. g (N, O, Ho, Wo), x (N, C, H, W) -> w_shape (O, C/G, KH, KW)."""
    xp = array_module(g, x)
    O, Cg, KH, KW = w_shape
    G = groups
    Ho, Wo = g.shape[2:]
    N, C = x.shape[:2]
    if N == 0:  # an empty batch adds nothing to the weight's gradient
        return xp.zeros(w_shape, dtype=g.dtype)
    k = kernels(xp)
    if k is not None and direct.pays(x.shape, w_shape, stride, padding, groups) and g.dtype == x.dtype:
        return direct.weight_adjoint(k, g, x, w_shape, padding, dilation)  # thin layers: no GEMM
    Wq = weight_adjoint_width(x.shape, w_shape, padding, stride, Wo, G)

    def product(n0, n1, cols):  # this chunk's term of gw^T = cols @ g^T
        gc = images_channels_first(g, n0, n1, Wq, "weight_adjoint.g")  # the extra outputs get zero
        gc = gc.reshape(G, O // G, -1)  # (G, O/G, m*Ho*Wq)
        # NOTE: cols @ g^T, (C/G*KH*KW, n) @ (n, O/G), runs faster than its transpose g @ cols^T
        return cols.reshape(G, Cg * KH * KW, -1) @ gc.transpose(0, 2, 1)  # (G, C/G*KH*KW, O/G)

    image_bytes = (C * KH * KW + O) * Ho * Wq * x.itemsize  # an image's columns and g
    macs = O * Cg * KH * KW * N * Ho * Wo
    terms = over_chunks(product, xp, x, (KH, KW), stride, padding, dilation, (Ho, Wo), Wq, image_bytes, macs)
    gwT = sum_terms(terms, xp)
    return gwT.transpose(0, 2, 1).reshape(O, Cg, KH, KW)  # (G, O/G, C/G*KH*KW) -> (O, C/G, KH, KW)


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
    if N == 0:  # an empty batch
        return xp.zeros(x.shape, dtype=g.dtype), xp.zeros(w.shape, dtype=g.dtype)
    wf, pads = _flipped(w, x.shape, g.shape[2:], padding, dilation, groups)
    Wq = row_width(g.shape[3], pads, (1, 1), W, O * KH * KW)
    wfg = wf.reshape(G, Cg, (O // G) * KH * KW)  # (G, C/G, O/G*KH*KW)
    gx = xp.empty((C, N, H, W), dtype=g.dtype)

    def products(n0, n1, cols):  # this chunk's share of gx, and its term of gw^T
        cols = cols.reshape(G, (O // G) * KH * KW, -1)  # (G, O/G*KH*KW, m*H*Wq), read by both GEMMs in cache
        gemm_into(xp, wfg, cols, gx[:, n0:n1], Wq)
        # NOTE: x's images zero in the columns past W, so the wide rows' extra outputs add nothing to gw
        xc = images_channels_first(x, n0, n1, Wq, "adjoints.x").reshape(G, Cg, -1)  # (G, C/G, m*H*Wq)
        return cols @ xc.transpose(0, 2, 1)  # (G, O/G*KH*KW, C/G)

    image_bytes = (O * KH * KW + 2 * C) * H * Wq * g.itemsize  # an image's columns, gx and x
    terms = over_chunks(products, xp, g, (KH, KW), (1, 1), pads, dilation, (H, W), Wq, image_bytes, w.size * N * H * W)
    gwT = sum_terms(terms, xp)
    gw = gwT.reshape(G, O // G, KH, KW, Cg)[:, :, ::-1, ::-1]  # (G, O/G, KH, KW, C/G), taps unflipped
    gw = gw.transpose(0, 1, 4, 2, 3).reshape(O, Cg, KH, KW)
    return gx.transpose(1, 0, 2, 3), gw  # gx (N, C, H, W), a view of channels-first memory


# The three Functions below are one bilinear map seen from its three sides: y = conv(x, w), its adjoint in x
# (ConvTranspose2d: g, w -> gx) and its adjoint in w (ConvWeight: g, x -> gw). Each one's backward is made of the
# other two, so a backward that records (create_graph=True) is built of the same three, to any order.


class Conv2d(Function):
    """y = conv(x, w), a cross-correlation. x (N, C, H, W), w (O, C/G, KH, KW) -> (N, O, Ho, Wo)."""

    def forward(self, x, w, *, stride, padding, dilation, groups, out_hw=None):
        self.x, self.w, self.geom, self.out_hw = x, w, (stride, padding, dilation, groups), out_hw
        return conv(x, w, *self.geom, out_hw=out_hw)

    def backward(self, g):
        need, (stride, padding, dilation, groups) = self.needs_input_grad, self.geom
        fused = need[0] and need[1] and not isinstance(g, Tensor)  # NOTE: the fused kernel runs on raw arrays only
        if fused and self.out_hw is None and shares_columns(self.x.shape, self.w.shape, stride):
            return conv_adjoints(g, self.x, self.w, padding, dilation, groups)  # one im2col (of g) for both
        gx = ConvTranspose2d.call(g, self.w, **self._geom(), out_shape=self.x.shape) if need[0] else None
        gw = ConvWeight.call(g, self.x, **self._geom(), w_shape=self.w.shape) if need[1] else None
        return gx, gw

    def _geom(self) -> dict:
        return dict(zip(("stride", "padding", "dilation", "groups"), self.geom))

    def jvp(self, dx, dw):  # bilinear: d conv(x, w) = conv(dx, w) + conv(x, dw); no conv of a missing tangent
        t, hw = self.has_tangent, self.out_hw
        return (conv(dx, self.w, *self.geom, out_hw=hw) if t[0] else 0) + (
            conv(self.x, dw, *self.geom, out_hw=hw) if t[1] else 0
        )


class ConvWeight(Function):
    """gw = conv_weight_adjoint(g, x): the adjoint of conv in w. g (N, O, Ho, Wo), x (N, C, H, W) -> w_shape."""

    def forward(self, g, x, *, stride, padding, dilation, groups, w_shape):
        self.g, self.x, self.geom, self.w_shape = g, x, (stride, padding, dilation, groups), w_shape
        return conv_weight_adjoint(g, x, w_shape, *self.geom)

    def backward(self, h):  # <conv_weight_adjoint(g, x), h> = <g, conv(x, h)> = <conv_data_adjoint(g, h), x>
        geom = dict(zip(("stride", "padding", "dilation", "groups"), self.geom))
        need = self.needs_input_grad
        gg = Conv2d.call(self.x, h, **geom, out_hw=self.g.shape[2:]) if need[0] else None
        gx = ConvTranspose2d.call(self.g, h, **geom, out_shape=self.x.shape) if need[1] else None
        return gg, gx

    def jvp(self, dg, dx):  # bilinear
        t = self.has_tangent
        return (conv_weight_adjoint(dg, self.x, self.w_shape, *self.geom) if t[0] else 0) + (
            conv_weight_adjoint(self.g, dx, self.w_shape, *self.geom) if t[1] else 0
        )


class Conv2dBias(Conv2d):
    """y = conv(x, w) + b over the channel dim, in one node. x (N, C, H, W), w (O, C/G, KH, KW), b (O,).

    Fused for speed: the bias is added to each output chunk while it is in cache, instead of a broadcast add
    that reads and writes the whole output again (and its backward's sum-to in the engine). Conv2d followed by
    a broadcast add is the reference it is tested against.
    """

    def forward(self, x, w, b, *, stride, padding, dilation, groups):
        self.x, self.w, self.geom, self.out_hw = x, w, (stride, padding, dilation, groups), None
        return conv(x, w, *self.geom, bias=b)

    def backward(self, g):
        gx, gw = super().backward(g)
        need = self.needs_input_grad[2]
        gb = array_module(g).sum(g, axis=(0, 2, 3)) if need else None  # the adjoint of broadcasting over N, H, W
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
        geom, need = dict(zip(("stride", "padding", "dilation", "groups"), self.geom)), self.needs_input_grad
        gx = Conv2d.call(g, self.w, **geom, out_hw=self.x.shape[2:]) if need[0] else None
        gw = ConvWeight.call(self.x, g, **geom, w_shape=self.w.shape) if need[1] else None
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
                f"{op}: x has {channels(C)} (x.shape={tuple(input.shape)}) but weight {tuple(weight.shape)} expects "
                f"{weight.shape[0]} (weight.shape[0] is the input channels of a transposed conv)"
            )
        if C % groups:
            raise ShapeError(f"{op}: groups={groups} must divide the input channels {C} (x.shape={tuple(input.shape)})")
        out_channels = weight.shape[1] * groups
    else:
        if C % groups:
            raise ShapeError(f"{op}: groups={groups} must divide the input channels {C} (x.shape={tuple(input.shape)})")
        if weight.shape[0] % groups:
            raise ShapeError(
                f"{op}: groups={groups} must divide the output channels {weight.shape[0]} "
                f"(weight.shape={tuple(weight.shape)})"
            )
        if weight.shape[1] * groups != C:
            raise ShapeError(
                f"{op}: x has {channels(C)} (x.shape={tuple(input.shape)}) but weight {tuple(weight.shape)} with "
                f"groups={groups} expects {weight.shape[1] * groups}"
            )
        out_channels = weight.shape[0]
    if bias is not None:
        if not isinstance(bias, Tensor):
            raise TypeError(f"{op}: bias must be a Tensor or None; got {type(bias).__name__}")
        check_same_dtype(op, "bias", bias, input)
        if bias.shape != (out_channels,):
            raise ShapeError(
                f"{op}: bias must have shape ({out_channels},) for weight {tuple(weight.shape)}; got "
                f"{tuple(bias.shape)}"
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


def _add_bias(y: Tensor, bias: Tensor | None) -> Tensor:
    """y + bias over the channel dim: a separate broadcast add, so conv stays bilinear."""
    return y if bias is None else y + ops.reshape(bias, (1, -1, 1, 1))


def _conv(op, input, weight, bias, stride, padding, dilation, groups, nd):
    input, weight, bias = tensors(input, weight, bias)  # NumPy arrays, lists, numbers: see arithmetic.tensors
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
            f"stride {stride} (x.shape={tuple(input.shape)}, weight.shape={tuple(weight.shape)})"
        )
    x, unbatched = add_batch(input, nd)
    if nd == 1:
        stride, dilation, pads = (1, *stride), (1, *dilation), ((0, 0), *pads)
    geom = dict(stride=stride, padding=pads, dilation=dilation, groups=groups)
    if bias is None:
        y = Conv2d.apply(as_2d(x, nd), as_2d(weight, nd), **geom)
    else:
        y = Conv2dBias.apply(as_2d(x, nd), as_2d(weight, nd), bias, **geom)
    return from_2d(y, nd, unbatched)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation (+ bias). input (N, C, H, W), weight (O, C/groups, KH, KW) -> (N, O, Ho, Wo).

    Ho = floor((H + 2 padding - dilation (KH - 1) - 1) / stride) + 1; padding may be 'same' or 'valid'.
    """
    return _conv("conv2d", input, weight, bias, stride, padding, dilation, groups, 2)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation (+ bias). input (N, C, L), weight (O, C/groups, K) -> (N, O, Lo)."""
    return _conv("conv1d", input, weight, bias, stride, padding, dilation, groups, 1)


def _conv_transpose(op, input, weight, bias, stride, padding, output_padding, groups, dilation, nd):
    input, weight, bias = tensors(input, weight, bias)
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
    x, unbatched = add_batch(input, nd)
    if nd == 1:
        stride, dilation, pad, out = (1, *stride), (1, *dilation), (0, *pad), (1, *out)
    y = ConvTranspose2d.apply(
        as_2d(x, nd),
        as_2d(weight, nd),
        stride=stride,
        padding=tuple((p, p) for p in pad),
        dilation=dilation,
        groups=groups,
        out_shape=(x.shape[0], out_channels, *out),
    )
    return from_2d(_add_bias(y, bias), nd, unbatched)


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
