"""Derivatives as functions (grad, vjp, jacrev, jacfwd), compare(), the step-size study, the cost sweep,
the lecture's hand derivations against autograd, and the `toynn autodiff` command."""

from __future__ import annotations

import argparse
import math

import numpy as np
import pytest

import toynn
from toynn import nn
from toynn.autodiff import dual as D
from toynn.autodiff import (
    grad,
    jacfwd,
    jacrev,
    jvp,
    numerical_jacobian,
    step_size_study,
    trace_backward,
    value_and_grad,
    vjp,
)
from toynn.errors import ShapeError
from toynn.lecture import derivations as lec
from toynn.lecture.compare import compare, format_sweep, sweep_point
from toynn.nn import functional as F

from .devices import host, like

XS = [-2.0, -0.3, 0.5, 1.5, 3.0]


def _t(a):
    return toynn.tensor(np.asarray(a, dtype=np.float64))


def _mlp():
    toynn.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).double()


def _cnn_like(x, w):
    """A conv by im2col written with getitem/stack/matmul, then ReLU, 2x2 max-pool and a sum over channels.

    x (1, 5, 5), w (2, 9) -> (2, 1, 1): the CNN's ops written with the core's getitem, stack and matmul.
    """
    patches = toynn.stack([x[0, i : i + 3, j : j + 3].reshape(9) for i in range(3) for j in range(3)], 1)  # (9, 9)
    y = F.relu(w @ patches).reshape(2, 3, 3)[:, :2, :2]  # (2, 2, 2)
    return toynn.amax(y.reshape(2, 4), 1).reshape(2, 1, 1) + y.sum((1, 2), keepdim=True) * 0.1


# ---------------------------------------------------------------------------------------------
# grad, value_and_grad, vjp


@pytest.mark.parametrize("x", XS)
def test_grad_of_the_lecture_j_is_the_closed_form(x):
    g = grad(lec.lecture_j)(_t(x))
    assert g.item() == pytest.approx(lec.lecture_j_closed_form(x), rel=1e-12, abs=1e-12)


def test_grad_leaves_every_grad_as_it_was():
    model = _mlp()
    x = _t(np.linspace(-1, 1, 4)).requires_grad_()
    w = model[0].weight
    w.grad = toynn.ones(*w.shape, dtype=toynn.float64)
    before = w.grad.array.copy()
    g = grad(lambda v: (model(v) ** 2).sum())(x)
    assert g.shape == (4,) and np.abs(g.array).max() > 0
    assert x.grad is None and model[0].bias.grad is None and model[2].weight.grad is None
    np.testing.assert_array_equal(w.grad.array, before)


def test_grad_with_several_argnums_and_value_and_grad():
    a, b = _t([1.0, 2.0]), _t([3.0, -1.0])
    value, (ga, gb) = value_and_grad(lambda a, b: (a * b * b).sum(), (0, 1))(a, b)
    assert value.item() == pytest.approx(1 * 9 + 2 * 1)
    np.testing.assert_allclose(ga.array, b.array**2)
    np.testing.assert_allclose(gb.array, 2 * a.array * b.array)
    assert grad(lambda a, b: (a * b).sum(), argnums=-1)(a, b).array.tolist() == [1.0, 2.0]


def test_grad_of_a_non_scalar_and_bad_argnums_are_refused():
    with pytest.raises(ShapeError, match="one-element"):
        grad(lambda x: x * 2)(_t([1.0, 2.0]))
    with pytest.raises(ValueError, match="argnums 3"):
        grad(lambda x: x.sum(), argnums=3)(_t([1.0]))


def test_grad_of_a_constant_function_is_zero():
    assert grad(lambda x: toynn.tensor(2.0, dtype=toynn.float64))(_t([1.0, 2.0])).array.tolist() == [0.0, 0.0]


def test_vjp_is_v_transpose_jacobian_and_can_be_called_twice(rng):
    model = _mlp()
    x = _t(rng.standard_normal((2, 4)))
    out, vjp_fn = vjp(model, x)
    np.testing.assert_allclose(out.array, model(x).array)
    v = rng.standard_normal((2, 3))
    (g1,), (g2,) = vjp_fn(like(v, out)), vjp_fn(toynn.tensor(v))  # an array or a Tensor
    J = host(jacrev(model)(x))  # (2, 3, 2, 4)
    np.testing.assert_allclose(g1.array, np.einsum("ij,ijkl->kl", v, J), rtol=1e-12)
    np.testing.assert_array_equal(g1.array, g2.array)
    with pytest.raises(ShapeError, match="cotangent has shape"):
        vjp_fn(np.ones(3))


# ---------------------------------------------------------------------------------------------
# jacrev, jacfwd, jvp


def test_jacfwd_and_jacrev_agree_with_finite_differences_on_an_mlp(rng):
    model = _mlp()
    x = _t(rng.standard_normal((2, 4)))
    jf, jr = jacfwd(model)(x), jacrev(model)(x)
    assert jf.shape == jr.shape == (2, 3, 2, 4)
    np.testing.assert_allclose(jf.array, jr.array, rtol=1e-12, atol=1e-14)
    num = numerical_jacobian(model, [x])[0][0]  # (6, 8)
    np.testing.assert_allclose(jr.array.reshape(6, 8), num, rtol=1e-6, atol=1e-9)


def test_jacobians_with_respect_to_weights(rng):
    model = _mlp()
    x = _t(rng.standard_normal((3, 4)))
    params = [p.detach() for p in model.parameters()]

    def f(x, w1, b1, w2, b2):
        return F.linear(toynn.tanh(F.linear(x, w1, b1)), w2, b2)

    jf, jr = jacfwd(f, (1, 4))(x, *params), jacrev(f, (1, 4))(x, *params)
    assert jf[0].shape == (3, 3, 5, 4) and jf[1].shape == (3, 3, 3)
    for a, b in zip(jf, jr):
        np.testing.assert_allclose(a.array, b.array, rtol=1e-12, atol=1e-14)
    num = numerical_jacobian(lambda w: f(x, w, *params[1:]), [params[0].clone()])[0][0]
    np.testing.assert_allclose(jr[0].array.reshape(9, 20), num, rtol=1e-6, atol=1e-9)


def test_jacfwd_and_jacrev_agree_on_a_cnn_like_function(rng):
    x, w = _t(rng.standard_normal((1, 5, 5))), _t(rng.standard_normal((2, 9)))
    jf, jr = jacfwd(_cnn_like, (0, 1))(x, w), jacrev(_cnn_like, (0, 1))(x, w)
    assert jf[0].shape == (2, 1, 1, 1, 5, 5) and jf[1].shape == (2, 1, 1, 2, 9)
    num = numerical_jacobian(_cnn_like, [x.clone(), w.clone()])[0]
    for a, b, n in zip(jf, jr, num):
        np.testing.assert_allclose(a.array, b.array, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b.array.reshape(n.shape), n, rtol=1e-6, atol=1e-8)


def _conv_ops():
    """(conv2d, max_pool2d) from F, or from toynn.conv while it is not wired into F yet; None when absent."""
    if hasattr(F, "conv2d") and hasattr(F, "max_pool2d"):
        return F.conv2d, F.max_pool2d
    try:
        from toynn import conv
    except ImportError:
        return None
    return conv.conv2d, conv.max_pool2d


def test_jacfwd_and_jacrev_agree_on_a_small_cnn(rng):
    found = _conv_ops()
    if found is None:
        pytest.skip("toynn has no conv2d yet")
    conv2d, max_pool2d = found

    def f(x, w, b):
        return max_pool2d(toynn.tanh(conv2d(x, w, b, padding=1)), 2).sum(1)  # (1, 2, 5, 5) -> (1, 2, 2)

    x, w, b = _t(rng.standard_normal((1, 2, 5, 5))), _t(rng.standard_normal((3, 2, 3, 3))), _t([0.1, -0.2, 0.3])
    jf, jr = jacfwd(f, (0, 1, 2))(x, w, b), jacrev(f, (0, 1, 2))(x, w, b)
    assert jf[0].shape == (1, 2, 2, 1, 2, 5, 5) and jf[1].shape == (1, 2, 2, 3, 2, 3, 3)
    num = numerical_jacobian(f, [x.clone(), w.clone(), b.clone()])[0]
    for a, r, n in zip(jf, jr, num):
        np.testing.assert_allclose(a.array, r.array, rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(r.array.reshape(n.shape), n, rtol=1e-6, atol=1e-8)


def test_jacobians_match_pytorch(torch, rng):
    a = rng.standard_normal((3, 2))

    def f(lib, x):
        return lib.tanh(x @ x.T).sum(0) * lib.sin(x[:, 0])

    ours = jacrev(lambda x: f(toynn, x))(_t(a))
    theirs = torch.autograd.functional.jacobian(lambda x: f(torch, x), torch.tensor(a))
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.array, theirs.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(jacfwd(lambda x: f(toynn, x))(_t(a)).array, theirs.numpy(), rtol=1e-12, atol=1e-14)


def test_jacobians_of_scalars_and_constants():
    assert jacfwd(lec.lecture_j)(_t(1.5)).shape == ()
    assert jacrev(lec.lecture_j)(_t(1.5)).item() == pytest.approx(lec.lecture_j_closed_form(1.5), rel=1e-12)
    zero = jacrev(lambda x: toynn.ones(2, dtype=toynn.float64))(_t([1.0, 2.0, 3.0]))
    assert zero.shape == (2, 3) and not zero.array.any()
    assert not jacfwd(lambda x: toynn.ones(2, dtype=toynn.float64))(_t([1.0, 2.0, 3.0])).array.any()


def test_jvp_on_an_mlp_matches_a_central_difference(rng):
    model = _mlp()
    x, u = rng.standard_normal((2, 4)), rng.standard_normal((2, 4))
    _, du = jvp(model, (_t(x),), (_t(u),))
    eps = 1e-6
    with toynn.no_grad():
        num = (model(_t(x + eps * u)).array - model(_t(x - eps * u)).array) / (2 * eps)
    np.testing.assert_allclose(du.array, num, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------------------------------------
# compare, the step-size study, the sweep


def _j_dual(x):
    return D.cos(D.sin(x**2) + 3 * x**2)


@pytest.mark.parametrize("x", [-2.0, 0.5, 1.5, 3.0])
def test_the_four_methods_agree_with_the_closed_form_on_j(x):
    pytest.importorskip("sympy")
    result = compare(
        lec.lecture_j, x, reference=lambda v: np.array([[lec.lecture_j_closed_form(float(v))]]), dual=_j_dual
    )
    methods = [r.method for r in result.rows]
    assert methods == ["finite differences", "symbolic (SymPy)", "reverse mode", "forward mode", "dual numbers"]
    assert result["finite differences"].closed_diff < 1e-7
    for m in methods[1:]:
        assert result[m].closed_diff < 1e-12 * max(1.0, abs(lec.lecture_j_closed_form(x))), m
    assert result["finite differences"].evaluations.startswith("3 f calls")
    assert "1 backward" in result["reverse mode"].evaluations and "1 jvp" in result["forward mode"].evaluations
    assert "finite differences" in str(result) and "vs closed form" in str(result)


def test_compare_counts_passes_by_dimension(rng):
    W = _t(rng.standard_normal((2, 3)))
    result = compare(lambda x: toynn.tanh(W @ x), rng.standard_normal(3), symbolic=False)
    assert [r.method for r in result.rows] == ["finite differences", "reverse mode", "forward mode"]
    assert result["finite differences"].evaluations.startswith("7 f calls")  # 2n + 1 for the output's shape
    assert "2 backward" in result["reverse mode"].evaluations and "3 jvp" in result["forward mode"].evaluations
    assert result["forward mode"].max_diff < 1e-14 and result["finite differences"].max_diff < 1e-8
    with pytest.raises(KeyError):
        result["symbolic (SymPy)"]


def test_step_size_study_shows_truncation_then_rounding():
    central = step_size_study(lambda x: toynn.sin(x).sum(), np.array([1.0, 0.3]))
    assert 1e-7 <= central.best_eps <= 1e-4  # theory: (3 u / |f'''|)^(1/3), about 1e-5 in float64
    assert central.best_error < 1e-9
    assert central.errors[0] > 1e3 * central.best_error  # truncation at large eps
    assert central.errors[-1] > 1e3 * central.best_error  # rounding at 1e-15
    forward = step_size_study(lambda x: toynn.sin(x).sum(), np.array([1.0, 0.3]), method="forward")
    assert 1e-10 <= forward.best_eps <= 1e-6 and forward.best_error > 10 * central.best_error
    assert "<- best" in str(central)
    with pytest.raises(ValueError, match="method"):
        step_size_study(lambda x: x.sum(), np.array([1.0]), method="backward")


def test_sweep_cost_follows_the_lecture(rng):
    many_inputs = {r["method"]: r for r in sweep_point(200, 1, repeats=1)}
    many_outputs = {r["method"]: r for r in sweep_point(1, 200, repeats=1)}
    assert many_inputs["forward mode"]["passes"] == "200 jvp" and many_inputs["finite differences"]["passes"] == "401 f"
    assert many_outputs["reverse mode"]["passes"] == "1 f + 200 backward"
    # 200 passes against 1: a margin no machine noise closes
    assert many_inputs["forward mode"]["seconds"] > 5 * many_inputs["reverse mode"]["seconds"]
    assert many_outputs["reverse mode"]["seconds"] > 5 * many_outputs["forward mode"]["seconds"]
    table = format_sweep([dict(r, vary="n") for r in many_inputs.values()])
    assert "| 200 |" in table and "forward mode" in table


def test_plot_sweep_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    from toynn.lecture.compare import plot_sweep

    rows = [
        {"method": m, "n": s, "m": 1, "seconds": s * k, "passes": "", "vary": v}
        for v in "nm"
        for m, k in (("forward mode", 1e-4), ("reverse mode", 1e-5))
        for s in (1, 10)
    ]
    plot_sweep(rows, tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------------------------------------
# The lecture's derivations


def test_logistic_regression_by_hand_matches_autograd():
    theta, x, y_star = [0.2, -0.5, 0.8], [1.0, 2.0, -0.7], 1.0  # x[0] = 1: the bias
    hand = lec.logistic_regression(theta, x, y_star)
    J, names = lec.logistic_regression_graph(theta, x, y_star)
    J.backward()
    assert hand["J"] == pytest.approx(J.item(), rel=1e-14) and hand["J"] < 0  # a log-likelihood, maximised
    np.testing.assert_allclose(hand["dJ/dtheta"], names["theta"].grad.array, rtol=1e-13)
    np.testing.assert_allclose(hand["dJ/dx"], names["x"].grad.array, rtol=1e-13)
    assert hand["dJ/da"] == pytest.approx(y_star - hand["y"], rel=1e-12)  # the well-known simplification


def test_one_hidden_layer_by_hand_matches_autograd(rng):
    alpha, beta, x = rng.standard_normal((4, 3)), rng.standard_normal(4), np.array([1.0, 0.5, -1.2])
    hand = lec.one_hidden_layer(alpha, beta, x, 0.0)
    J, names = lec.one_hidden_layer_graph(alpha, beta, x, 0.0)
    J.backward()
    assert hand["J"] == pytest.approx(J.item(), rel=1e-14)
    for key, name in (("dJ/dalpha", "alpha"), ("dJ/dbeta", "beta"), ("dJ/dx", "x")):
        np.testing.assert_allclose(hand[key], names[name].grad.array, rtol=1e-12, err_msg=key)


def test_logistic_regression_backward_runs_in_the_lectures_order():
    J, names = lec.logistic_regression_graph([0.1, 0.2], [1.0, 3.0], 0.0)
    label = {id(t): n for n, t in names.items()}
    order = [label.get(id(parent)) for _, parent, _ in trace_backward(J) if id(parent) in label]
    assert order.index("y") < order.index("a") < order.index("theta")


# ---------------------------------------------------------------------------------------------
# The command


def _run(argv, capsys):
    from toynn.cli.autodiff import add_parser

    parser = argparse.ArgumentParser(prog="toynn")
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["autodiff", *argv])
    code = args.handler(args)
    return code, capsys.readouterr().out


def test_command_prints_the_table_and_writes_the_graph(tmp_path, capsys):
    code, out = _run(["--x", "0.5", "1.5", "--graph", str(tmp_path / "j.dot")], capsys)
    assert code == 0
    assert out.count("reverse mode") == 2 and "forward mode" in out and "dual numbers" in out
    assert f"{lec.lecture_j_closed_form(1.5):.15g}" in out
    dot = (tmp_path / "j.dot").read_text()
    assert dot.startswith("digraph") and "u1 (Sin)" in dot
    increments = [line.split("+=")[0].strip() for line in out.splitlines() if "+=" in line]
    assert increments == ["dJ/du", "dJ/du1", "dJ/du2", "dJ/dt", "dJ/dt", "dJ/dx"]


def test_command_without_dot_falls_back_to_dot_text(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    code, out = _run(["--x", "1.0", "--graph", str(tmp_path / "j.svg")], capsys)
    assert code == 1 and "Graphviz" in out and (tmp_path / "j.dot").exists()


def test_lecture_closed_form_is_the_derivative():
    x = 0.9
    assert lec.lecture_j_closed_form(x) == pytest.approx(
        (
            math.cos(math.sin((x + 1e-6) ** 2) + 3 * (x + 1e-6) ** 2)
            - math.cos(math.sin((x - 1e-6) ** 2) + 3 * (x - 1e-6) ** 2)
        )
        / 2e-6,
        rel=1e-8,
    )
