"""Second derivatives: Hessian-vector products and Hessians, two ways that must agree.

reverse-over-reverse: the gradient is computed with create_graph=True, so <grad f(x), v> is a Tensor with a
graph, and its gradient is H v (Pearlmutter's trick: one more backward pass). forward-over-reverse: the same
gradient computation, run under forward mode with tangent v, carries H v along as its tangent (jvp of the
gradient). Both cost a small multiple of one gradient, never the n gradients of a full Hessian.
"""

from __future__ import annotations

from ..backend import array_module
from ..errors import ShapeError
from ..tensor import Tensor, _seed, enable_grad, walk
from .forward import jvp

MODES = ("reverse", "forward")


def _leaf(x) -> Tensor:
    """A fresh leaf with x's array: the caller's tensor keeps its .grad and graph."""
    leaf = Tensor._wrap(x.array if isinstance(x, Tensor) else array_module(x).asarray(x))
    leaf.requires_grad_(True)
    return leaf


def _gradient(f, x: Tensor) -> Tensor:
    """grad f(x) as a Tensor with a graph (create_graph=True), for a scalar-valued f."""
    with enable_grad():
        y = f(x)
        if not isinstance(y, Tensor) or y.array.size != 1:
            shape = y.shape if isinstance(y, Tensor) else type(y).__name__
            raise ShapeError(f"hvp: f must return a one-element Tensor; got {shape}")
        if not y.requires_grad:  # f does not depend on x: its gradient and Hessian are zero
            return x * 0
        (g,) = walk([y], [_seed(y, None, "hvp", True)], True, True, capture=[x])
    return g if g is not None else x * 0


def hvp(f, x, v, mode: str = "reverse") -> Tensor:
    """H v, the Hessian of the scalar function f at x (one Tensor argument) times v (x's shape)."""
    if mode not in MODES:
        raise ValueError(f"hvp: mode must be one of {MODES}; got {mode!r}")
    x = _leaf(x)
    v = v if isinstance(v, Tensor) else Tensor._wrap(array_module(x.array).asarray(v, dtype=x.dtype))
    if tuple(v.shape) != tuple(x.shape):
        raise ShapeError(f"hvp: v has shape {tuple(v.shape)} but x has shape {tuple(x.shape)}")
    if mode == "forward":

        def grad_f(x_dual):
            x_dual.requires_grad_(True)
            return _gradient(f, x_dual)

        return jvp(grad_f, (x,), (v,))[1]
    g = _gradient(f, x)
    with enable_grad():
        inner = (g * v.detach()).sum()
    if not inner.requires_grad:  # the gradient does not depend on x: f is linear in x
        return Tensor._wrap(array_module(x.array).zeros_like(x.array))
    (hv,) = walk([inner], [_seed(inner, None, "hvp", False)], False, False, capture=[x])
    return Tensor._wrap(hv if hv is not None else array_module(x.array).zeros_like(x.array))


def hessian(f, x, mode: str = "reverse") -> Tensor:
    """The Hessian of the scalar function f at x, shape x.shape + x.shape: one hvp per element of x."""
    x = x if isinstance(x, Tensor) else Tensor._wrap(x)
    xp, n = array_module(x.array), x.array.size
    rows = []
    for j in range(n):
        e = xp.zeros(n, dtype=x.dtype)
        e[j] = 1
        rows.append(hvp(f, x, Tensor._wrap(e.reshape(x.shape)), mode).array.ravel())
    h = xp.stack(rows) if rows else xp.zeros((0, 0), dtype=x.dtype)
    return Tensor._wrap(h.reshape(tuple(x.shape) * 2))
