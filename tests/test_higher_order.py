"""Higher-order reverse mode as users meet it: autograd.grad's semantics, hvp and hessian, a gradient penalty
through a real critic, and the WGAN-GP and MAML examples, each against PyTorch from the same numbers."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

import toynn
from toynn.autodiff import hessian, hvp

from .devices import host

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _example(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _close(a, b, rtol=1e-9):
    a, b = np.asarray(host(a), dtype=np.float64), np.asarray(host(b), dtype=np.float64)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * max(np.abs(b).max(), 1e-12))


# ---------------------------------------------------------------------------------------------
# autograd.grad


def test_grad_returns_gradients_and_writes_no_grad():
    x = toynn.tensor([1.0, 2.0, 3.0], dtype=toynn.float64, requires_grad=True)
    y = (x**3).sum()
    (g,) = toynn.autograd.grad(y, x)
    _close(g.array, 3 * x.array**2)
    assert x.grad is None and g.grad_fn is None and not g.requires_grad


def test_second_and_third_derivatives_by_repeated_grad():
    x = toynn.tensor([0.3, -1.2], dtype=toynn.float64, requires_grad=True)
    (d1,) = toynn.autograd.grad(x.sin().sum(), x, create_graph=True)
    (d2,) = toynn.autograd.grad(d1.sum(), x, create_graph=True)
    (d3,) = toynn.autograd.grad(d2.sum(), x)
    _close(d1.array, np.cos(x.array))
    _close(d2.array, -np.sin(x.array))
    _close(d3.array, -np.cos(x.array))


def test_backward_create_graph_keeps_the_history_of_grad():
    x = toynn.tensor([0.5, 2.0], dtype=toynn.float64, requires_grad=True)
    (x.exp() * x).sum().backward(create_graph=True)
    g = x.grad
    assert g.grad_fn is not None  # .grad has a graph: it can be differentiated
    _close(g.array, np.exp(x.array) * (1 + x.array))
    x.grad = None
    g.sum().backward()
    _close(x.grad.array, np.exp(x.array) * (2 + x.array))


def test_grad_of_several_outputs_and_inputs_with_grad_outputs(torch):
    a = np.array([[0.2, -0.4], [1.1, 0.7]])
    b = np.array([0.3, -0.8])
    v = np.array([[1.0, -2.0], [0.5, 3.0]])

    def run(m):
        x, y = m.tensor(a, requires_grad=True), m.tensor(b, requires_grad=True)
        u, w = x.tanh() * y, (x @ y).exp()
        gs = m.autograd.grad([u, w], [x, y], [m.tensor(v), m.tensor(np.ones(2))], create_graph=True)
        return [g.detach().numpy() for g in gs] + [
            g.detach().numpy() for g in m.autograd.grad(sum((g * g).sum() for g in gs), [x, y])
        ]

    for ours, theirs in zip(run(toynn), run(torch)):
        _close(ours, theirs)


def test_grad_through_a_non_leaf_input():
    x = toynn.tensor([1.0, -2.0], dtype=toynn.float64, requires_grad=True)
    h = x * 3
    (gh,) = toynn.autograd.grad((h**2).sum(), h)
    _close(gh.array, 2 * h.array)


def test_grad_errors_name_what_is_wrong():
    x = toynn.tensor([1.0], dtype=toynn.float64, requires_grad=True)
    z = toynn.tensor([1.0], dtype=toynn.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"inputs\[1\].*not used.*allow_unused=True"):
        toynn.autograd.grad((x * 2).sum(), [x, z])
    assert toynn.autograd.grad((x * 2).sum(), [x, z], allow_unused=True)[1] is None
    (zero,) = toynn.autograd.grad((x * 2).sum(), [z], allow_unused=True, materialize_grads=True)
    assert zero.array.tolist() == [0.0]
    with pytest.raises(RuntimeError, match=r"inputs\[0\].*does not require grad"):
        toynn.autograd.grad((x * 2).sum(), toynn.tensor([1.0]))
    y = (x * 2).sum()
    toynn.autograd.grad(y, x)  # retain_graph defaults to create_graph (False): the graph is freed
    with pytest.raises(RuntimeError, match="second time"):
        toynn.autograd.grad(y, x)
    with pytest.raises(RuntimeError, match="BinaryCrossEntropy has no differentiable backward"):
        p = toynn.tensor([0.3], dtype=toynn.float64, requires_grad=True)
        loss = toynn.nn.functional.binary_cross_entropy(p, toynn.tensor([1.0], dtype=toynn.float64))
        toynn.autograd.grad(loss, p, create_graph=True)


# ---------------------------------------------------------------------------------------------
# hvp and hessian


def _loss(x):  # a non-quadratic function of a matrix, through matmul, tanh, softmax
    w = toynn.tensor(np.arange(12.0).reshape(3, 4) / 10 - 0.5)
    return toynn.log_softmax((x @ w).tanh(), dim=1)[:, 0].sum() + (x**4).sum() / 10


def _torch_loss(torch, x):
    w = torch.tensor(np.arange(12.0).reshape(3, 4) / 10 - 0.5)
    return torch.log_softmax((x @ w).tanh(), dim=1)[:, 0].sum() + (x**4).sum() / 10


def test_hvp_both_ways_agree_with_each_other_and_pytorch(torch, rng):
    x, v = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    rev = hvp(_loss, toynn.tensor(x), toynn.tensor(v))
    fwd = hvp(_loss, toynn.tensor(x), toynn.tensor(v), mode="forward")
    _, ref = torch.autograd.functional.hvp(lambda t: _torch_loss(torch, t), torch.tensor(x), torch.tensor(v))
    _close(rev.array, ref.numpy())
    _close(fwd.array, ref.numpy())
    _, ours = toynn.autograd.functional.hvp(_loss, toynn.tensor(x), toynn.tensor(v))
    _close(ours.array, ref.numpy())


def test_hessian_both_ways_match_pytorch(torch, rng):
    x = rng.standard_normal((2, 3))
    ref = torch.autograd.functional.hessian(lambda t: _torch_loss(torch, t), torch.tensor(x)).numpy()
    for mode in ("reverse", "forward"):
        h = hessian(_loss, toynn.tensor(x), mode=mode)
        assert h.shape == (2, 3, 2, 3)
        _close(h.array, ref)
    _close(toynn.autograd.functional.hessian(_loss, toynn.tensor(x)).array, ref)


def test_hvp_of_a_linear_function_is_zero_and_bad_arguments_are_named():
    x = toynn.tensor([1.0, 2.0], dtype=toynn.float64)
    assert hvp(lambda t: (t * 3).sum(), x, toynn.ones(2, dtype=toynn.float64)).array.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="mode must be one of"):
        hvp(lambda t: (t * t).sum(), x, x, mode="sideways")
    with pytest.raises(toynn.ShapeError, match=r"v has shape \(3,\) but x has shape \(2,\)"):
        hvp(lambda t: (t * t).sum(), x, toynn.ones(3, dtype=toynn.float64))
    with pytest.raises(toynn.ShapeError, match="one-element"):
        hvp(lambda t: t * t, x, x)


# ---------------------------------------------------------------------------------------------
# Gradient penalty through a critic made of layers; the examples


def test_gradient_penalty_through_conv_tanh_maxpool_linear_matches_pytorch(torch, rng):
    """Done-when of the issue: the parameters' gradients of a gradient penalty, to 1e-9 in float64."""
    x = rng.standard_normal((4, 2, 10, 10))

    def critic(m):
        nn = m.nn
        return nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1),
            nn.Tanh(),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 3, 3, stride=2),
            nn.Tanh(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(3, 1),
        ).double()

    ours, theirs = critic(toynn), critic(torch)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        q.data.copy_(torch.tensor(rng.standard_normal(tuple(q.shape)) * 0.5))
        p.data = toynn.tensor(q.detach().numpy())

    def penalty(m, model, x):
        x = m.tensor(x, requires_grad=True)
        (g,) = m.autograd.grad(model(x).sum(), x, create_graph=True)
        return ((g.reshape(x.shape[0], -1).pow(2).sum(1).sqrt() - 1) ** 2).mean()

    gp, tgp = penalty(toynn, ours, x), penalty(torch, theirs, x)
    _close(gp.item(), tgp.item())
    gs = toynn.autograd.grad(gp, list(ours.parameters()), allow_unused=True)
    tgs = torch.autograd.grad(tgp, list(theirs.parameters()), allow_unused=True)
    assert sum(g is not None for g in gs) == len(gs) - 1  # the last bias does not change the input gradient
    for g, t in zip(gs, tgs):
        assert (g is None) == (t is None)
        if g is not None:
            _close(g.array, t.numpy())


def test_wgan_gp_example_matches_pytorch(torch):
    wgan = _example("wgan_gp")
    c, g, w = wgan.train(toynn, steps=6)
    tc, tg, tw = wgan.train(torch, steps=6)
    _close(c, tc)
    _close(g, tg)
    for k in w:
        _close(w[k], tw[k])
    assert c[-1] < c[0]  # the critic learns to tell the ring from the generator's points


def test_maml_example_matches_pytorch(torch):
    maml = _example("maml")
    losses, w = maml.train(toynn, steps=4)
    tlosses, tw = maml.train(torch, steps=4)
    _close(losses, tlosses)
    for a, b in zip(w, tw):
        _close(a, b)


# ---------------------------------------------------------------------------------------------
# The lecture's tie-ins (toynn experiment curvature)


def test_newton_reaches_rosenbrocks_minimum_where_gradient_descent_crawls():
    from toynn.lecture.experiments.curvature import gradient_descent, newton, rosenbrock

    x0 = np.array([-1.2, 1.0])
    assert newton(rosenbrock, x0, 8)[-1] < 1e-12
    assert gradient_descent(rosenbrock, x0, 300, 1e-3)[-1] > 1e-2


def test_power_iteration_on_hvp_finds_the_hessians_top_eigenvalues(rng):
    """On a net small enough for the full Hessian: power iteration on hvp agrees with eigvalsh of hessian()."""
    from toynn.lecture.experiments.curvature import top_eigenvalues

    x, y = toynn.tensor(rng.standard_normal((20, 3))), toynn.tensor(rng.integers(0, 2, 20))
    w1, w2 = rng.standard_normal((4, 3)), rng.standard_normal((2, 4))

    def loss(flat):
        a, b = flat[:12].reshape(4, 3), flat[12:].reshape(2, 4)
        return toynn.nn.functional.cross_entropy(toynn.nn.functional.linear((x @ a.T).tanh(), b), y)

    full = hessian(loss, toynn.tensor(np.concatenate([w1.ravel(), w2.ravel()])))
    exact = np.linalg.eigvalsh(host(full).reshape(20, 20))
    exact = exact[np.argsort(-np.abs(exact))][:2]
    params = [toynn.tensor(w1, requires_grad=True), toynn.tensor(w2, requires_grad=True)]

    def loss_params():
        return loss(toynn.cat([params[0].reshape(-1), params[1].reshape(-1)]))

    found = top_eigenvalues(loss_params, params, k=2, iters=300)
    np.testing.assert_allclose(found, exact, rtol=1e-3)


def test_retain_grad_keeps_a_non_leafs_gradient(torch):
    def run(m):
        x = m.tensor([1.0, -2.0, 0.5], requires_grad=True)
        h = x * x
        h.retain_grad()
        assert h.retains_grad
        (h.exp() * 3).sum().backward()
        return h.grad.numpy(), x.grad.numpy()

    for a, b in zip(run(toynn), run(torch)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_the_gradient_of_a_0d_leaf_is_a_0d_array():
    a = toynn.tensor(2.0, requires_grad=True)
    (a * 3).backward()
    assert not isinstance(a.grad.array, np.generic) and a.grad.shape == ()
    a.grad.zero_()  # a NumPy scalar here would raise
    assert a.grad.item() == 0.0
