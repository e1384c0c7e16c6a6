"""Derivatives as functions of functions (JAX / torch.func names): grad, value_and_grad, vjp, jacrev, jacfwd.

Reverse mode runs the engine's backward walk on fresh leaves, so the caller's tensors (and any
parameters f closes over) keep the .grad they had; forward mode pushes one-hot tangents through jvp.
"""

from __future__ import annotations

import numpy as np

from ..backend import array_module
from ..errors import ShapeError
from ..tensor import Tensor, backward, enable_grad, toposort
from .forward import jvp


def _as_tensor(x) -> Tensor:
    """A Tensor for x; numbers and integer arrays become float64 (finite precision is the caller's choice)."""
    if isinstance(x, Tensor):
        return x
    x = np.asarray(x)
    return Tensor(x if x.dtype.kind == "f" else x.astype(np.float64))


def _argnums(argnums, nargs: int, op: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"{op}: argnums {argnums} is out of range for a function called with {nargs} arguments")
    return tuple(i % nargs for i in nums)


def _prepare(args, argnums, op: str) -> tuple[list, list[Tensor], tuple[int, ...]]:
    """args with the differentiated ones replaced by fresh leaves (same data, no .grad of the caller's)."""
    nums = _argnums(argnums, len(args), op)
    args = list(args)
    wrt = []
    for i in nums:
        x = _as_tensor(args[i])
        if x.dtype.kind != "f":
            raise TypeError(f"{op}: argument {i} must be floating point to be differentiated; got {x.dtype}")
        leaf = Tensor._wrap(x.array)
        leaf.requires_grad = True
        args[i] = leaf
        wrt.append(leaf)
    return args, wrt, nums


def _pullback(out: Tensor, wrt: list[Tensor]):
    """cotangent -> (d<out, cotangent>/d wrt_i for each i); every other leaf's .grad is left untouched."""
    ids = {id(x) for x in wrt}
    others = [t for t in toposort(out) if t._ctx is None and id(t) not in ids] if out.requires_grad else []
    xp = array_module(out.array)

    def pull(cotangent, retain_graph: bool = True) -> tuple[Tensor, ...]:
        if not out.requires_grad:  # f does not depend on its inputs
            return tuple(Tensor._wrap(xp.zeros_like(x.array)) for x in wrt)
        saved = [t.grad for t in others]
        for t in others + wrt:
            t.grad = None
        try:
            backward(out, cotangent, retain_graph)
            grads = tuple(x.grad if x.grad is not None else Tensor._wrap(xp.zeros_like(x.array)) for x in wrt)
        finally:
            for t, g in zip(others, saved):
                t.grad = g
            for x in wrt:
                x.grad = None
        return grads

    return pull


def _one(values: tuple, argnums):
    return values[0] if isinstance(argnums, int) else values


def value_and_grad(f, argnums=0):
    """Return g with g(*args) = (f(*args), df/dargs[argnums]) for a scalar-valued f (one backward)."""

    def value_and_grad_f(*args):
        args, wrt, _ = _prepare(args, argnums, "grad")
        with enable_grad():
            out = f(*args)
        if not isinstance(out, Tensor) or out.array.size != 1:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ShapeError(f"grad: f must return a one-element Tensor; got {shape}. Use jacrev or vjp instead")
        grads = _pullback(out, wrt)(None, retain_graph=False)
        return out.detach(), _one(grads, argnums)

    return value_and_grad_f


def grad(f, argnums=0):
    """Return g with g(*args) = df/dargs[argnums] (a Tensor, or a tuple for a tuple of argnums)."""
    value_and_grad_f = value_and_grad(f, argnums)

    def grad_f(*args):
        return value_and_grad_f(*args)[1]

    return grad_f


def vjp(f, *primals):
    """(f(*primals), vjp_fn) where vjp_fn(v) = v^T J, one Tensor per primal; vjp_fn may be called again."""
    args, wrt, _ = _prepare(primals, tuple(range(len(primals))), "vjp")
    with enable_grad():
        out = f(*args)
    pull = _pullback(out, wrt)

    def vjp_fn(cotangent):
        v = cotangent.array if isinstance(cotangent, Tensor) else array_module(out.array).asarray(cotangent)
        if v.shape != out.shape:
            raise ShapeError(f"vjp: cotangent has shape {tuple(v.shape)} but f's output has shape {tuple(out.shape)}")
        return pull(v, retain_graph=True)

    return out.detach(), vjp_fn


def jacrev(f, argnums=0):
    """Return the Jacobian function by reverse mode: one backward per output element. (out.shape + in.shape)."""

    def jacrev_f(*args):
        args, wrt, _ = _prepare(args, argnums, "jacrev")
        with enable_grad():
            out = f(*args)
        pull = _pullback(out, wrt)
        xp, m = array_module(out.array), out.array.size
        rows = [xp.empty((m, x.array.size), dtype=out.dtype) for x in wrt]  # row k: d out_k / d x
        for k in range(m):
            onehot = xp.zeros(m, dtype=out.dtype)
            onehot[k] = 1
            for row, g in zip(rows, pull(onehot.reshape(out.shape), retain_graph=k < m - 1)):
                row[k] = g.array.ravel()
        return _one(tuple(Tensor._wrap(r.reshape(out.shape + x.shape)) for r, x in zip(rows, wrt)), argnums)

    return jacrev_f


def jacfwd(f, argnums=0):
    """Return the Jacobian function by forward mode: one jvp per input element. (out.shape + in.shape)."""

    def jacfwd_f(*args):
        nums = _argnums(argnums, len(args), "jacfwd")
        args = [_as_tensor(a) if i in nums else a for i, a in enumerate(args)]
        jacs = []
        for i in nums:

            def f_i(x, i=i):  # f as a function of argument i alone: the others are constants here
                return f(*args[:i], x, *args[i + 1 :])

            x = args[i]
            xp, n = array_module(x.array), x.array.size
            cols = []
            for j in range(n):
                onehot = xp.zeros(n, dtype=x.dtype)
                onehot[j] = 1
                out, dout = jvp(f_i, (x,), (onehot.reshape(x.shape),))
                cols.append(dout.array.ravel())
            if not cols:  # an empty input has no columns, but the output's shape is still needed
                out = f_i(x)
            jac = xp.stack(cols, axis=-1) if cols else xp.zeros((out.array.size, 0), dtype=out.dtype)
            jacs.append(Tensor._wrap(jac.reshape(out.shape + x.shape)))  # (m, n) -> out.shape + in.shape
        return _one(tuple(jacs), argnums)

    return jacfwd_f
