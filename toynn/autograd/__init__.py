"""PyTorch's torch.autograd namespace. For now only the deprecated Variable; the transforms live in toynn.autodiff."""

from __future__ import annotations

from ..tensor import Tensor


class _VariableMeta(type):
    def __instancecheck__(cls, other) -> bool:
        return isinstance(other, Tensor)  # as PyTorch: every tensor is a Variable


class Variable(metaclass=_VariableMeta):
    """Deprecated PyTorch wrapper: Variable(t) is t itself, Variable(t, requires_grad=True) a leaf sharing t's memory
    that requires grad. Write the tensor directly instead."""

    def __new__(cls, data=None, requires_grad: bool = False, volatile: bool = False):
        if data is None:
            return Tensor([])
        t = data if isinstance(data, Tensor) else Tensor(data)
        if requires_grad and not t.requires_grad:
            t = t.detach().requires_grad_(True)
        return t
