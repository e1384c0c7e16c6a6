"""Activation layers: Step, Sigmoid, Tanh, ReLU, LeakyReLU, Softmax, LogSoftmax, GELU, SiLU and the rest of
PyTorch's elementwise activations; each calls F."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..backend import get_default_dtype
from ..errors import ShapeError
from ..tensor import Tensor
from . import functional as F
from .module import Module, Parameter


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


class GELU(Module):
    """x * Phi(x), exact (erf) or approximate='tanh'. Shape: (*) -> (*)."""

    def __init__(self, approximate: str = "none"):
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class _Inplace(Module):
    """An elementwise activation with only PyTorch's `inplace` flag (kept for the signature; results are new)."""

    _fn = None

    def __init__(self, inplace: bool = False):
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class SiLU(_Inplace):
    """x * sigmoid(x). Shape: (*) -> (*)."""

    _fn = staticmethod(F.silu)


class Mish(_Inplace):
    """x * tanh(softplus(x)). Shape: (*) -> (*)."""

    _fn = staticmethod(F.mish)


class SELU(_Inplace):
    """scale * elu(x, alpha), self-normalising. Shape: (*) -> (*)."""

    _fn = staticmethod(F.selu)


class ReLU6(_Inplace):
    """min(max(x, 0), 6). Shape: (*) -> (*)."""

    _fn = staticmethod(F.relu6)


class Hardsigmoid(_Inplace):
    """relu6(x + 3) / 6. Shape: (*) -> (*)."""

    _fn = staticmethod(F.hardsigmoid)


class Hardswish(_Inplace):
    """x * relu6(x + 3) / 6. Shape: (*) -> (*)."""

    _fn = staticmethod(F.hardswish)


class ELU(Module):
    """x if x > 0 else alpha (exp(x) - 1). Shape: (*) -> (*)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class CELU(ELU):
    """x if x > 0 else alpha (exp(x / alpha) - 1). Shape: (*) -> (*)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, x where beta x > threshold. Shape: (*) -> (*)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        self.beta, self.threshold = beta, threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class LogSigmoid(Module):
    """log(sigmoid(x)), stable. Shape: (*) -> (*)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class Softsign(Module):
    """x / (1 + |x|). Shape: (*) -> (*)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softsign(input)


class Tanhshrink(Module):
    """x - tanh(x). Shape: (*) -> (*)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.tanhshrink(input)


class Hardtanh(Module):
    """x clamped to [min_val, max_val]. Shape: (*) -> (*)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val cannot be greater than max_val; got {min_val} > {max_val}")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class Softshrink(Module):
    """x -+ lambd outside [-lambd, lambd], 0 inside. Shape: (*) -> (*)."""

    def __init__(self, lambd: float = 0.5):
        self.lambd = lambd

    def forward(self, input: Tensor) -> Tensor:
        return F.softshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class Hardshrink(Softshrink):
    """x outside [-lambd, lambd], 0 inside. Shape: (*) -> (*)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.hardshrink(input, self.lambd)


class Threshold(Module):
    """x where x > threshold, else value. Shape: (*) -> (*)."""

    def __init__(self, threshold: float, value: float, inplace: bool = False):
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.threshold(input, self.threshold, self.value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class RReLU(Module):
    """Leaky ReLU with a random negative slope from U(lower, upper) in training, their mean in eval. (*) -> (*)."""

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False):
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """x if x > 0 else a * x, with a learned: one slope, or one per channel (dim 1). Shape: (N, C, *) -> same."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None):
        self.num_parameters, self.init = num_parameters, init
        dtype = np.dtype(dtype or get_default_dtype())
        self.weight = Parameter(np.full(num_parameters, init, dtype=dtype))
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        self.weight.array[...] = self.init

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class GLU(Module):
    """a * sigmoid(b) for the two halves a, b of the input along dim. Shape: (*, 2n, *) -> (*, n, *)."""

    def __init__(self, dim: int = -1):
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Softmax):
    """softmax(-x, dim). Shape: (*) -> (*)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.softmin(input, self.dim)


class Softmax2d(Module):
    """Softmax over the channels of each position. Shape: (N, C, H, W) or (C, H, W) -> the same."""

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4):
            raise ShapeError(f"Softmax2d: expected a 3-D or 4-D input; got shape {tuple(input.shape)}")
        return F.softmax(input, -3)
