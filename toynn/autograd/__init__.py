"""torch.autograd's names: grad (gradients as values, optionally differentiable again), backward, functional
(hvp, vhp, hessian) and the deprecated Variable. The walk itself is tensor.walk; the transforms in JAX's style
are toynn.autodiff."""

from __future__ import annotations

from ..errors import ShapeError
from ..tensor import Tensor, _seed, enable_grad, no_grad, set_grad_enabled, walk
from . import functional

__all__ = ["Variable", "backward", "enable_grad", "functional", "grad", "no_grad", "set_grad_enabled"]


def _tuple(x, name: str) -> tuple:
    items = (x,) if isinstance(x, Tensor) else tuple(x)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"autograd.grad: {name}[{i}] must be a Tensor; got {type(t).__name__}")
    return items


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=None,
    is_grads_batched=False,
    materialize_grads=False,
):
    """d(sum_i <outputs_i, grad_outputs_i>)/d(inputs), returned as a tuple (PyTorch's torch.autograd.grad).

    No .grad is written. With create_graph=True the returned gradients have a graph of their own and can be
    differentiated again (Newton's method, Hessian-vector products, gradient penalties, MAML). retain_graph
    defaults to create_graph. An input the outputs do not depend on raises, unless allow_unused=True (then
    its gradient is None, or zeros with materialize_grads=True).
    """
    if is_grads_batched:
        raise NotImplementedError("autograd.grad: is_grads_batched=True is not supported; loop over the batch")
    outputs, inputs = _tuple(outputs, "outputs"), _tuple(inputs, "inputs")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    else:
        grad_outputs = list(grad_outputs) if isinstance(grad_outputs, (list, tuple)) else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ShapeError(f"autograd.grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            raise RuntimeError(f"autograd.grad: inputs[{i}] (shape {x.shape}) does not require grad")
    roots, seeds = [], []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not out.requires_grad:
            raise RuntimeError(
                f"autograd.grad: outputs[{i}] (shape {out.shape}) does not require grad and has no grad_fn"
            )
        roots.append(out)
        seeds.append(_seed(out, g, f"autograd.grad: outputs[{i}]", create_graph))
    retain = create_graph if retain_graph is None else retain_graph
    found = walk(roots, seeds, retain, create_graph, capture=list(inputs))
    result = []
    for i, (x, g) in enumerate(zip(inputs, found)):
        if g is None:
            if allow_unused is False or (allow_unused is None and not materialize_grads):
                raise RuntimeError(
                    f"autograd.grad: inputs[{i}] (shape {x.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            if materialize_grads:
                g = x.array * 0
        if g is not None and not isinstance(g, Tensor):
            g = Tensor._wrap(g)
        result.append(g)
    return tuple(result)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of tensors into the leaves' .grad (PyTorch's torch.autograd.backward)."""
    if inputs is not None:
        raise NotImplementedError("autograd.backward: inputs= is not supported; use autograd.grad")
    tensors = _tuple(tensors, "tensors")
    grads = (
        [None] * len(tensors)
        if grad_tensors is None
        else (list(grad_tensors) if isinstance(grad_tensors, (list, tuple)) else [grad_tensors])
    )
    seeds = [_seed(t, g, "autograd.backward", create_graph) for t, g in zip(tensors, grads)]
    walk(list(tensors), seeds, create_graph if retain_graph is None else retain_graph, create_graph)


class _VariableMeta(type):
    def __instancecheck__(cls, other) -> bool:
        return isinstance(other, Tensor)  # as PyTorch: every tensor is a Variable


class Variable(metaclass=_VariableMeta):
    """Deprecated PyTorch wrapper: Variable(t) is t detached (the same memory, no history), requiring grad when
    asked. Write the tensor directly instead."""

    def __new__(cls, data=None, requires_grad: bool = False, volatile: bool = False):
        if data is None:
            return Tensor([])
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)
