"""The checker itself: it passes on right rules and fails, with a useful report, on wrong ones."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import toynn
from toynn.autodiff import gradcheck, jvp, numerical_grad, numerical_jacobian

from .devices import like


class Square(toynn.Function):
    """y = x * x, with the right rules."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return 2 * g * self.x

    def jvp(self, dx):
        return 2 * self.x * dx


class WrongSquare(toynn.Function):
    """y = x * x, whose backward is off by half: 3x instead of 2x (its jvp is right)."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return 3 * g * self.x

    def jvp(self, dx):
        return 2 * self.x * dx


class SlightlyWrongSin(toynn.Function):
    """y = sin(x), whose backward is 1% too large."""

    def forward(self, x):
        self.x = x
        return np.sin(x)

    def backward(self, g):
        return 1.01 * g * np.cos(self.x)

    def jvp(self, dx):
        return np.cos(self.x) * dx


class WrongMulSecondInput(toynn.Function):
    """z = x * y whose gradient for y is wrong (g * y instead of g * x)."""

    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, g):
        return g * self.y, g * self.y

    def jvp(self, dx, dy):
        return dx * self.y + self.x * dy


def f64(values, requires_grad=True):
    return toynn.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def numbers_after(word: str, message: str) -> float:
    match = re.search(rf"{word} (-?[0-9.]+(?:e[-+]?\d+)?)", message)
    assert match, f"no number after {word!r} in {message!r}"
    return float(match.group(1))


# ---------------------------------------------------------------------------------------------
# It passes on right rules


def test_passes_on_a_correct_custom_function():
    x = f64([0.5, -2.0, 1.0, 3.0])
    assert gradcheck(Square.apply, x) is True
    assert gradcheck(Square.apply, x, fast_mode=True) is True


def test_passes_on_builtin_ops_with_several_inputs_and_outputs():
    a = f64(np.linspace(-1, 1, 6).reshape(2, 3))
    b = f64([0.3, -0.7, 1.1])
    assert gradcheck(lambda a, b: (a * b + a.exp(), (a @ b).tanh()), (a, b))
    assert gradcheck(lambda a, b: (a * b + a.exp(), (a @ b).tanh()), (a, b), fast_mode=True)


def test_custom_function_forward_and_jvp_are_used():
    x = f64([1.0, -2.0], requires_grad=False)
    out, tangent = jvp(Square.apply, (x,), (like(np.array([1.0, 1.0]), x),))
    np.testing.assert_allclose(out.array, [1.0, 4.0])
    np.testing.assert_allclose(tangent.array, [2.0, -4.0])


# ---------------------------------------------------------------------------------------------
# It fails on wrong rules, with a report


def test_fails_on_wrong_backward_naming_input_and_worst_element():
    x = f64([0.5, -2.0, 1.0, 3.0])
    with pytest.raises(AssertionError) as info:
        gradcheck(WrongSquare.apply, x)
    message = str(info.value)
    assert "Jacobian mismatch for output 0 with respect to input 0" in message
    assert "(shape (4,))" in message
    assert "4 of 16 entries differ" in message  # the diagonal
    # |3x - 2x| = |x| is largest at x = 3.0, element 3
    assert re.search(r"worst at output element 3, input element \((np\.int64\()?3\)?,\)", message), message
    assert numbers_after("numerical", message) == pytest.approx(6.0, rel=1e-6)
    assert numbers_after("analytical", message) == pytest.approx(9.0, rel=1e-12)


def test_fails_naming_the_second_input_and_second_output():
    x = f64([1.0, 2.0])
    y = f64([3.0, -4.0])
    with pytest.raises(AssertionError, match=r"output 0 with respect to input 1"):
        gradcheck(WrongMulSecondInput.apply, (x, y))
    with pytest.raises(AssertionError, match=r"output 1 with respect to input 0"):
        gradcheck(lambda x: (x * 2, WrongSquare.apply(x)), x)


def test_input_without_requires_grad_is_not_checked():
    x = f64([1.0, 2.0])
    y = f64([3.0, -4.0], requires_grad=False)
    assert gradcheck(WrongMulSecondInput.apply, (x, y))  # only y's gradient is wrong


def test_fails_on_a_one_percent_error():
    x = f64([0.3, 1.2, -0.8])
    with pytest.raises(AssertionError, match="numerical"):
        gradcheck(SlightlyWrongSin.apply, x)


def test_fast_mode_catches_wrong_backward():
    x = f64([0.5, -2.0, 1.0, 3.0])
    with pytest.raises(AssertionError, match=r"fast mode.*numerical .*analytical") as info:
        gradcheck(WrongSquare.apply, x, fast_mode=True)
    num, ana = numbers_after("numerical", str(info.value)), numbers_after("analytical", str(info.value))
    assert ana == pytest.approx(1.5 * num, rel=1e-6)  # 3x against 2x, along any direction
    with pytest.raises(AssertionError, match="fast mode"):
        gradcheck(SlightlyWrongSin.apply, f64([0.3, 1.2, -0.8]), fast_mode=True)


@pytest.mark.parametrize("name", ["exp", "sin"])
@pytest.mark.parametrize("fast_mode", [False, True])
def test_fails_when_eps_is_far_too_large(name, fast_mode):
    x = f64([2.0, 3.5, -1.0])
    f = getattr(toynn, name)
    assert gradcheck(f, x, fast_mode=fast_mode)  # the default eps is fine
    with pytest.raises(AssertionError):
        gradcheck(f, x, eps=1.0, fast_mode=fast_mode)  # the centered difference is off by sinh(1) or sin(1)


def test_leaves_inputs_and_grads_as_they_were():
    x = f64([0.5, -2.0, 0.1, 3.3])
    x.grad = toynn.tensor(np.array([7.0, 8.0, 9.0, 10.0]))
    before = x.array.copy()
    gradcheck(lambda t: (t * t).sum(), x)
    with pytest.raises(AssertionError):
        gradcheck(WrongSquare.apply, x)
    np.testing.assert_array_equal(x.array, before)
    np.testing.assert_array_equal(x.grad.array, [7.0, 8.0, 9.0, 10.0])
    gradcheck(lambda t: (t * t).sum(), x, fast_mode=True)
    np.testing.assert_allclose(x.array, before, rtol=1e-15)
    np.testing.assert_array_equal(x.grad.array, [7.0, 8.0, 9.0, 10.0])


def test_fast_mode_restores_inputs_exactly():
    x = f64([0.5, -2.0, 0.1, 3.3])
    before = x.array.copy()
    gradcheck(lambda t: (t * t).sum(), x, fast_mode=True)
    np.testing.assert_array_equal(x.array, before)


def test_warns_on_float32_and_refuses_without_grad_inputs():
    with pytest.warns(UserWarning, match="float64"):
        gradcheck(lambda t: t * 2, toynn.tensor([1.0, 2.0], requires_grad=True), eps=1e-2, atol=1e-2, rtol=1e-2)
    with pytest.raises(ValueError, match="requires grad"):
        gradcheck(lambda t: t * 2, f64([1.0], requires_grad=False))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradcheck(lambda t: t * 2, f64([1.0, 2.0]))  # no warning in float64


def test_non_contiguous_input():
    data = np.arange(1.0, 7.0).reshape(2, 3).T  # F-ordered; tensor() keeps the layout
    x = toynn.tensor(data, requires_grad=True)
    jac = numerical_jacobian(lambda t: t * 2, x)[0][0]
    np.testing.assert_allclose(jac, 2 * np.eye(6), atol=1e-6)
    assert gradcheck(lambda t: t * 2, x)


def test_report_prints_plain_indices():
    with pytest.raises(AssertionError, match=r"input element \(1, 0\)"):
        gradcheck(WrongSquare.apply, f64([[0.5, -1.0], [3.0, 1.0]]))


# ---------------------------------------------------------------------------------------------
# The finite differences


def test_numerical_grad_matches_closed_form():
    x = f64([[0.5, -1.0], [2.0, 0.25]])
    y = f64([[1.5, 0.3], [-0.7, 2.0]])
    gx, gy = numerical_grad(lambda x, y: (x**3 * y).sum() + y.sin().sum(), (x, y))
    assert gx.shape == x.shape and gy.shape == y.shape
    np.testing.assert_allclose(gx, 3 * x.array**2 * y.array, rtol=1e-8)
    np.testing.assert_allclose(gy, x.array**3 + np.cos(y.array), rtol=1e-8)
    assert x.grad is None and y.grad is None  # no backward was run


def test_numerical_grad_needs_a_scalar():
    with pytest.raises(ValueError, match="scalar"):
        numerical_grad(lambda x: x * 2, f64([1.0, 2.0]))


def test_numerical_jacobian_shapes_and_values():
    a = f64(np.arange(6.0).reshape(2, 3))
    b = f64([1.0, -1.0, 2.0, 0.5])
    before = (a.array.copy(), b.array.copy())
    jac = numerical_jacobian(lambda a, b: (a.sum(1), b * 2, (a * a).sum()), (a, b))
    assert len(jac) == 3 and all(len(row) == 2 for row in jac)
    shapes = [[j.shape for j in row] for row in jac]
    assert shapes == [[(2, 6), (2, 4)], [(4, 6), (4, 4)], [(1, 6), (1, 4)]]  # (out.size, in.size)
    np.testing.assert_allclose(jac[0][0], np.kron(np.eye(2), np.ones(3)), atol=1e-8)
    np.testing.assert_allclose(jac[1][1], 2 * np.eye(4), atol=1e-8)
    np.testing.assert_allclose(jac[2][0], 2 * a.array.reshape(1, -1), atol=1e-6)
    for j in (jac[0][1], jac[1][0], jac[2][1]):
        np.testing.assert_array_equal(j, 0)
    np.testing.assert_array_equal(a.array, before[0])  # inputs are restored
    np.testing.assert_array_equal(b.array, before[1])


def test_numerical_jacobian_of_custom_function_is_right_even_when_backward_is_wrong():
    x = f64([0.5, -2.0, 3.0])
    jac = numerical_jacobian(WrongSquare.apply, x)[0][0]
    np.testing.assert_allclose(jac, np.diag(2 * x.array), atol=1e-6)
