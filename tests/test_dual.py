"""Dual numbers a + b·ε: arithmetic with numbers on either side, elementary functions, derivative()."""

from __future__ import annotations

import math

import pytest

from toynn.autodiff import dual as D
from toynn.autodiff.dual import Dual, derivative, value_and_derivative


def _central(f, x, eps=1e-6):
    return (f(x + eps) - f(x - eps)) / (2 * eps)


ARITHMETIC = {
    "x + 2": lambda x: x + 2,
    "2 + x": lambda x: 2 + x,
    "x - 2": lambda x: x - 2,
    "2 - x": lambda x: 2 - x,
    "x * 3": lambda x: x * 3,
    "3 * x": lambda x: 3 * x,
    "x / 3": lambda x: x / 3,
    "3 / x": lambda x: 3 / x,
    "x ** 3": lambda x: x**3,
    "x ** 0.5": lambda x: x**0.5,
    "x ** -2": lambda x: x**-2,
    "2 ** x": lambda x: 2**x,
    "x ** x": lambda x: x**x,
    "-x": lambda x: -x,
    "+x": lambda x: +x,
    "abs(-x)": lambda x: abs(-x),
    "x * x / (1 + x)": lambda x: x * x / (1 + x),
}


@pytest.mark.parametrize("name", ARITHMETIC)
@pytest.mark.parametrize("x", [0.7, 1.9])
def test_arithmetic_matches_finite_differences(name, x):
    f = ARITHMETIC[name]
    value, slope = value_and_derivative(f, x)
    assert value == pytest.approx(f(x), rel=1e-14)
    assert slope == pytest.approx(_central(f, x), rel=1e-7, abs=1e-8)


def test_two_duals_follow_the_product_and_quotient_rules():
    a, b = Dual(2.0, 1.0), Dual(3.0, 4.0)
    p, q = a * b, a / b
    assert (p.real, p.dual) == (6.0, 2.0 * 4.0 + 1.0 * 3.0)
    assert q.real == pytest.approx(2 / 3) and q.dual == pytest.approx((1.0 * 3.0 - 2.0 * 4.0) / 9.0)
    s = a - b
    assert (s.real, s.dual) == (-1.0, -3.0)


FUNCTIONS = [
    (D.exp, math.exp, 0.3),
    (D.log, lambda a: 1 / a, 1.7),
    (D.sqrt, lambda a: 0.5 / math.sqrt(a), 2.0),
    (D.sin, math.cos, 0.4),
    (D.cos, lambda a: -math.sin(a), 0.4),
    (D.tan, lambda a: 1 / math.cos(a) ** 2, 0.4),
    (D.tanh, lambda a: 1 - math.tanh(a) ** 2, -0.8),
    (D.sigmoid, lambda a: math.exp(-a) / (1 + math.exp(-a)) ** 2, 0.9),
    (D.relu, lambda a: 1.0, 0.9),
    (D.relu, lambda a: 0.0, -0.9),
]


@pytest.mark.parametrize("fn, dfn, x", FUNCTIONS, ids=lambda v: getattr(v, "__name__", None))
def test_elementary_functions_carry_their_derivative(fn, dfn, x):
    y = fn(Dual(x, 2.0))
    assert y.real == pytest.approx(fn(x), rel=1e-15)
    assert y.dual == pytest.approx(2.0 * dfn(x), rel=1e-13)
    assert isinstance(fn(x), float)  # plain numbers pass straight through


def test_kinks_and_extremes_follow_pytorch():
    assert derivative(D.relu, 0.0) == 0.0
    assert derivative(abs, 0.0) == 0.0
    assert derivative(abs, -2.0) == -1.0
    assert D.sigmoid(Dual(-1000.0, 1.0)).dual == 0.0  # no overflow
    assert derivative(lambda x: 5.0, 1.0) == 0.0


def test_the_lecture_j_by_dual_numbers_matches_the_closed_form():
    for x in (-2.0, -0.3, 0.5, 1.5, 3.0):
        got = derivative(lambda v: D.cos(D.sin(v**2) + 3 * v**2), x)
        closed = -math.sin(math.sin(x * x) + 3 * x * x) * (2 * x * math.cos(x * x) + 6 * x)
        assert got == pytest.approx(closed, rel=1e-12, abs=1e-12)


def test_comparisons_look_at_the_value_only():
    a = Dual(1.0, 5.0)
    assert a == 1.0 and a != 2.0 and a < 2 and a <= 1 and a > 0 and a >= Dual(1.0, -3.0)
    assert sorted([Dual(3.0, 1.0), Dual(-1.0, 9.0), 2.0]) == [-1.0, 2.0, 3.0]
    assert float(a) == 1.0 and repr(a) == "Dual(1.0, 5.0)"


def test_branches_follow_the_value():
    def f(x):
        return x * x if x > 0 else -x

    assert derivative(f, 3.0) == 6.0 and derivative(f, -3.0) == -1.0


def test_unsupported_operands_raise_type_error():
    with pytest.raises(TypeError):
        Dual(1.0) + "a"
    with pytest.raises(TypeError):
        [1] * Dual(2.0)


def test_matches_pytorch_autograd(torch):
    x = 0.83
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (torch.exp(torch.sin(t) * t) / (1 + t**2)).backward()
    assert derivative(lambda v: D.exp(D.sin(v) * v) / (1 + v**2), x) == pytest.approx(t.grad.item(), rel=1e-13)
