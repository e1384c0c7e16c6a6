"""Forward mode in a few lines: dual numbers a + b·ε with ε² = 0 carry a value and its derivative.

f(a + b·ε) = f(a) + f'(a)·b·ε, so evaluating f on Dual(x, 1) gives f(x) and f'(x) in one pass.
The tensor version of the same idea is toynn.autodiff.jvp (each op's jvp rule).
"""

from __future__ import annotations

import math
from numbers import Real


class Dual:
    """a + b·ε with ε² = 0: `real` is the value, `dual` the derivative carried along."""

    __slots__ = ("real", "dual")

    def __init__(self, real: float, dual: float = 0.0):
        self.real, self.dual = float(real), float(dual)

    def __repr__(self) -> str:
        return f"Dual({self.real!r}, {self.dual!r})"

    # (a + bε)(c + dε) = ac + (ad + bc)ε: the product rule falls out of ε² = 0
    def __add__(self, other):
        other = _lift(other)
        return NotImplemented if other is None else Dual(self.real + other.real, self.dual + other.dual)

    def __sub__(self, other):
        other = _lift(other)
        return NotImplemented if other is None else Dual(self.real - other.real, self.dual - other.dual)

    def __mul__(self, other):
        other = _lift(other)
        if other is None:
            return NotImplemented
        return Dual(self.real * other.real, self.real * other.dual + self.dual * other.real)

    def __truediv__(self, other):
        other = _lift(other)
        if other is None:
            return NotImplemented
        return Dual(self.real / other.real, (self.dual * other.real - self.real * other.dual) / other.real**2)

    def __pow__(self, other):
        if isinstance(other, Real):  # d(a^p) = p a^(p-1) da, also at a = 0 for p >= 1
            p = float(other)
            return Dual(self.real**p, p * self.real ** (p - 1) * self.dual if p else 0.0)
        other = _lift(other)
        return NotImplemented if other is None else exp(other * log(self))

    def __radd__(self, other):
        return self + other

    def __rsub__(self, other):
        other = _lift(other)
        return NotImplemented if other is None else other - self

    def __rmul__(self, other):
        return self * other

    def __rtruediv__(self, other):
        other = _lift(other)
        return NotImplemented if other is None else other / self

    def __rpow__(self, other):
        other = _lift(other)
        return NotImplemented if other is None else exp(self * log(other))

    def __neg__(self):
        return Dual(-self.real, -self.dual)

    def __pos__(self):
        return self

    def __abs__(self):
        return Dual(abs(self.real), math.copysign(1.0, self.real) * self.dual if self.real else 0.0)

    # comparisons look at the value only: branches in f follow the value, as in the tensor engine
    def __eq__(self, other):
        return self.real == _real(other)

    def __ne__(self, other):
        return self.real != _real(other)

    def __lt__(self, other):
        return self.real < _real(other)

    def __le__(self, other):
        return self.real <= _real(other)

    def __gt__(self, other):
        return self.real > _real(other)

    def __ge__(self, other):
        return self.real >= _real(other)

    def __hash__(self):
        return hash(self.real)

    def __float__(self) -> float:
        return self.real


def _lift(x) -> Dual | None:
    """x as a Dual (a number is a constant: derivative 0); None for anything else."""
    if isinstance(x, Dual):
        return x
    return Dual(x) if isinstance(x, Real) else None


def _real(x) -> float:
    return x.real if isinstance(x, Dual) else x


def _chain(x, f, df):
    """f(x) for a number; f(a) + f'(a)·b·ε for a Dual: the chain rule, once for every function."""
    if isinstance(x, Dual):
        return Dual(f(x.real), df(x.real) * x.dual)
    return f(x)


def _sigmoid(a: float) -> float:
    e = math.exp(-abs(a))  # never overflows
    return 1 / (1 + e) if a >= 0 else e / (1 + e)


def exp(x):
    return _chain(x, math.exp, math.exp)


def log(x):
    return _chain(x, math.log, lambda a: 1 / a)


def sqrt(x):
    return _chain(x, math.sqrt, lambda a: 0.5 / math.sqrt(a))


def sin(x):
    return _chain(x, math.sin, math.cos)


def cos(x):
    return _chain(x, math.cos, lambda a: -math.sin(a))


def tan(x):
    return _chain(x, math.tan, lambda a: 1 / math.cos(a) ** 2)


def tanh(x):
    return _chain(x, math.tanh, lambda a: 1 - math.tanh(a) ** 2)


def sigmoid(x):
    return _chain(x, _sigmoid, lambda a: _sigmoid(a) * (1 - _sigmoid(a)))


def relu(x):
    """max(x, 0); derivative 0 at 0, as in PyTorch."""
    return _chain(x, lambda a: max(a, 0.0), lambda a: 1.0 if a > 0 else 0.0)


def derivative(f, x: float) -> float:
    """f'(x) for f: R -> R, by one evaluation f(Dual(x, 1))."""
    y = f(Dual(x, 1.0))
    return y.dual if isinstance(y, Dual) else 0.0


def value_and_derivative(f, x: float) -> tuple[float, float]:
    """(f(x), f'(x)) from the same single evaluation on Dual(x, 1)."""
    y = f(Dual(x, 1.0))
    return (y.real, y.dual) if isinstance(y, Dual) else (float(y), 0.0)
