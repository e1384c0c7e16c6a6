"""Every op of the table checked four ways: NumPy reference, gradcheck, PyTorch, forward mode."""

from __future__ import annotations

import numpy as np
import pytest

import toynn
from toynn.autodiff import gradcheck, jvp, numerical_jacobian

from .cases import CASES
from .devices import host, like

ids = [c.name for c in CASES]


def _toynn_inputs(case, arrays, dtype):
    return [toynn.tensor(a.astype(dtype), requires_grad=g) for a, g in zip(arrays, case.needs_grad())]


def _rel_err(a, b):
    a, b = host(a).astype(np.float64), host(b).astype(np.float64)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30) if a.size else 0.0


@pytest.mark.parametrize("case", [c for c in CASES if c.ref is not None], ids=[c.name for c in CASES if c.ref])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_matches_numpy(case, dtype, rng):
    arrays = case.inputs(rng)
    out = case.fn(toynn, *_toynn_inputs(case, arrays, dtype))
    expected = case.ref(*arrays)
    assert out.shape == np.shape(expected)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.array, expected, rtol=1e-12 if dtype == np.float64 else 1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_gradcheck(case, rng):
    inputs = _toynn_inputs(case, case.inputs(rng), np.float64)
    assert gradcheck(lambda *xs: case.fn(toynn, *xs), inputs)


@pytest.mark.parametrize("case", CASES, ids=ids)
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_matches_torch(case, dtype, tol, rng, torch):
    arrays = [a.astype(dtype) for a in case.inputs(rng)]
    ours = _toynn_inputs(case, arrays, dtype)
    theirs = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, case.needs_grad())]
    out, ref = case.fn(toynn, *ours), case.fn(torch, *theirs)
    assert tuple(out.shape) == tuple(ref.shape)
    assert _rel_err(out.array, ref.detach().numpy()) < tol
    cot = np.random.default_rng(1).standard_normal(ref.shape).astype(dtype)
    out.backward(cot)
    ref.backward(torch.tensor(cot))
    for i, (x, t) in enumerate(zip(ours, theirs)):
        if t.requires_grad:
            assert x.grad.dtype == dtype
            assert _rel_err(x.grad.array, t.grad.numpy()) < tol, f"gradient of input {i}"


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_jvp_matches_finite_differences(case, rng):
    arrays = case.inputs(rng)
    inputs = [toynn.tensor(a) for a in arrays]
    tangents = [rng.standard_normal(a.shape) * g for a, g in zip(arrays, case.needs_grad())]
    out, dout = jvp(lambda *xs: case.fn(toynn, *xs), inputs, [like(t, x) for t, x in zip(tangents, inputs)])
    jac = numerical_jacobian(lambda *xs: case.fn(toynn, *xs), inputs)[0]
    expected = sum(j @ t.ravel() for j, t in zip(jac, tangents))
    np.testing.assert_allclose(host(dout.array).ravel(), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_jvp_vjp_dot_product(case, rng):
    """<J u, v> == <u, J^T v>: forward and reverse mode are the transposes of one linear map."""
    arrays = case.inputs(rng)
    us = [rng.standard_normal(a.shape) * g for a, g in zip(arrays, case.needs_grad())]
    primals = [toynn.tensor(a) for a in arrays]
    _, ju = jvp(lambda *xs: case.fn(toynn, *xs), primals, [like(u, p) for u, p in zip(us, primals)])
    inputs = _toynn_inputs(case, arrays, np.float64)
    out = case.fn(toynn, *inputs)
    v = rng.standard_normal(out.shape)
    out.backward(v)
    lhs = float((host(ju.array) * v).sum())
    rhs = sum(float((host(x.grad.array) * u).sum()) for x, u in zip(inputs, us) if x.grad is not None)
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-12)
