"""The lecture's worked examples, runnable: each prints what the lecture writes by hand, and checks it."""

from __future__ import annotations

import math

import toynn
from toynn.autodiff import trace_backward


def backprop_example(x: float = 1.5, out=print) -> float:
    """J = cos(sin(x^2) + 3x^2): forward values in topological order, backward increments in reverse.

    Returns dJ/dx from backprop after checking it against the closed form
    dJ/dx = -sin(sin(x^2) + 3x^2) (2x cos(x^2) + 6x).
    """
    xt = toynn.tensor(x, dtype=toynn.float64, requires_grad=True)
    t = xt**2
    u1 = toynn.sin(t)
    u2 = 3 * t
    u = u1 + u2
    J = toynn.cos(u)
    names = {id(v): name for v, name in [(xt, "x"), (t, "t"), (u1, "u1"), (u2, "u2"), (u, "u"), (J, "J")]}

    out(f"J = cos(sin(x^2) + 3x^2) at x = {x}")
    out("Forward (topological order: compute each node, store it):")
    for name, v, formula in [
        ("t", t, "x^2"),
        ("u1", u1, "sin(t)"),
        ("u2", u2, "3t"),
        ("u", u, "u1 + u2"),
        ("J", J, "cos(u)"),
    ]:
        out(f"  {name:2s} = {formula:8s} = {v.item(): .10f}")

    out("Backward (reverse topological order; dJ/dJ = 1, then dJ/dv += dJ/du * du/dv):")
    local = {"J": "-sin(u)", "u": "1", "u1": "cos(t)", "u2": "3", "t": "2x"}
    for node, parent, increment in trace_backward(J):
        child, name = names[id(node)], names[id(parent)]
        rule = f"dJ/d{child} * d{child}/d{name}"
        out(f"  dJ/d{name:2s} += {rule:20s} = dJ/d{child:2s} * {local[child]:7s} = {float(increment): .10f}")

    grad = xt.grad.item()
    closed = -math.sin(math.sin(x * x) + 3 * x * x) * (2 * x * math.cos(x * x) + 6 * x)
    out(f"dJ/dx by backprop     = {grad: .15f}")
    out(f"dJ/dx by closed form  = {closed: .15f}")
    if not math.isclose(grad, closed, rel_tol=1e-12, abs_tol=1e-12):
        raise AssertionError(f"backprop gave {grad}, the closed form {closed}")
    return grad
