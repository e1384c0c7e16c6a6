"""Symbolic differentiation: toynn graphs translated into SymPy, differentiated, printed and evaluated."""

from __future__ import annotations

import numpy as np
import pytest

import toynn
from toynn import nn
from toynn.autodiff import jacrev
from toynn.lecture import derivations as lec
from toynn.nn import functional as F

sp = pytest.importorskip("sympy")
from toynn.lecture import symbolic  # noqa: E402  after the skip: the module needs SymPy at call time only


def test_the_lecture_j_traces_to_its_formula_and_derivative():
    result = symbolic.derivative(lec.lecture_j, 1.5)
    x = sp.Symbol("x", real=True)
    assert result.symbols == [x]
    assert sp.simplify(result.expr - sp.cos(sp.sin(x**2) + 3 * x**2)) == 0
    closed = -sp.sin(sp.sin(x**2) + 3 * x**2) * (2 * x * sp.cos(x**2) + 6 * x)
    assert sp.simplify(result.derivative - closed) == 0
    assert sp.simplify(result.simplified - closed) == 0
    assert "3*x**2" in str(result.expr)  # constants print as integers, not 3.0
    assert "\\sin" in result.latex and "x^{2}" in result.latex and "sin" in result.text
    for v in (-2.0, -0.3, 0.5, 3.0):
        assert float(result.evaluate(v)) == pytest.approx(lec.lecture_j_closed_form(v), rel=1e-12, abs=1e-12)
    assert 0 < result.cse_size <= result.size


def test_an_mlp_jacobian_matches_reverse_mode(rng):
    toynn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2), nn.Sigmoid()).double()
    x = rng.standard_normal(3)
    result = symbolic.derivative(model, x, simplify=False)
    assert result.derivative.shape == (2, 3) and result.simplified is None
    np.testing.assert_allclose(result.evaluate(x), jacrev(model)(toynn.tensor(x)).array, rtol=1e-12, atol=1e-14)


def _many_ops(x, y):
    """Most translated ops in one function of a (2, 3) and a (3,) input, away from kinks."""
    a = F.relu(x) + abs(x) * 0.5 + toynn.clamp(x, -0.5, 0.5) + toynn.maximum(x, y)
    b = toynn.sqrt(y * y + 1) + toynn.log(toynn.sigmoid(y)) + toynn.exp(-y) / (y**2 + 2) ** 1.5
    c = (a @ b.reshape(3, 1)).T  # (1, 2)
    d = toynn.cat([x[:, :2], F.pad(x[:, 2:], (0, 1), value=2.0)], 1).mean(0)  # (4,)
    e = toynn.logsumexp(x, 1) + toynn.amax(x, 1) + toynn.log_softmax(x, 1)[:, 0]  # (2,)
    w = toynn.where(toynn.tensor([True, False]), e, -e)
    return toynn.cat([c.reshape(2) + w, d[1:3], (x.transpose(0, 1).sum() * y).tanh()[:1], toynn.sin(y[:1])])


def test_every_translated_op_matches_reverse_mode():
    x = np.array([[0.8, -1.3, 0.2], [-0.3, 1.1, 1.7]])  # off the kinks of relu, abs, clamp and maximum
    y = np.array([0.4, -0.9, 1.5])
    result = symbolic.derivative(_many_ops, x, y, simplify=False)
    jx, jy = result.evaluate(x, y)
    rx, ry = jacrev(_many_ops, (0, 1))(toynn.tensor(x), toynn.tensor(y))
    assert jx.shape == rx.shape == (6, 2, 3) and jy.shape == ry.shape == (6, 3)
    np.testing.assert_allclose(jx, rx.array, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(jy, ry.array, rtol=1e-11, atol=1e-13)
    assert str(result.symbols[0][1, 2]) == "x_1_2" and str(result.symbols[1][0]) == "y_0"


def test_unsupported_op_names_itself():
    with pytest.raises(NotImplementedError, match="CrossEntropy"):
        symbolic.derivative(lambda x: F.cross_entropy(x, toynn.tensor([1])), np.array([[0.1, 0.2]]))


def test_names_and_errors():
    result = symbolic.derivative(lambda a, b: a * b, 2.0, 3.0, names=("a", "b"), simplify=False)
    a, b = sp.symbols("a b", real=True)
    assert result.derivative == (b, a)
    assert result.evaluate(2.0, 3.0) == (3.0, 2.0)
    with pytest.raises(ValueError, match="2 inputs"):
        result.evaluate(1.0)
    with pytest.raises(ValueError, match="names"):
        symbolic.derivative(lambda a: a, 1.0, names=("a", "b"))


def test_expression_swell_is_exponential_as_trees_and_small_after_cse():
    rows = symbolic.swell_study(range(1, 7), step="x*sin(x)")
    sizes = [r["df_size"] for r in rows]
    assert all(b > 2 * a for a, b in zip(sizes, sizes[1:]))  # trees at least double with each level
    assert [r["f_size"] for r in rows] == [2**d * 2 - 2 for d in range(1, 7)]  # f itself: 2^(d+1) - 2 ops
    assert rows[-1]["df_size"] > 20 * rows[-1]["df_cse_size"]
    assert [r["graph_nodes"] for r in rows] == [2 * d for d in range(1, 7)]  # what reverse mode walks: linear
    assert "| 6 |" in symbolic.format_swell(rows)


def test_sin_chain_derivative_grows_quadratically_as_a_tree():
    rows = symbolic.swell_study([4, 8, 16], step="sin")
    tree, cse = [r["df_size"] for r in rows], [r["df_cse_size"] for r in rows]
    assert 3.0 < tree[2] / tree[1] < 5.0  # doubling the depth about quadruples the tree
    assert cse[2] / cse[1] < 2.5  # and about doubles it after CSE
