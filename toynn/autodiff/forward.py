"""Forward mode: each input carries a tangent (a dual number a + b·ε) that every op pushes forward."""

from __future__ import annotations

from ..backend import array_module
from ..tensor import Tensor, _Mode


def jvp(f, primals, tangents):
    """(f(*primals), J_f(primals) @ tangents) in one forward pass, by each op's jvp rule."""
    primals = tuple(primals) if isinstance(primals, (tuple, list)) else (primals,)
    tangents = tuple(tangents) if isinstance(tangents, (tuple, list)) else (tangents,)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: got {len(primals)} primals but {len(tangents)} tangents")
    inputs = []
    for p, t in zip(primals, tangents):
        if t.shape != p.shape:
            raise ValueError(f"jvp: tangent of shape {tuple(t.shape)} for a primal of shape {tuple(p.shape)}")
        x = Tensor._wrap(p.array)
        x.tangent = t.array if isinstance(t, Tensor) else t
        inputs.append(x)
    _Mode.forward_level += 1
    try:
        out = f(*inputs)
    finally:
        _Mode.forward_level -= 1
    tangent = out.tangent if out.tangent is not None else array_module(out.array).zeros_like(out.array)
    out.tangent = None
    return out, Tensor._wrap(tangent)
