"""Reverse mode made visible: the increments of the backward walk, in the order it makes them."""

from __future__ import annotations

from ..tensor import Tensor, backward


def trace_backward(y: Tensor, retain_graph: bool = False) -> list[tuple[Tensor, Tensor, object]]:
    """Run y.backward() and return (node, input, increment) for each dy/dinput += increment it made."""
    steps = []
    backward(y, None, retain_graph, on_increment=lambda node, parent, g: steps.append((node, parent, g.copy())))
    return steps
