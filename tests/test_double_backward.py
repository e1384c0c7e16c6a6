"""Every op of the table differentiated twice: the backward pass with create_graph=True is itself checked as an
op, three ways: against finite differences of the gradient (PyTorch's gradgradcheck), against PyTorch's double
backward, and against forward-over-reverse (the jvp rules pushed through the recorded backward)."""

from __future__ import annotations

import numpy as np
import pytest

import toynn
from toynn.autodiff import gradcheck, jvp

from .cases import CASES as OPS
from .devices import host, like
from .nn_cases import NN_CASES

CASES = OPS + NN_CASES
ids = [c.name for c in CASES]


def _setup(case, rng):
    """Inputs (float64 leaves), the output's cotangent v (a leaf too: the gradient is bilinear in it)."""
    arrays = case.inputs(rng)
    xs = [toynn.tensor(a, requires_grad=g) for a, g in zip(arrays, case.needs_grad())]
    out_shape = case.fn(toynn, *[toynn.tensor(a) for a in arrays]).shape
    v = toynn.tensor(rng.standard_normal(out_shape), requires_grad=True)
    return arrays, xs, v


def _first(case, xs, v):
    """The gradient of <f(xs), v> with respect to the differentiated inputs, recorded (create_graph=True)."""
    wrt = [x for x in xs if x.requires_grad]
    with toynn.enable_grad():  # gradcheck's finite differences call this under no_grad
        out = case.fn(toynn, *xs)
        return toynn.autograd.grad(out, wrt, v, create_graph=True, allow_unused=True)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_gradgradcheck(case, rng):
    """Finite differences of the gradient map (xs, v) -> grad <f(xs), v>: its own gradient, checked."""
    _, xs, v = _setup(case, rng)
    n = len(xs)

    def gradient(*args):
        gs = _first(case, list(args[:n]), args[n])
        return tuple(g if g is not None else args[0] * 0 for g in gs)

    assert gradcheck(gradient, [*xs, v], atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_double_backward_matches_torch(case, rng, torch):
    """d/d(xs, v) <grad <f(xs), v>, u>, by toynn and by PyTorch, from the same numbers (float64)."""
    arrays, xs, v = _setup(case, rng)
    wrt_mask = case.needs_grad()
    us = [rng.standard_normal(a.shape) for a, g in zip(arrays, wrt_mask) if g]
    gs = _first(case, xs, v)
    s = sum((g * like(u, g)).sum() for g, u in zip(gs, us) if g is not None)
    if not isinstance(s, toynn.Tensor) or not s.requires_grad:
        pytest.skip("the gradient does not depend on the inputs or v (f is linear)")
    ours = toynn.autograd.grad(s, [t for t in [*xs, v] if t.requires_grad], allow_unused=True)

    txs = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, wrt_mask)]
    tv = torch.tensor(host(v.array), requires_grad=True)
    tout = case.fn(torch, *txs)
    tgs = torch.autograd.grad(tout, [x for x in txs if x.requires_grad], tv, create_graph=True, allow_unused=True)
    ts = sum((g * torch.tensor(u)).sum() for g, u in zip(tgs, us) if g is not None)
    if not isinstance(ts, torch.Tensor) or not ts.requires_grad:  # PyTorch's gradient is a constant (round's 0)
        for a in ours:
            assert a is None or not host(a.array).any(), "PyTorch's second derivative is zero; ours is not"
        return
    try:
        theirs = torch.autograd.grad(ts, [t for t in [*txs, tv] if t.requires_grad], allow_unused=True)
    except NotImplementedError as err:  # cdist: PyTorch has no double backward; gradgradcheck still checks ours
        pytest.skip(f"PyTorch: {err}")
    shapes = [t.shape for t in [*xs, v] if t.requires_grad]
    for i, (a, b) in enumerate(zip(ours, theirs)):
        a = np.zeros(shapes[i]) if a is None else host(a.array)
        b = np.zeros(a.shape) if b is None else b.numpy(force=True)  # force: PyTorch may answer a ZeroTensor
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=f"second derivative wrt argument {i}")


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_forward_over_reverse_matches_reverse_over_reverse(case, rng):
    """<w, J_G u> == <J_G^T w, u> for the gradient map G: forward mode through the recorded backward (jvp rules)
    and reverse mode through it (the rules run on Tensors) are the transposes of one linear map."""
    arrays, xs, v = _setup(case, rng)
    n = len(xs)
    us = [rng.standard_normal(a.shape) * g for a, g in zip(arrays, case.needs_grad())]
    du = rng.standard_normal(v.shape)

    def gradient(*args):
        for a, x in zip(args, [*xs, v]):
            a.requires_grad_(x.requires_grad)
        gs = _first(case, list(args[:n]), args[n])
        return toynn.cat([(g if g is not None else args[0] * 0).reshape(-1) for g in gs])

    primals = [toynn.tensor(x.array) for x in [*xs, v]]
    tangents = [like(u, x) for u, x in zip([*us, du], primals)]
    _, ju = jvp(gradient, primals, tangents)  # forward-over-reverse
    w = rng.standard_normal(ju.shape)
    leaves = [toynn.tensor(x.array, requires_grad=x.requires_grad) for x in [*xs, v]]
    out = gradient(*leaves)
    wrt = [(x, u) for x, u in zip(leaves, [*us, du]) if x.requires_grad]
    back = toynn.autograd.grad(out, [x for x, _ in wrt], like(w, out), allow_unused=True)  # reverse-over-reverse
    lhs = float((host(ju.array) * w).sum())
    rhs = sum(float((host(b.array) * u).sum()) for b, (_, u) in zip(back, wrt) if b is not None)
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-12)
