"""What the explorer shows, as plain functions of a model and one input x (1, C, H, W) or (1, features): every
layer's output, the arithmetic of one output unit, gradients, activation statistics and the graph. No HTTP and no
JSON here (toynn.lecture.explore.api turns these into answers), so each is testable on its own.

A model's layers are its leaf modules, caught as they run (trace), so any model whose forward calls its layers
works, not only chains. The caller holds the model's lock: trace shadows each layer's forward for one run.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np

from ...creation import tensor, zeros
from ...nn import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    Conv2d,
    Flatten,
    Linear,
    MaxPool1d,
    MaxPool2d,
    Module,
)
from ...tensor import Tensor, enable_grad, no_grad, toposort
from ..vision import leaf_layers, receptive_fields
from ..vision.images import as_numpy
from ..vision.receptive import POINTWISE, _geometry


class UnitError(ValueError):
    """A request names a layer or unit the model does not have."""


@dataclass
class Step:
    """One layer's run: its name (as in named_modules), the module, the input it got and the output it gave;
    probe is the zero leaf added to the output when gradients at the output were asked for (trace(probe=True))."""

    name: str
    module: Module
    input: Tensor
    output: Tensor
    probe: Tensor | None = None

    @property
    def type(self) -> str:
        return type(self.module).__name__


@contextlib.contextmanager
def evaluating(model: Module):
    """model in eval mode inside the block, each module's own mode restored afterwards (live training's too)."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, training in flags:
            m.training = training


def trace(model: Module, x: Tensor, probe: bool = False) -> tuple[list[Step], Tensor]:
    """Run model on x, catching each leaf layer's input and output -> (steps in call order, the model's output).

    probe=True adds a zero leaf that requires grad to each layer's output, so that after a backward its .grad is
    the gradient with respect to that output (toynn keeps .grad on leaves only). A layer called twice gives two
    steps, the second named 'name#2'.
    """
    steps: list[Step] = []
    leaves = leaf_layers(model)
    saved = []
    for name, module in leaves:
        own = vars(module).get("forward")
        forward = module.forward

        def recording(*args, _name=name, _module=module, _forward=forward, **kwargs):
            y = _forward(*args, **kwargs)
            out = y[0] if isinstance(y, tuple) else y  # MaxPool2d(return_indices=True) gives (y, indices)
            calls = sum(s.module is _module for s in steps)
            step = Step(_name if not calls else f"{_name}#{calls + 1}", _module, args[0] if args else None, out)
            if probe:
                step.probe = zeros(out.shape, dtype=out.dtype, device=out.device, requires_grad=True)
                out = out + step.probe
                y = (out, *y[1:]) if isinstance(y, tuple) else out
            steps.append(step)
            return y

        saved.append((module, own))
        module.forward = recording
    try:
        out = model(x)
    finally:
        for module, own in saved:
            if own is None:
                del module.forward
            else:
                module.forward = own
    return steps, out


def forward(model: Module, x) -> tuple[list[Step], np.ndarray]:
    """Every layer's output and the class probabilities (classes,) for one input x (1, ...), eval mode, no graph."""
    with evaluating(model), no_grad():
        steps, logits = trace(model, _batch(model, x))
        probs = as_numpy(logits.softmax(dim=1).array)[0]
    return steps, probs


def _batch(model: Module, x) -> Tensor:
    """x as a Tensor in the dtype and on the device of model's parameters."""
    p = next(iter(model.parameters()), None)
    data = x.array if isinstance(x, Tensor) else np.asarray(x)
    return tensor(data, dtype=p.dtype if p is not None else None, device=p.device if p is not None else None)


def layer_kind(module: Module) -> str:
    """How the page draws and explains a layer: 'conv', 'pool', 'linear', 'pointwise', 'flatten' or 'other'."""
    if isinstance(module, Conv2d) and module._nd == 2:
        return "conv"
    if isinstance(module, (MaxPool2d, AvgPool2d, AdaptiveAvgPool2d)) and not isinstance(module, MaxPool1d):
        return "pool"
    if isinstance(module, Linear):
        return "linear"
    if isinstance(module, POINTWISE):
        return "pointwise"
    if isinstance(module, Flatten):
        return "flatten"
    return "other"


# ---------------------------------------------------------------------------------------------------------------
# one unit's arithmetic


def find_step(steps: list[Step], layer: str) -> int:
    """The index of the step named layer; a UnitError lists the names otherwise."""
    for n, s in enumerate(steps):
        if s.name == layer:
            return n
    raise UnitError(f"unknown layer {layer!r}; the model's layers are {', '.join(s.name for s in steps)}")


def check_unit(step: Step, unit) -> tuple[int, ...]:
    """unit as a tuple of ints inside the layer's output for one image (C, H, W) or (features,), else UnitError."""
    shape = tuple(step.output.shape[1:])
    try:
        index = tuple(int(u) for u in unit)
        ok = (
            len(index) == len(shape)
            and all(0 <= u < n for u, n in zip(index, shape))
            and all(float(u) == int(u) for u in unit)
        )
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise UnitError(
            f"unit {unit!r} is not in layer {step.name!r} ({step.type}): expected {len(shape)} indices "
            f"inside its output shape {shape}"
        )
    return index


def unit_arithmetic(model: Module, x, layer: str, unit) -> dict:
    """How layer's output unit (c, i, j) or (j,) was computed for input x, with every number: for a convolution
    the input window times the kernel, summed, plus the bias, and the activation after it; for max pooling the
    window and which input won (the switch); for average pooling the mean; for Linear the inputs times the weight
    row plus the bias; for an elementwise layer its input; for Flatten where the value came from.

    Also the unit's receptive field in the input (top, left, bottom, right; exclusive ends, clipped to the image),
    and `value`, the layer's output there as the forward pass computed it.
    """
    steps, _ = forward(model, x)
    n = find_step(steps, layer)
    step = steps[n]
    index = check_unit(step, unit)
    a_in = as_numpy(step.input.array)[0].astype(np.float64) if step.input is not None else None
    value = float(as_numpy(step.output.array)[(0, *index)])
    kind = layer_kind(step.module)
    out = {"layer": step.name, "type": step.type, "kind": kind, "unit": list(index), "value": value}
    out["field"] = _field(model, x, steps, n, index)
    if kind == "conv":
        out.update(_conv_arithmetic(step, a_in, index))
        nxt = steps[n + 1] if n + 1 < len(steps) else None
        if nxt is not None and layer_kind(nxt.module) == "pointwise" and nxt.input is step.output:
            z = tensor(np.full((1, 1, 1, 1), out["z"], dtype=np.float64))
            with no_grad():
                activated = float(as_numpy(nxt.module(z).array).ravel()[0])
            out["activation"] = {
                "layer": nxt.name,
                "type": nxt.type,
                "value": activated,
                "output": float(as_numpy(nxt.output.array)[(0, *index)]),
            }
    elif kind == "pool":
        out.update(_pool_arithmetic(step, a_in, index))
    elif kind == "linear":
        w = as_numpy(step.module.weight.array).astype(np.float64)[index[0]]
        b = float(as_numpy(step.module.bias.array)[index[0]]) if step.module.bias is not None else 0.0
        inputs = a_in.reshape(-1)
        products = inputs * w
        out.update(inputs=inputs.tolist(), weights=w.tolist(), products=products.tolist())
        out.update(sum=float(products.sum()), bias=b, z=float(products.sum() + b))
    elif kind == "pointwise":
        out["input"] = float(a_in[index])
    elif kind == "flatten":
        source = np.unravel_index(index[0], a_in.shape)
        out.update(source=[int(s) for s in source], input=float(a_in[source]))
    return out


def _conv_arithmetic(step: Step, a_in: np.ndarray, index) -> dict:
    """The window of the (padded) input under filter c at output (i, j), the kernel, their products, the sum,
    the bias and z = sum + bias; window rows and columns in input coordinates (negative or past the end: padding)."""
    m = step.module
    c, i, j = index
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = _geometry(step.name, m)
    C = a_in.shape[0]
    per_group = C // m.groups
    g = c // (m.out_channels // m.groups)
    mode = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}[m.padding_mode]
    padded = np.pad(a_in, ((0, 0), (ph, ph), (pw, pw)), mode=mode)  # (C, H + 2ph, W + 2pw)
    rows = np.arange(kh) * dh + i * sh  # in padded coordinates
    cols = np.arange(kw) * dw + j * sw
    window = padded[g * per_group : (g + 1) * per_group][:, rows][:, :, cols]  # (C/G, KH, KW)
    kernel = as_numpy(m.weight.array).astype(np.float64)[c]  # (C/G, KH, KW)
    products = window * kernel
    bias = float(as_numpy(m.bias.array)[c]) if m.bias is not None else 0.0
    total = float(products.sum())
    return {
        "channels": list(range(g * per_group, (g + 1) * per_group)),
        "in_size": list(a_in.shape[1:]),
        "rows": (rows - ph).tolist(),
        "cols": (cols - pw).tolist(),
        "window": window.tolist(),
        "kernel": kernel.tolist(),
        "products": products.tolist(),
        "channel_sums": products.sum(axis=(1, 2)).tolist(),
        "sum": total,
        "bias": bias,
        "z": total + bias,
        "geometry": {"kernel": [kh, kw], "stride": [sh, sw], "padding": [ph, pw], "dilation": [dh, dw]},
    }


def _pool_arithmetic(step: Step, a_in: np.ndarray, index) -> dict:
    """The window a pooling unit reads and the result: the maximum and where it was (the switch), or the mean."""
    m = step.module
    c, i, j = index
    H, W = a_in.shape[1:]
    if isinstance(m, AdaptiveAvgPool2d):
        Ho, Wo = step.output.shape[2:]
        r0, r1 = (i * H) // Ho, -((-(i + 1) * H) // Ho)  # PyTorch's adaptive bins: floor start, ceil end
        c0, c1 = (j * W) // Wo, -((-(j + 1) * W) // Wo)
        rows, cols = np.arange(r0, r1), np.arange(c0, c1)
        window = a_in[c][np.ix_(rows, cols)]
        return {
            "op": "mean",
            "rows": rows.tolist(),
            "cols": cols.tolist(),
            "window": window.tolist(),
            "result": float(window.mean()),
            "count": int(window.size),
        }
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = _geometry(step.name, m)
    rows = i * sh - ph + np.arange(kh) * dh  # in input coordinates
    cols = j * sw - pw + np.arange(kw) * dw
    inside = np.zeros((kh, kw), dtype=bool)
    inside[np.ix_((rows >= 0) & (rows < H), (cols >= 0) & (cols < W))] = True
    window = np.zeros((kh, kw))
    window[inside] = a_in[c][np.ix_(np.clip(rows, 0, H - 1), np.clip(cols, 0, W - 1))][inside]
    base = {"rows": rows.tolist(), "cols": cols.tolist(), "inside": inside.tolist()}
    if isinstance(m, MaxPool2d):
        masked = np.where(inside, window, -np.inf)  # padding never wins
        r, s = np.unravel_index(int(masked.argmax()), masked.shape)
        window = np.where(inside, window, np.nan)
        return {
            **base,
            "op": "max",
            "window": _nan_to_none(window),
            "result": float(masked[r, s]),
            "switch": [int(r), int(s)],
            "switch_input": [int(rows[r]), int(cols[s])],
        }
    count = kh * kw if m.count_include_pad else int(inside.sum())
    count = m.divisor_override or count
    return {**base, "op": "mean", "window": window.tolist(), "result": float(window.sum() / count), "count": count}


def _nan_to_none(a: np.ndarray) -> list:
    return [[None if math.isnan(v) else float(v) for v in row] for row in a]


def _field(model: Module, x, steps: list[Step], n: int, index) -> dict:
    """The unit's receptive field in the input: {'top', 'left', 'bottom', 'right'} (exclusive ends, clipped), or the
    whole input for a unit that sees all of it (after Flatten or Linear) or a layer the geometry cannot follow."""
    shape = np.shape(x)[1:]
    if len(shape) != 3:
        return {"whole": True}
    whole = {"top": 0, "left": 0, "bottom": int(shape[1]), "right": int(shape[2]), "whole": True}
    if len(index) != 3 or any(s.module is steps[n].module for s in steps[:n]):
        return whole
    try:
        fields = receptive_fields(model, steps[n].name)
    except (ValueError, IndexError):
        return whole
    top, left, bottom, right = fields[-1].box(index[1], index[2], shape[1:])
    return {"top": int(top), "left": int(left), "bottom": int(bottom), "right": int(right), "whole": False}


# ---------------------------------------------------------------------------------------------------------------
# backward


def saliency(model: Module, x, target: int) -> tuple[np.ndarray, list[tuple[Step, np.ndarray]], np.ndarray]:
    """Gradients of the logit of class target for input x: with respect to the input (its shape without the batch
    dimension), and to each layer's output [(step, gradient)], and the logits. Eval mode; the parameters' .grad are
    left as they were (they take no gradient here)."""
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    xt = _batch(model, x)
    xt.requires_grad_(True)
    try:
        for p in params:
            p.requires_grad_(False)
        with evaluating(model), enable_grad():
            steps, logits = trace(model, xt, probe=True)
            classes = logits.shape[1]
            if not (isinstance(target, int) and 0 <= target < classes):
                raise UnitError(f"class {target!r} is not one of the model's {classes} classes (0..{classes - 1})")
            logits[0, target].backward()
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
    grads = [
        (s, as_numpy(s.probe.grad.array)[0] if s.probe.grad is not None else np.zeros(s.output.shape[1:]))
        for s in steps
    ]
    return as_numpy(xt.grad.array)[0], grads, as_numpy(logits.array)[0]


def graph(model: Module, x) -> dict:
    """The computation graph of the forward pass on x: {'nodes': [...], 'edges': [[from, to], ...]}, each node a
    tensor (the input, a parameter by name, an intermediate) or an op, with rank = its depth from the inputs."""
    names = {id(p): name for name, p in model.named_parameters()}
    xt = _batch(model, x)
    with evaluating(model), enable_grad():
        out = model(xt)
    nodes, edges, ids = [], [], {}

    def node(key, **attrs) -> int:
        if key not in ids:
            ids[key] = len(nodes)
            nodes.append(attrs)
        return ids[key]

    rank: dict[int, int] = {}
    for t in toposort(out, only_grad=False):  # inputs before outputs
        fn = t._ctx
        if fn is None:
            label = names.get(id(t), "input" if t is xt else "constant")
            rank[id(t)] = 0
            node(
                id(t),
                kind="tensor",
                label=label,
                shape=list(t.shape),
                rank=0,
                role="param" if id(t) in names else "input" if t is xt else "constant",
            )
            continue
        r = 1 + max(rank.get(id(p), 0) for p in fn.parents)
        op = node(("op", id(t)), kind="op", label=getattr(fn, "name", type(fn).__name__), rank=2 * r - 1)
        for p in fn.parents:
            edges.append([ids[id(p)], op])
        rank[id(t)] = r
        me = node(
            id(t),
            kind="tensor",
            label="output" if t is out else "",
            shape=list(t.shape),
            rank=2 * r,
            role="output" if t is out else "activation",
        )
        edges.append([op, me])
    for n in nodes:  # parameters sit one column left of the op that uses them, not all in column 0
        n.setdefault("rank", 0)
    for a, b in edges:
        if nodes[a].get("role") == "param":
            nodes[a]["rank"] = max(nodes[a]["rank"], nodes[b]["rank"] - 1)
    return {"nodes": nodes, "edges": edges}


# ---------------------------------------------------------------------------------------------------------------
# weights and statistics


def filters(model: Module, layer: str, input_shape) -> np.ndarray:
    """The weights of a conv layer as (out, in, KH, KW); of a Linear layer that reads the image directly (after
    Flatten), each unit's weight row as an input-shaped image (out, C, H, W). UnitError for other layers."""
    modules = dict(leaf_layers(model))
    if layer not in modules:
        raise UnitError(f"unknown layer {layer!r}; the model's layers are {', '.join(modules)}")
    m = modules[layer]
    w = as_numpy(m.weight.array) if hasattr(m, "weight") and m.weight is not None else None
    if layer_kind(m) == "conv":
        return w
    if layer_kind(m) == "linear" and len(input_shape) == 3 and w.shape[1] == math.prod(input_shape):
        return w.reshape(w.shape[0], *input_shape)  # (out, C*H*W) -> (out, C, H, W)
    raise UnitError(
        f"layer {layer!r} ({type(m).__name__}) has no filters to show: a Conv2d layer, or a Linear layer that reads "
        f"the {'x'.join(map(str, input_shape))} input, has"
    )


def activation_stats(model: Module, xb) -> list[dict]:
    """For each layer, over a batch xb (N, ...): the mean, standard deviation, minimum, maximum and the fraction of
    exact zeros (dead ReLU units) of its outputs."""
    with evaluating(model), no_grad():
        steps, _ = trace(model, _batch(model, xb))
    stats = []
    for s in steps:
        a = as_numpy(s.output.array).astype(np.float64)
        stats.append(
            {
                "layer": s.name,
                "type": s.type,
                "mean": float(a.mean()),
                "std": float(a.std()),
                "min": float(a.min()),
                "max": float(a.max()),
                "zeros": float((a == 0).mean()),
            }
        )
    return stats
