"""PyTorch's torch.autograd namespace. For now only the deprecated Variable; the transforms live in toynn.autodiff."""

from __future__ import annotations

from ..tensor import Tensor


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
