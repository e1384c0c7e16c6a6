"""Finite differences (centered, as in the lecture) and gradcheck, which compares them with backprop."""

from __future__ import annotations

import warnings

import numpy as np

from ..backend import array_module, to_device
from ..tensor import Tensor, backward, no_grad


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(f, inputs) -> tuple[Tensor, ...]:
    return tuple(o for o in _as_tuple(f(*inputs)) if isinstance(o, Tensor))


def numerical_jacobian(f, inputs, eps: float = 1e-6) -> list[list[np.ndarray]]:
    """J[o][i] of shape (outputs[o].size, inputs[i].size) by centered differences (f(x+e) - f(x-e)) / 2e."""
    inputs = _as_tuple(inputs)
    with no_grad():
        n_out = [o.array.size for o in _outputs(f, inputs)]
        jac = [[np.zeros((n, x.array.size)) for x in inputs] for n in n_out]
        for i, x in enumerate(inputs):
            # NOTE: index x.array itself (C order), never a reshaped copy of a non-contiguous array
            for j, idx in enumerate(np.ndindex(x.shape)):
                orig = x.array[idx].item()
                x.array[idx] = orig + eps
                plus = [to_device(o.array, "cpu").astype(np.float64).ravel() for o in _outputs(f, inputs)]
                x.array[idx] = orig - eps
                minus = [to_device(o.array, "cpu").astype(np.float64).ravel() for o in _outputs(f, inputs)]
                x.array[idx] = orig
                for o in range(len(n_out)):
                    jac[o][i][:, j] = (plus[o] - minus[o]) / (2 * eps)
    return jac


def numerical_grad(f, inputs, eps: float = 1e-6) -> list[np.ndarray]:
    """d f / d input for a scalar-valued f, by centered differences; one array per input."""
    inputs = _as_tuple(inputs)
    jac = numerical_jacobian(f, inputs, eps)
    if len(jac) != 1 or jac[0][0].shape[0] != 1:
        raise ValueError("numerical_grad: f must return one scalar; use numerical_jacobian for other outputs")
    return [j[0].reshape(x.shape) for j, x in zip(jac[0], inputs)]


def _analytical_jacobian(f, inputs) -> list[list[np.ndarray]]:
    """The same Jacobians by backprop: one backward per output element, with a one-hot gradient."""
    outs = _outputs(f, inputs)
    jac = [[np.zeros((o.array.size, x.array.size)) for x in inputs] for o in outs]
    for o, out in enumerate(outs):
        if not out.requires_grad:
            continue
        xp = array_module(out.array)
        for k in range(out.array.size):
            for x in inputs:
                x.grad = None
            onehot = xp.zeros(out.array.size, dtype=out.dtype)
            onehot[k] = 1
            backward(out, onehot.reshape(out.shape), retain_graph=True)
            for i, x in enumerate(inputs):
                if x.grad is not None:
                    jac[o][i][k] = to_device(x.grad.array, "cpu").ravel()
    return jac


def _mismatch(num, ana, atol, rtol):
    bad = np.abs(num - ana) > atol + rtol * np.abs(num)
    return np.argwhere(bad) if bad.any() else None


def gradcheck(f, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, fast_mode: bool = False) -> bool:
    """Check backprop against centered finite differences; raise AssertionError with a report on mismatch.

    inputs are Tensors; those with requires_grad are checked. Use float64 (PyTorch's defaults assume
    it). fast_mode compares one random direction v^T J u instead of the full Jacobian.
    """
    inputs = _as_tuple(inputs)
    checked = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    if any(x.dtype != np.float64 for x in checked):
        warnings.warn("gradcheck: inputs are not float64; finite differences will be inaccurate", stacklevel=2)
    saved = [x.grad for x in inputs if isinstance(x, Tensor)]
    try:
        if fast_mode:
            _check_direction(f, inputs, checked, eps, atol, rtol)
        else:
            _check_full(f, inputs, checked, eps, atol, rtol)
    finally:
        for x, g in zip([x for x in inputs if isinstance(x, Tensor)], saved):
            x.grad = g
    return True


def _check_full(f, inputs, checked, eps, atol, rtol) -> None:
    num = numerical_jacobian(f, inputs, eps)
    ana = _analytical_jacobian(f, inputs)
    for o in range(len(num)):
        for i, x in enumerate(inputs):
            if not (isinstance(x, Tensor) and x.requires_grad):
                continue
            bad = _mismatch(num[o][i], ana[o][i], atol, rtol)
            if bad is not None:
                err = np.abs(num[o][i] - ana[o][i])
                r, c = np.unravel_index(err.argmax(), err.shape)
                where = tuple(int(k) for k in np.unravel_index(c, x.shape))
                raise AssertionError(
                    f"Jacobian mismatch for output {o} with respect to input {i} (shape {tuple(x.shape)}): "
                    f"{len(bad)} of {err.size} entries differ; worst at output element {int(r)}, input element "
                    f"{where}: numerical {num[o][i][r, c]:.10g}, analytical "
                    f"{ana[o][i][r, c]:.10g} (|diff| {err[r, c]:.3g}, atol {atol}, rtol {rtol})"
                )


def _check_direction(f, inputs, checked, eps, atol, rtol) -> None:
    rng = np.random.default_rng(0)
    us = {id(x): rng.standard_normal(x.shape) for x in checked}
    outs = _outputs(f, inputs)
    vs = [rng.standard_normal(o.shape) for o in outs]
    originals = [x.array.copy() for x in checked]
    steps = {id(x): eps * to_device(us[id(x)], x.device) for x in checked}  # on each input's device
    with no_grad():
        for x, orig in zip(checked, originals):
            x.array[...] = orig + steps[id(x)]
        plus = _outputs(f, inputs)
        for x, orig in zip(checked, originals):
            x.array[...] = orig - steps[id(x)]
        minus = _outputs(f, inputs)
        for x, orig in zip(checked, originals):
            x.array[...] = orig  # restored exactly, not by adding eps back
    numeric = sum(
        float((v * (to_device(p.array, "cpu") - to_device(m.array, "cpu"))).sum()) / (2 * eps)
        for v, p, m in zip(vs, plus, minus)
    )
    for x in checked:
        x.grad = None
    for o, v in zip(outs, vs):
        if o.requires_grad:
            backward(o, array_module(o.array).asarray(v, dtype=o.dtype), retain_graph=True)
    analytic = sum(float((to_device(x.grad.array, "cpu") * us[id(x)]).sum()) for x in checked if x.grad is not None)
    if abs(numeric - analytic) > atol + rtol * abs(numeric):
        raise AssertionError(
            f"gradcheck (fast mode): directional derivative v^T J u mismatch: numerical {numeric:.10g}, "
            f"analytical {analytic:.10g} (|diff| {abs(numeric - analytic):.3g}, atol {atol}, rtol {rtol})"
        )
