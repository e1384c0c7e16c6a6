"""Activation layers: Step, Sigmoid, Tanh, ReLU, LeakyReLU, Softmax, LogSoftmax; each calls F."""

from __future__ import annotations

from .. import ops
from ..tensor import Tensor
from . import functional as F
from .module import Module


class Step(Module):
    """The perceptron's step: 1 where x > 0 else 0; zero gradient. Shape: (*) -> (*)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.step(input)


class Sigmoid(Module):
    """1 / (1 + exp(-x)), elementwise, without overflow. Shape: (*) -> (*)."""

    def forward(self, input: Tensor) -> Tensor:
        return ops.sigmoid(input)


class Tanh(Module):
    """tanh(x), elementwise. Shape: (*) -> (*)."""

    def forward(self, input: Tensor) -> Tensor:
        return ops.tanh(input)


class ReLU(Module):
    """max(x, 0), elementwise. Shape: (*) -> (*). `inplace` is kept for PyTorch's signature; the result is new."""

    def __init__(self, inplace: bool = False):
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return ops.relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x. Shape: (*) -> (*)."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Softmax(Module):
    """exp(x) / sum(exp(x), dim): each slice along dim sums to 1. Shape: (*) -> (*)."""

    def __init__(self, dim: int | None = None):
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x - logsumexp(x, dim), stable. Shape: (*) -> (*)."""

    def __init__(self, dim: int | None = None):
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
