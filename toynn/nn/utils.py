"""torch.nn.utils' helpers for gradients and parameters: clip_grad_norm_, clip_grad_value_, get_total_norm,
clip_grads_with_norm_, parameters_to_vector, vector_to_parameters. They work on raw arrays, outside the graph."""

from __future__ import annotations

import types
import warnings

import numpy as np

from .. import ops
from ..backend import array_module, to_device
from ..tensor import Tensor


def _tensors(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    is_generator = isinstance(parameters, types.GeneratorType)
    parameters = list(parameters)
    if is_generator and not parameters:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3)
    return parameters


def _vector_norm(a, norm_type: float):
    """The norm of a raw array's entries as a 0-d array of its dtype (torch.linalg.vector_norm)."""
    xp = array_module(a)
    a = xp.abs(a)
    if norm_type == float("inf"):
        return a.max() if a.size else xp.zeros((), a.dtype)
    if norm_type == float("-inf"):
        return a.min()
    if norm_type == 0:
        return xp.asarray(xp.count_nonzero(a), dtype=a.dtype)
    if norm_type == 1:
        return a.sum()
    if norm_type == 2:
        return xp.sqrt((a * a).sum())
    return (a**norm_type).sum() ** (1.0 / norm_type)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The norm of all the tensors' entries together: the norm of the per-tensor norms. A 0-d Tensor."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor(np.asarray(0.0, dtype=np.float32))
    first = tensors[0]
    norms = [to_device(_vector_norm(t.array, norm_type), first.device) for t in tensors]
    xp = array_module(norms[0])
    total = _vector_norm(xp.stack([n.astype(first.dtype, copy=False) for n in norms]), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
            "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )
    return Tensor._wrap(xp.asarray(total))


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor, foreach=None) -> None:
    """Scale every .grad in place by min(1, max_norm / (total_norm + 1e-6))."""
    grads = [p.grad for p in _tensors(parameters) if p.grad is not None]
    if not grads:
        return
    total = total_norm.array
    coef = array_module(total).minimum(float(max_norm) / (total + total.dtype.type(1e-6)), 1.0)  # in total's dtype
    for g in grads:
        g.array *= to_device(coef, g.device).astype(g.dtype, copy=False)


def clip_grad_norm_(
    parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None
):
    """Rescale the gradients in place so that their total norm is at most max_norm; returns the total norm before."""
    parameters = _tensors(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None):
    """Deprecated name of clip_grad_norm_."""
    warnings.warn(
        "`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
        FutureWarning,
        stacklevel=2,
    )
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every .grad in place to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    for p in _tensors(parameters):
        if p.grad is not None:
            g = p.grad.array
            array_module(g).clip(g, -clip_value, clip_value, out=g)


def parameters_to_vector(parameters) -> Tensor:
    """All parameters flattened and concatenated into one 1-D Tensor (a copy that is part of the graph)."""
    tensors = list(parameters)
    _same_device(tensors)
    return ops.cat([ops.reshape(p, -1) for p in tensors])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Make each parameter's data the next slice of vec, in order (views of vec, as in PyTorch)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, but got: {type(vec).__name__}")
    tensors = list(parameters)
    _same_device(tensors)
    n = sum(p.numel() for p in tensors)
    if vec.ndim != 1 or vec.shape[0] != n:
        raise ValueError(
            f"vector_to_parameters: vec must be 1-D with {n} entries for these parameters; got {tuple(vec.shape)}"
        )
    pointer = 0
    for p in tensors:
        k = p.numel()
        p.array = vec.array[pointer : pointer + k].reshape(p.shape)
        pointer += k


def _same_device(tensors) -> None:
    if len({t.device for t in tensors}) > 1:
        raise TypeError("Found two parameters on different devices, this is currently not supported.")
