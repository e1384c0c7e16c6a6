"""Seeing the computation graph: Graphviz DOT text of what a tensor was computed from (no package needed),
and render() to SVG/PNG/PDF through Graphviz's `dot` program where it is installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from ..backend import to_device
from ..tensor import Tensor, _Freed, toposort


def _label_names(names) -> dict[int, str]:
    """{id(tensor): label} from {id: label}, {label: tensor} or (tensor, label) pairs (tensors are unhashable)."""
    if names is None:
        return {}
    if isinstance(names, dict):
        if all(isinstance(k, int) for k in names):
            return {k: str(v) for k, v in names.items()}
        if all(isinstance(v, Tensor) for v in names.values()):
            return {id(v): str(k) for k, v in names.items()}
        raise TypeError("graph: names must map id(tensor) -> label or label -> tensor")
    return {id(t): str(label) for t, label in names}


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _fmt(array) -> str:
    a = np.asarray(to_device(array, "cpu"))
    if a.size == 1:
        return f"{a.item():.6g}"
    return f"{a.shape}, |.| = {float(np.abs(a).max()):.3g}"


def _op_name(fn) -> str:
    return getattr(fn, "name", type(fn).__name__)  # a freed node keeps the op's name in .name


def graph(tensor: Tensor, names=None, show_grad: bool = True, increments=None, rankdir: str = "LR") -> str:
    """DOT text of the graph reachable from tensor: tensor nodes (name, creator op, shape, scalar value,
    gradient) and op nodes between them.

    names maps tensors to labels; increments, the list from toynn.autodiff.trace_backward, adds dy/dv to
    intermediate nodes too (leaves show .grad). Call it before backward() or after backward(retain_graph=True):
    backward frees the graph.
    """
    labels = _label_names(names)
    grads: dict[int, object] = {}
    if increments:
        grads[id(tensor)] = np.ones(tensor.shape)  # dy/dy = 1
        for _, parent, g in increments:
            grads[id(parent)] = g if id(parent) not in grads else grads[id(parent)] + g
    lines = [
        "digraph toynn {",
        f"  rankdir={rankdir};",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [color="#555555"];',
    ]
    ids: dict[int, str] = {}
    for t in reversed(toposort(tensor, only_grad=False)):  # outputs first
        node = ids.setdefault(id(t), f"t{len(ids)}")
        fn = t._ctx
        head = labels.get(id(t), "")
        origin = _op_name(fn) if fn is not None else ("leaf" if t.requires_grad else "constant")
        rows = [f"{head} ({origin})" if head else origin, f"shape {tuple(t.shape)}"]
        if t.array.size == 1:
            rows.append(f"value {_fmt(t.array)}")
        if show_grad:
            g = t.grad.array if fn is None and t.grad is not None else grads.get(id(t))
            if g is not None:
                rows.append(f"grad {_fmt(g)}")
        style = 'style=filled, fillcolor="#e8f0fe"' if fn is None and t.requires_grad else 'style=""'
        label = "\\n".join(_escape(r) for r in rows)
        lines.append(f'  {node} [label="{label}", shape=ellipse, {style}];')
        if fn is None:
            continue
        op = f"{node}_op"
        op_label = _op_name(fn) + (" (freed by backward)" if isinstance(fn, _Freed) else "")
        lines.append(f'  {op} [label="{_escape(op_label)}", shape=box, style=filled, fillcolor="#fff4d6"];')
        lines.append(f"  {op} -> {node};")
        for p in fn.parents:
            lines.append(f"  {ids.setdefault(id(p), f't{len(ids)}')} -> {op};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot: str, path, format: str | None = None) -> Path:
    """Write DOT text to path: .dot as text, other suffixes (svg, png, pdf) through Graphviz's `dot` program."""
    path = Path(path)
    fmt = format or path.suffix.lstrip(".").lower() or "svg"
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("dot", "gv"):
        path.write_text(dot)
        return path
    exe = shutil.which("dot")
    if exe is None:
        raise RuntimeError(
            f"render: writing {fmt.upper()} needs Graphviz's `dot` program, which is not on PATH "
            "(apt-get install graphviz, brew install graphviz or conda install graphviz); "
            f"the DOT text can always be written with render(dot, '{path.with_suffix('.dot')}')"
        )
    run = subprocess.run([exe, f"-T{fmt}", "-o", str(path)], input=dot.encode(), capture_output=True)
    if run.returncode != 0:
        raise RuntimeError(f"render: dot -T{fmt} failed: {run.stderr.decode().strip()}")
    return path
