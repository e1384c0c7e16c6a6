"""ONNX export: run a model once on an example input, record each call of a layer it can convert, and write
those layers as an ONNX graph (the `onnx` package is optional and imported only here, by export).

The trace follows tensors between layers, so any wiring of layers works (a chain, MaxPool2d's indices fed to
a MaxUnpool2d); arithmetic between layers is not seen, and export refuses it, naming the module doing it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import nn
from ..backend import to_device
from ..conv.arithmetic import ntuple
from ..conv.upsample import _matrix, _taps
from ..tensor import Tensor, no_grad

OPSET_MIN = 13  # Softmax over one axis, Resize with half_pixel and cubic_coeff_a, Pad with a pads input


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError(
            "toynn.io.onnx.export needs the onnx package: pip install onnx (or pip install 'toynn[onnx]', "
            "which adds onnxruntime to run the file)"
        ) from None
    return onnx


# ---------------------------------------------------------------------------------------------
# The graph being built: nodes, initializers and what is known of each value


@dataclass
class _Graph:
    params: dict  # id(Parameter or buffer) -> its state_dict name
    nodes: list = field(default_factory=list)  # (op, inputs, outputs, name, attrs)
    inits: dict = field(default_factory=dict)  # name -> NumPy array
    planes: dict = field(default_factory=dict)  # MaxPool indices (flat over the whole tensor) -> H*W of its input
    taken: set = field(default_factory=set)
    param_names: dict = field(default_factory=dict)  # id(tensor) -> initializer name

    def fresh(self, base: str) -> str:
        name, i = base, 0
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name

    def node(self, op: str, inputs, name: str, outputs: int = 1, **attrs):
        """Add a node; returns its output name (or the list of names when outputs > 1)."""
        outs = [self.fresh(name if outputs == 1 else f"{name}:{i}") for i in range(outputs)]
        self.nodes.append((op, list(inputs), outs, self.fresh(f"{name}/{op}"), attrs))
        return outs[0] if outputs == 1 else outs

    def const(self, array, name: str) -> str:
        name = self.fresh(name)
        self.inits[name] = np.asarray(array)
        return name

    def param(self, t: Tensor, path: str, attr: str) -> str:
        """A Parameter or buffer as an initializer under its state_dict name, written once however often used."""
        if id(t) not in self.param_names:
            name = self.fresh(self.params.get(id(t), f"{path}.{attr}" if path else attr))
            self.inits[name] = np.asarray(to_device(t.array, "cpu"))
            self.param_names[id(t)] = name
        return self.param_names[id(t)]

    def ints(self, values, name: str) -> str:
        return self.const(np.asarray(values, dtype=np.int64), name)


@dataclass
class _Call:
    """One layer call seen by the trace."""

    path: str  # the layer's dotted name in the model ("" for the model itself)
    inputs: list  # value names of the Tensor arguments, in order
    args: tuple  # the arguments as passed
    kwargs: dict
    outputs: tuple  # the Tensors it returned
    dynamic_batch: bool

    @property
    def x(self) -> str:
        return self.inputs[0]

    @property
    def in_shape(self) -> tuple:
        return tuple(self.args[0].shape)

    @property
    def out_shape(self) -> tuple:
        return tuple(self.outputs[0].shape)

    def arg(self, i: int, name: str, default=None):
        return self.args[i] if len(self.args) > i else self.kwargs.get(name, default)


# ---------------------------------------------------------------------------------------------
# Converters: one per layer type, each (graph, module, call) -> the output value names


def _spatial(op: str, c: _Call, nd: int) -> None:
    if len(c.in_shape) != nd + 2:
        raise NotImplementedError(
            f"toynn.io.onnx.export: {op} at {c.path!r} got input {c.in_shape}; export needs batched input "
            f"(N, C, {'L' if nd == 1 else 'H, W'})"
        )


def _pads(lo, hi) -> list[int]:
    """ONNX's pads: all the begins (one per spatial dim), then all the ends."""
    return [*lo, *hi]


def _linear(g: _Graph, m, c: _Call):
    w = g.param(m.weight, c.path, "weight")
    b = [g.param(m.bias, c.path, "bias")] if m.bias is not None else []
    if len(c.in_shape) == 2:
        return [g.node("Gemm", [c.x, w, *b], c.path, transB=1)]
    wt = g.node("Transpose", [w], f"{c.path}/weight_t", perm=[1, 0])  # (out, in) -> (in, out)
    y = g.node("MatMul", [c.x, wt], c.path if not b else f"{c.path}/matmul")
    return [g.node("Add", [y, *b], c.path)] if b else [y]


def _pad_input(g: _Graph, c: _Call, x: str, widths, mode: str) -> str:
    """x padded by mode ('reflect', 'replicate', 'circular'); widths ((lo, hi), ...) per spatial dim."""
    rank = len(c.in_shape)
    if mode != "circular":
        pads = _pads([0, 0, *(lo for lo, _ in widths)], [0, 0, *(hi for _, hi in widths)])
        onnx_mode = {"reflect": "reflect", "replicate": "edge"}[mode]
        return g.node("Pad", [x, g.ints(pads, f"{c.path}.pads")], f"{c.path}/pad", mode=onnx_mode)
    # wrap-around (ONNX's Pad mode "wrap" needs opset 19): [last lo cells, x, first hi cells] along each axis
    for i, (lo, hi) in enumerate(widths):
        axis = rank - len(widths) + i
        parts = [x]
        if lo:
            ends = [g.ints([-lo], f"{c.path}.wrap_start"), g.ints([np.iinfo(np.int64).max], f"{c.path}.wrap_end")]
            parts.insert(0, g.node("Slice", [x, *ends, g.ints([axis], f"{c.path}.axis")], f"{c.path}/wrap_lo"))
        if hi:
            ends = [g.ints([0], f"{c.path}.wrap_start"), g.ints([hi], f"{c.path}.wrap_end")]
            parts.append(g.node("Slice", [x, *ends, g.ints([axis], f"{c.path}.axis")], f"{c.path}/wrap_hi"))
        x = g.node("Concat", parts, f"{c.path}/wrap", axis=axis) if len(parts) > 1 else x
    return x


def _conv(g: _Graph, m, c: _Call):
    nd = m._nd
    _spatial(type(m).__name__, c, nd)
    x, k, d = c.x, m.kernel_size, m.dilation
    if m.padding == "valid":
        lo = hi = (0,) * nd
    elif m.padding == "same":  # d(k-1) in total, the odd one at the end, as toynn.conv (and PyTorch)
        lo = tuple(d[i] * (k[i] - 1) // 2 for i in range(nd))
        hi = tuple(d[i] * (k[i] - 1) - lo[i] for i in range(nd))
    else:
        lo = hi = m.padding
    if m.padding_mode != "zeros":
        x = _pad_input(g, c, x, list(zip(lo, hi)), m.padding_mode)
        lo = hi = (0,) * nd
    w = g.param(m.weight, c.path, "weight")
    b = [g.param(m.bias, c.path, "bias")] if m.bias is not None else []
    attrs = dict(kernel_shape=list(k), strides=list(m.stride), dilations=list(d), pads=_pads(lo, hi), group=m.groups)
    return [g.node("Conv", [x, w, *b], c.path, **attrs)]


def _conv_transpose(g: _Graph, m, c: _Call):
    nd = m._nd
    _spatial(type(m).__name__, c, nd)
    out_pad = m._output_padding(c.args[0], c.arg(1, "output_size"))
    w = g.param(m.weight, c.path, "weight")
    b = [g.param(m.bias, c.path, "bias")] if m.bias is not None else []
    attrs = dict(
        kernel_shape=list(m.kernel_size),
        strides=list(m.stride),
        dilations=list(m.dilation),
        pads=_pads(m.padding, m.padding),
        output_padding=list(out_pad),
        group=m.groups,
    )
    return [g.node("ConvTranspose", [c.x, w, *b], c.path, **attrs)]


def _window(m, nd: int, dilation=1):
    """(kernel, stride, padding, dilation) as nd-tuples; stride None or () means the kernel, as in toynn.conv."""
    op = type(m).__name__
    k = ntuple(m.kernel_size, nd, "kernel_size", op)
    s = k if m.stride is None or m.stride == () else ntuple(m.stride, nd, "stride", op)
    return k, s, ntuple(m.padding, nd, "padding", op), ntuple(dilation, nd, "dilation", op)


def _max_pool(g: _Graph, m, c: _Call, nd: int):
    _spatial(type(m).__name__, c, nd)
    k, s, p, d = _window(m, nd, m.dilation)
    attrs = dict(kernel_shape=list(k), strides=list(s), pads=_pads(p, p), dilations=list(d), ceil_mode=int(m.ceil_mode))
    if not m.return_indices:
        return [_drop_last_window(g, c, g.node("MaxPool", [c.x], c.path, **attrs), m.ceil_mode, k, s, p, d)]
    y, idx = g.node("MaxPool", [c.x], c.path, outputs=2, **attrs)
    idx = _drop_last_window(g, c, idx, m.ceil_mode, k, s, p, d)
    g.planes[idx] = math.prod(c.in_shape[2:])
    return [_drop_last_window(g, c, y, m.ceil_mode, k, s, p, d), idx]


def _drop_last_window(g: _Graph, c: _Call, y: str, ceil_mode: bool, k, s, p, d) -> str:
    """In ceil_mode PyTorch drops a last window that would start in the right padding; ONNX keeps it."""
    out = c.out_shape[2:]
    if not ceil_mode:
        return y
    onnx_out = [-(-(n + 2 * p_ - d_ * (k_ - 1) - 1) // s_) + 1 for n, k_, s_, p_, d_ in zip(c.in_shape[2:], k, s, p, d)]
    if list(out) == onnx_out:
        return y
    axes = list(range(2, 2 + len(out)))
    ends = [
        g.ints([0] * len(out), f"{c.path}.start"),
        g.ints(list(out), f"{c.path}.end"),
        g.ints(axes, f"{c.path}.axes"),
    ]
    return g.node("Slice", [y, *ends], f"{c.path}/crop")


def _avg_pool(g: _Graph, m, c: _Call, nd: int):
    _spatial(type(m).__name__, c, nd)
    k, s, p, _ = _window(m, nd)
    attrs = dict(kernel_shape=list(k), strides=list(s), pads=_pads(p, p), ceil_mode=int(m.ceil_mode))
    divisor = getattr(m, "divisor_override", None)
    if divisor is None:
        y = g.node("AveragePool", [c.x], c.path, count_include_pad=int(m.count_include_pad), **attrs)
        return [_drop_last_window(g, c, y, m.ceil_mode, k, s, p, (1,) * nd)]
    if m.ceil_mode:
        raise NotImplementedError(
            f"toynn.io.onnx.export: AvgPool2d at {c.path!r} with divisor_override and ceil_mode has no ONNX equivalent"
        )
    # every window then holds kernel cells (padding counted): sum / divisor = mean * (KH KW / divisor)
    y = g.node("AveragePool", [c.x], f"{c.path}/mean", count_include_pad=1, **attrs)
    scale = g.const(np.asarray(math.prod(k) / divisor, dtype=c.outputs[0].dtype), f"{c.path}.scale")
    return [g.node("Mul", [y, scale], c.path)]


def _adaptive_avg(g: _Graph, c: _Call, nd: int, what: str):
    """Mean over PyTorch's adaptive windows: a global or plain average pool, else averaging matrices."""
    _spatial(what, c, nd)
    size, out = c.in_shape[2:], c.out_shape[2:]
    if all(o == 1 for o in out):
        return [g.node("GlobalAveragePool", [c.x], c.path)]
    if all(n % o == 0 for n, o in zip(size, out)):
        k = [n // o for n, o in zip(size, out)]
        return [g.node("AveragePool", [c.x], c.path, kernel_shape=k, strides=k)]
    # unequal windows: y = A_h @ x @ A_w^T, exact, as toynn.conv does it
    y, dtype = c.x, c.outputs[0].dtype
    if nd == 2:
        a_h = g.const(_averaging_matrix(size[0], out[0], dtype), f"{c.path}.rows")  # (Ho, H)
        y = g.node("MatMul", [a_h, y], f"{c.path}/rows")  # (Ho, H) @ (N, C, H, W) -> (N, C, Ho, W)
    a_w = g.const(_averaging_matrix(size[-1], out[-1], dtype).T, f"{c.path}.cols")  # (W, Wo)
    return [g.node("MatMul", [y, a_w], c.path)]  # (N, C, Ho, W) @ (W, Wo) -> (N, C, Ho, Wo)


def _averaging_matrix(n: int, out: int, dtype) -> np.ndarray:
    """(out, n): row o averages the adaptive window [floor(o n / out), ceil((o + 1) n / out))."""
    o = np.arange(out)
    start, end = (o * n) // out, -((-(o + 1) * n) // out)
    inside = (np.arange(n) >= start[:, None]) & (np.arange(n) < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def _adaptive_max(g: _Graph, m, c: _Call, nd: int):
    what = type(m).__name__
    _spatial(what, c, nd)
    size, out = c.in_shape[2:], c.out_shape[2:]
    if not m.return_indices and all(o == 1 for o in out):
        return [g.node("GlobalMaxPool", [c.x], c.path)]
    if not m.return_indices and all(n % o == 0 for n, o in zip(size, out)):
        k = [n // o for n, o in zip(size, out)]
        return [g.node("MaxPool", [c.x], c.path, kernel_shape=k, strides=k)]
    why = "return_indices=True" if m.return_indices else f"input {size} not a multiple of output {out}"
    raise NotImplementedError(f"toynn.io.onnx.export: {what} at {c.path!r} ({why}) has no ONNX equivalent")


def _max_unpool(g: _Graph, m, c: _Call, nd: int):
    what = type(m).__name__
    _spatial(what, c, nd)
    x, idx = c.inputs[:2]
    plane = g.planes.get(idx)
    if plane is None:
        raise NotImplementedError(
            f"toynn.io.onnx.export: {what} at {c.path!r} needs its indices straight from a MaxPool in the same model; "
            "ONNX indexes the whole tensor, PyTorch each H*W plane"
        )
    k, s, p, _ = _window(m, nd)
    out = tuple(c.out_shape[2:])
    default = tuple((i - 1) * s_ - 2 * p_ + k_ for i, s_, p_, k_ in zip(c.in_shape[2:], s, p, k))
    # onnxruntime refuses an output smaller than the default: unpool into planes of at least the default
    # size, then keep the first prod(out) cells of each (PyTorch places values by flat index in the plane)
    big = tuple(max(o, d) for o, d in zip(out, default))
    if math.prod(big) != plane:  # re-base ONNX's whole-tensor indices on output planes of another size
        hw = g.ints(plane, f"{c.path}.plane_in")
        which = g.node("Div", [idx, hw], f"{c.path}/plane")  # n C + c
        within = g.node("Mod", [idx, hw], f"{c.path}/within")  # h W + w
        scaled = g.node("Mul", [which, g.ints(math.prod(big), f"{c.path}.plane_out")], f"{c.path}/rebase")
        idx = g.node("Add", [scaled, within], f"{c.path}/indices")
    inputs = [x, idx] + ([_with_batch_channels(g, c, x, big)] if big != default else [])
    attrs = dict(kernel_shape=list(k), strides=list(s), pads=_pads(p, p))
    if big == out:
        return [g.node("MaxUnpool", inputs, c.path, **attrs)]
    y = g.node("MaxUnpool", inputs, f"{c.path}/unpool", **attrs)  # (N, C, *big)
    y = g.node("Reshape", [y, g.ints([0, 0, -1], f"{c.path}.planes")], f"{c.path}/planes")  # (N, C, prod(big))
    ends = [g.ints([0], f"{c.path}.start"), g.ints([math.prod(out)], f"{c.path}.end"), g.ints([2], f"{c.path}.axes")]
    y = g.node("Slice", [y, *ends], f"{c.path}/crop")  # (N, C, prod(out))
    return [g.node("Reshape", [y, g.ints([0, 0, *out], f"{c.path}.shape")], c.path)]  # (N, C, *out)


def _with_batch_channels(g: _Graph, c: _Call, x: str, spatial) -> str:
    """[N, C, *spatial] with N and C read from x at run time, so the batch stays dynamic."""
    shape = g.node("Shape", [x], f"{c.path}/shape")
    lead = g.node(
        "Slice", [shape, g.ints([0], f"{c.path}.start"), g.ints([2], f"{c.path}.end")], f"{c.path}/batch_channels"
    )
    return g.node("Concat", [lead, g.ints(list(spatial), f"{c.path}.size")], f"{c.path}/sizes", axis=0)


_RESIZE = {
    "nearest": dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
    "nearest-exact": dict(
        mode="nearest", coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil"
    ),
    "linear": dict(mode="linear"),
    "bilinear": dict(mode="linear"),
    "bicubic": dict(mode="cubic", cubic_coeff_a=-0.75, exclude_outside=0),
}


def _upsample(g: _Graph, m, c: _Call):
    nd = len(c.in_shape) - 2
    if m.mode == "area":
        return _adaptive_avg(g, c, nd, type(m).__name__)
    size, out = c.in_shape[2:], c.out_shape[2:]
    attrs = dict(_RESIZE[m.mode])
    if m.mode not in ("nearest", "nearest-exact"):
        attrs["coordinate_transformation_mode"] = "align_corners" if m.align_corners else "half_pixel"
    # the scale maps output to input coordinates: PyTorch uses 1 / scale_factor when given, else in / out;
    # ONNX 1 / scales[i] with scales, else in / out with sizes. Sizes also keep PyTorch's copies (linear
    # and 2-D nearest when out == in) and its 2-D nearest halving (out == 2 in), whatever the scale factor.
    sf = None
    if m.scale_factor is not None and not m.recompute_scale_factor:
        sf = (m.scale_factor,) * nd if isinstance(m.scale_factor, (int, float)) else tuple(m.scale_factor)
    copies = m.mode in ("linear", "bilinear") or (m.mode == "nearest" and nd == 2)  # as toynn.conv's _taps
    if size == out and not copies:  # onnxruntime copies when no size changes, where PyTorch still resamples
        return [_resample_by_matrices(g, m, c, sf)]
    scales = None if sf is None else np.asarray([1, 1, *sf], dtype=np.float32)
    if scales is not None:
        exact = [copies and (o == n or (m.mode == "nearest" and o == 2 * n)) for n, o in zip(size, out)]
        if any(exact) or [math.floor(n * s) for n, s in zip(size, scales[2:])] != list(out):
            scales = None
    if scales is not None:
        return [g.node("Resize", [c.x, "", g.const(scales, f"{c.path}.scales")], c.path, **attrs)]
    sizes = _with_batch_channels(g, c, c.x, out)
    return [g.node("Resize", [c.x, "", "", sizes], c.path, **attrs)]


def _resample_by_matrices(g: _Graph, m, c: _Call, scale_factors) -> str:
    """y = A_h @ x @ A_w^T with toynn's own interpolation weights per axis (an exact linear map)."""
    size, out, dtype = c.in_shape[2:], c.out_shape[2:], c.outputs[0].dtype
    scales = scale_factors or (None,) * len(size)
    y = c.x
    for axis, (n, o, s) in enumerate(zip(size, out, scales), start=2):
        idx, wts = _taps(m.mode, n, o, s, bool(m.align_corners), np.dtype(dtype), len(size))
        a = _matrix(idx, wts, n, dtype)  # (out, in)
        last = axis == len(c.in_shape) - 1
        name = c.path if last else f"{c.path}/rows"
        if last:  # (N, C, ..., in) @ (in, out)
            y = g.node("MatMul", [y, g.const(a.T, f"{c.path}.cols")], name)
        else:  # (out, in) @ (N, C, in, W)
            y = g.node("MatMul", [g.const(a, f"{c.path}.rows"), y], name)
    return y


def _batch_norm(g: _Graph, m, c: _Call):
    if m.running_mean is None:
        raise NotImplementedError(
            f"toynn.io.onnx.export: {type(m).__name__} at {c.path!r} has track_running_stats=False, so it normalises "
            "by batch statistics even in eval mode; ONNX's BatchNormalization uses stored statistics"
        )
    dtype = m.running_mean.dtype
    n = m.num_features
    scale = g.param(m.weight, c.path, "weight") if m.weight is not None else g.const(np.ones(n, dtype), f"{c.path}.one")
    bias = g.param(m.bias, c.path, "bias") if m.bias is not None else g.const(np.zeros(n, dtype), f"{c.path}.zero")
    stats = [g.param(m.running_mean, c.path, "running_mean"), g.param(m.running_var, c.path, "running_var")]
    return [g.node("BatchNormalization", [c.x, scale, bias, *stats], c.path, epsilon=float(m.eps))]


def _lrn(g: _Graph, m, c: _Call):
    if m.size % 2:  # ONNX's window c - (size-1)/2 .. c + (size-1)/2 is PyTorch's when size is odd
        return [g.node("LRN", [c.x], c.path, size=m.size, alpha=float(m.alpha), beta=float(m.beta), bias=float(m.k))]
    # even size: PyTorch's window c - size/2 .. c + size/2 - 1, as an average pool over channels (as PyTorch does)
    C = c.in_shape[1]
    dtype = c.outputs[0].dtype
    sq = g.node("Mul", [c.x, c.x], f"{c.path}/square")
    planes = g.node("Reshape", [sq, g.ints([0, 1, C, -1], f"{c.path}.planes")], f"{c.path}/planes")  # (N, 1, C, HW)
    lo, hi = m.size // 2, (m.size - 1) // 2
    attrs = dict(kernel_shape=[m.size, 1], pads=[lo, 0, hi, 0], count_include_pad=1)
    mean = g.node("AveragePool", [planes], f"{c.path}/window", **attrs)  # (N, 1, C, HW): sum / size
    mean = g.node("Reshape", [mean, g.node("Shape", [c.x], f"{c.path}/shape")], f"{c.path}/unplanes")
    alpha, k, beta = (g.const(np.asarray(v, dtype), f"{c.path}.{n}") for n, v in zip("akb", (m.alpha, m.k, m.beta)))
    div = g.node("Add", [g.node("Mul", [mean, alpha], f"{c.path}/scaled"), k], f"{c.path}/shifted")
    return [g.node("Div", [c.x, g.node("Pow", [div, beta], f"{c.path}/power")], c.path)]


def _softmax(g: _Graph, m, c: _Call, op: str):
    dim = m.dim if m.dim is not None else (0 if len(c.in_shape) in (0, 1, 3) else 1)  # PyTorch's implicit dim
    return [g.node(op, [c.x], c.path, axis=dim)]


def _flatten(g: _Graph, m, c: _Call):
    rank = len(c.in_shape)
    start, end = m.start_dim % rank, m.end_dim % rank
    if c.dynamic_batch and start == 0 and end > 0:
        raise NotImplementedError(
            f"toynn.io.onnx.export: Flatten at {c.path!r} merges the batch dim; pass dynamic_batch=False"
        )
    if start == 1 and end == rank - 1:
        return [g.node("Flatten", [c.x], c.path, axis=1)]
    shape = [0] * start + [-1] + list(c.in_shape[end + 1 :])  # 0: keep that dim (the batch stays dynamic)
    return [g.node("Reshape", [c.x, g.ints(shape, f"{c.path}.shape")], c.path)]


def _unflatten(g: _Graph, m, c: _Call):
    d = m.dim % len(c.in_shape)
    if c.dynamic_batch and d == 0:
        raise NotImplementedError(f"toynn.io.onnx.export: Unflatten at {c.path!r} splits the batch dim")
    shape = [0] * d + list(c.out_shape[d:])
    return [g.node("Reshape", [c.x, g.ints(shape, f"{c.path}.shape")], c.path)]


def _identity(g: _Graph, m, c: _Call):  # Identity, and Dropout in eval mode
    return [c.x]


def _elementwise(op: str, **attrs):
    def convert(g: _Graph, m, c: _Call):
        return [g.node(op, [c.x], c.path, **{k: float(getattr(m, v)) for k, v in attrs.items()})]

    return convert


_CONVERTERS = {
    nn.Linear: _linear,
    nn.Conv1d: _conv,
    nn.Conv2d: _conv,
    nn.ConvTranspose1d: _conv_transpose,
    nn.ConvTranspose2d: _conv_transpose,
    nn.MaxPool1d: lambda g, m, c: _max_pool(g, m, c, 1),
    nn.MaxPool2d: lambda g, m, c: _max_pool(g, m, c, 2),
    nn.AvgPool1d: lambda g, m, c: _avg_pool(g, m, c, 1),
    nn.AvgPool2d: lambda g, m, c: _avg_pool(g, m, c, 2),
    nn.AdaptiveAvgPool1d: lambda g, m, c: _adaptive_avg(g, c, 1, "AdaptiveAvgPool1d"),
    nn.AdaptiveAvgPool2d: lambda g, m, c: _adaptive_avg(g, c, 2, "AdaptiveAvgPool2d"),
    nn.AdaptiveMaxPool1d: lambda g, m, c: _adaptive_max(g, m, c, 1),
    nn.AdaptiveMaxPool2d: lambda g, m, c: _adaptive_max(g, m, c, 2),
    nn.MaxUnpool1d: lambda g, m, c: _max_unpool(g, m, c, 1),
    nn.MaxUnpool2d: lambda g, m, c: _max_unpool(g, m, c, 2),
    nn.Upsample: _upsample,
    nn.UpsamplingNearest2d: _upsample,
    nn.UpsamplingBilinear2d: _upsample,
    nn.BatchNorm1d: _batch_norm,
    nn.BatchNorm2d: _batch_norm,
    nn.LocalResponseNorm: _lrn,
    nn.ReLU: _elementwise("Relu"),
    nn.LeakyReLU: _elementwise("LeakyRelu", alpha="negative_slope"),
    nn.Sigmoid: _elementwise("Sigmoid"),
    nn.Tanh: _elementwise("Tanh"),
    nn.Softmax: lambda g, m, c: _softmax(g, m, c, "Softmax"),
    nn.LogSoftmax: lambda g, m, c: _softmax(g, m, c, "LogSoftmax"),
    nn.Flatten: _flatten,
    nn.Unflatten: _unflatten,
    nn.Identity: _identity,
    nn.Dropout: _identity,
    nn.Dropout2d: _identity,
}


def supported_layers() -> list[str]:
    """The layer classes export converts (subclasses that override forward are not among them)."""
    return sorted(cls.__name__ for cls in _CONVERTERS)


# ---------------------------------------------------------------------------------------------
# The trace: Module.__call__ is wrapped while the model runs once


_ONLY_LAYERS = (
    "export converts the layers that toynn.onnx.supported_layers() lists, wired to each other directly or through "
    "containers (Sequential, or modules whose forward only calls layers); move other computations into such layers, "
    "or export the parts on either side of them"
)


class _Trace:
    def __init__(self, model, graph: _Graph, dynamic_batch: bool):
        self.graph, self.dynamic_batch = graph, dynamic_batch
        self.paths = {id(m): name for name, m in model.named_modules()}
        self.names = {}  # id(Tensor) -> value name
        self.alive = []  # every traced Tensor, kept so that no id is reused while tracing
        self.stack = []  # the containers whose forward is running
        self.in_layer = False

    def path(self, m) -> str:
        return self.paths.get(id(m), type(m).__name__)  # a module made inside forward has no name in the model

    def where(self, m) -> str:
        path = self.path(m)
        return f"{path!r} ({type(m).__name__})" if path else f"the model ({type(m).__name__})"

    def add(self, t: Tensor, name: str) -> None:
        self.names[id(t)] = name
        self.alive.append(t)

    def name_of(self, t: Tensor, m) -> str:
        if id(t) not in self.names:
            where = self.where(self.stack[-1]) if self.stack else "the caller"
            raise NotImplementedError(
                f"toynn.io.onnx.export: the input of layer {self.where(m)} was computed in the forward of {where} by "
                f"something other than a layer (arithmetic or a function call). {_ONLY_LAYERS}"
            )
        return self.names[id(t)]

    def call(self, m, forward, args, kwargs):
        if self.in_layer:  # inside a converted layer: its own sub-calls are its business
            return forward(*args, **kwargs)
        convert = _CONVERTERS.get(type(m))
        if convert is None:
            if next(m.children(), None) is None and not isinstance(m, nn.ModuleList):
                raise NotImplementedError(
                    f"toynn.io.onnx.export: {self.where(m)} has no ONNX conversion. {_ONLY_LAYERS}"
                )
            self.stack.append(m)
            try:
                out = forward(*args, **kwargs)
            finally:
                self.stack.pop()
            for t in _tensors(out):
                if id(t) not in self.names:
                    raise NotImplementedError(
                        f"toynn.io.onnx.export: the forward of {self.where(m)} computes its output {tuple(t.shape)} by "
                        f"something other than a layer (arithmetic or a function call). {_ONLY_LAYERS}"
                    )
            return out
        inputs = [self.name_of(a, m) for a in [*args, *kwargs.values()] if isinstance(a, Tensor)]
        self.in_layer = True
        try:
            out = forward(*args, **kwargs)
        finally:
            self.in_layer = False
        outputs = tuple(_tensors(out))
        call = _Call(self.path(m) or type(m).__name__, inputs, args, kwargs, outputs, self.dynamic_batch)
        for t, name in zip(outputs, convert(self.graph, m, call)):
            self.add(t, name)
        return out


def _tensors(out) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for t in out if isinstance(t, Tensor)]
    return []


def export(
    model,
    example_input,
    path,
    input_names=None,
    output_names=None,
    opset_version: int = 17,
    dynamic_batch: bool = True,
) -> Path:
    """Write model as an ONNX file by running it once, in eval mode, on example_input; returns the path.

    example_input: a Tensor (or array), or a tuple of them for a forward with several inputs. Each layer call
    becomes ONNX nodes; parameters and buffers become initializers under their state_dict names. The outputs
    are what the model returns (a Tensor or a tuple of them). dynamic_batch makes dim 0 of every input and
    output symbolic ("N"), so the file runs on any batch size. The file passes onnx.checker (full_check).
    """
    onnx = _import_onnx()
    from onnx import helper

    if not isinstance(model, nn.Module):
        raise TypeError(f"toynn.io.onnx.export: model must be a toynn.nn.Module; got {type(model).__name__}")
    if not OPSET_MIN <= opset_version <= onnx.defs.onnx_opset_version():
        raise ValueError(
            f"toynn.io.onnx.export: opset_version must be in {OPSET_MIN}..{onnx.defs.onnx_opset_version()} "
            f"(the installed onnx's newest); got {opset_version}"
        )
    inputs = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    inputs = tuple(t if isinstance(t, Tensor) else Tensor(np.asarray(t)) for t in inputs)
    input_names = _names(input_names, "input", len(inputs))
    params = {id(t): name for name, t in [*model.named_parameters(), *model.named_buffers()]}
    graph = _Graph(params)
    trace = _Trace(model, graph, dynamic_batch)
    for t, name in zip(inputs, input_names):
        graph.taken.add(name)
        trace.add(t, name)

    modes = [(m, m.training) for m in model.modules()]
    call = nn.Module.__call__
    nn.Module.__call__ = lambda m, *args, **kwargs: trace.call(m, m.forward, args, kwargs)
    try:
        model.eval()
        with no_grad():
            out = model(*inputs)
    finally:
        nn.Module.__call__ = call
        for m, training in modes:
            m.training = training
    outputs = _tensors(out)
    if not outputs:
        raise TypeError(f"toynn.io.onnx.export: the model returned {type(out).__name__}, not Tensors")
    output_names = _names(output_names, "output", len(outputs))
    batch = inputs[0].shape[0] if inputs[0].ndim else None
    for t in outputs:
        if dynamic_batch and (t.ndim == 0 or t.shape[0] != batch):
            raise ValueError(
                f"toynn.io.onnx.export: dynamic_batch=True needs outputs whose dim 0 is the batch ({batch}); "
                f"got an output of shape {tuple(t.shape)}; pass dynamic_batch=False"
            )

    # name the outputs: rename the value a node produced (moving aside any other value of that name), or
    # copy it with a node (a graph input, or a value returned twice)
    rename, produced = {}, {o for _, _, outs, _, _ in graph.nodes for o in outs}
    for t, name in zip(outputs, output_names):
        value = trace.names[id(t)]
        if name in graph.taken and name != value and name not in input_names:
            rename[name] = graph.fresh(f"{name}_")
        if value in graph.planes:  # ONNX's MaxPool indices count over the whole tensor; PyTorch's per plane
            plane = graph.ints(graph.planes[value], f"{name}.plane")
            graph.nodes.append(("Mod", [value, plane], [name], f"{name}/Mod", {}))
        elif value in produced and value not in rename and value not in output_names:
            rename[value] = name
        elif value != name:
            graph.nodes.append(("Identity", [value], [name], f"{name}/Identity", {}))
        graph.taken.add(name)

    def value_info(name, t):
        dims = ["N" if dynamic_batch and i == 0 else int(n) for i, n in enumerate(t.shape)]
        return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype)), dims)

    nodes = [
        helper.make_node(op, [rename.get(i, i) for i in ins], [rename.get(o, o) for o in outs], name=name, **attrs)
        for op, ins, outs, name, attrs in graph.nodes
    ]
    proto = helper.make_model(
        helper.make_graph(
            nodes,
            type(model).__name__,
            [value_info(n, t) for n, t in zip(input_names, inputs)],
            [value_info(n, t) for n, t in zip(output_names, outputs)],
        ),
        opset_imports=[helper.make_opsetid("", opset_version)],
        producer_name="toynn",
    )
    for name, a in graph.inits.items():  # written into the graph in place: one copy of the weights, not three
        t = proto.graph.initializer.add()
        t.name, t.data_type = rename.get(name, name), helper.np_dtype_to_tensor_dtype(a.dtype)
        t.dims.extend(a.shape)
        t.raw_data = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()  # ONNX is little-endian
    proto.ir_version = helper.find_min_ir_version_for(proto.opset_import)  # readable by older runtimes too
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(path))
    try:  # NOTE: checking the file, not the proto, spares serialising the weights a second time
        onnx.checker.check_model(str(path), full_check=True)
    except Exception:
        path.unlink()
        raise
    return path


def _names(names, default: str, n: int) -> list[str]:
    if names is None:
        return [default] if n == 1 else [f"{default}_{i}" for i in range(n)]
    names = [names] if isinstance(names, str) else list(names)
    if len(names) != n or len(set(names)) != n:
        raise ValueError(f"toynn.io.onnx.export: {default}_names must be {n} distinct names; got {names}")
    return names


__all__ = ["OPSET_MIN", "export", "supported_layers"]
