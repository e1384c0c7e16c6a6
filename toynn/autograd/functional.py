"""torch.autograd.functional's names on toynn.autodiff.higher: hvp, vhp, hessian (one Tensor input)."""

from __future__ import annotations

from ..autodiff import higher
from ..tensor import Tensor, no_grad


def _one(inputs, op: str) -> Tensor:
    if isinstance(inputs, (tuple, list)):
        if len(inputs) != 1:
            raise NotImplementedError(
                f"autograd.functional.{op}: only one input tensor is supported; got {len(inputs)}"
            )
        inputs = inputs[0]
    return inputs


def hvp(func, inputs, v, create_graph: bool = False, strict: bool = False):
    """(func(inputs), H v) as torch.autograd.functional.hvp."""
    x = _one(inputs, "hvp")
    with no_grad():
        out = func(x)
    return out, higher.hvp(func, x, _one(v, "hvp"))


def vhp(func, inputs, v, create_graph: bool = False, strict: bool = False):
    """(func(inputs), v^T H): the Hessian is symmetric, so the same product as hvp."""
    return hvp(func, inputs, v, create_graph, strict)


def hessian(
    func,
    inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
):
    """The Hessian of the scalar func at inputs, shape inputs.shape * 2."""
    return higher.hessian(func, _one(inputs, "hessian"))
