"""Losses: a table of cases run on toynn and PyTorch, the fused cross-entropy against its composite,
numerics at extreme inputs, and the messages of bad targets."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import toynn
import toynn.nn as nn
import toynn.nn.functional as F
from toynn.autodiff import gradcheck, jvp, numerical_jacobian
from toynn.errors import ShapeError

from .cases import Case, randn
from .devices import host, like


def probs(rng, shape):
    """Rows of class probabilities along dim 1 (or dim 0 for a 1-D shape)."""
    e = np.exp(rng.standard_normal(shape))
    return e / e.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)


def unit(rng, shape):
    """Values in (0.05, 0.95): BCE's input and target, away from the clamps."""
    return rng.uniform(0.05, 0.95, shape)


T = np.array([0, 2, 1, 2])  # class indices for (4, 3) logits
T_IGN = np.array([0, -100, 1, 2])  # one ignored with the default ignore_index
T_KD = np.array([[[0, 2], [1, 1]], [[2, 0], [-100, 1]]])  # (2, 2, 2) for logits (2, 3, 2, 2)
W = np.array([0.5, 2.0, 1.5])  # class weights
EW = np.array([[1.0], [0.5], [2.0], [1.5]])  # per-sample weights, broadcast over (4, 3)


def _f(m):
    return m.nn.functional


def _w(m, x, w=W):
    return m.tensor(w, dtype=x.dtype)


CE, NLL = (4, 3), (4, 3)
LOSS_CASES = [
    # cross_entropy from class indices (the fused primitive)
    Case("cross_entropy", lambda m, x: _f(m).cross_entropy(x, m.tensor(T)), [CE]),
    Case("cross_entropy/sum", lambda m, x: _f(m).cross_entropy(x, m.tensor(T), reduction="sum"), [CE]),
    Case("cross_entropy/none", lambda m, x: _f(m).cross_entropy(x, m.tensor(T), reduction="none"), [CE]),
    Case("cross_entropy/weight", lambda m, x: _f(m).cross_entropy(x, m.tensor(T), weight=_w(m, x)), [CE]),
    Case(
        "cross_entropy/weight-none",
        lambda m, x: _f(m).cross_entropy(x, m.tensor(T), weight=_w(m, x), reduction="none"),
        [CE],
    ),
    Case("cross_entropy/ignore-default", lambda m, x: _f(m).cross_entropy(x, m.tensor(T_IGN)), [CE]),
    Case(
        "cross_entropy/ignore_index=2-weight",
        lambda m, x: _f(m).cross_entropy(x, m.tensor(T), weight=_w(m, x), ignore_index=2),
        [CE],
    ),
    Case("cross_entropy/smoothing", lambda m, x: _f(m).cross_entropy(x, m.tensor(T), label_smoothing=0.1), [CE]),
    Case(
        "cross_entropy/smoothing-weight-ignore-sum",
        lambda m, x: _f(m).cross_entropy(x, m.tensor(T_IGN), weight=_w(m, x), label_smoothing=0.2, reduction="sum"),
        [CE],
    ),
    Case(
        "cross_entropy/smoothing-weight-ignore-mean",
        lambda m, x: _f(m).cross_entropy(x, m.tensor(T_IGN), weight=_w(m, x), label_smoothing=0.2),
        [CE],
    ),
    Case(
        "cross_entropy/smoothing-weight-none",
        lambda m, x: _f(m).cross_entropy(x, m.tensor(T_IGN), weight=_w(m, x), label_smoothing=0.3, reduction="none"),
        [CE],
    ),
    Case("cross_entropy/kdim", lambda m, x: _f(m).cross_entropy(x, m.tensor(T_KD)), [(2, 3, 2, 2)]),
    Case(
        "cross_entropy/kdim-weight-none",
        lambda m, x: _f(m).cross_entropy(x, m.tensor(T_KD), weight=_w(m, x), reduction="none"),
        [(2, 3, 2, 2)],
    ),
    Case("cross_entropy/1d", lambda m, x: _f(m).cross_entropy(x, m.tensor(1)), [(3,)]),
    Case("cross_entropy/1d-none", lambda m, x: _f(m).cross_entropy(x, m.tensor(2), reduction="none"), [(3,)]),
    # cross_entropy from class probabilities (composite); the target is differentiated too
    Case("cross_entropy/probs", lambda m, x, p: _f(m).cross_entropy(x, p), [CE, CE], [randn, probs]),
    Case(
        "cross_entropy/probs-weight-smoothing-none",
        lambda m, x, p: _f(m).cross_entropy(x, p, weight=_w(m, x), label_smoothing=0.1, reduction="none"),
        [CE, CE],
        [randn, probs],
    ),
    Case(
        "cross_entropy/probs-kdim-sum",
        lambda m, x, p: _f(m).cross_entropy(x, p, reduction="sum"),
        [(2, 3, 2), (2, 3, 2)],
        [randn, probs],
    ),
    Case("cross_entropy/probs-1d", lambda m, x, p: _f(m).cross_entropy(x, p), [(3,), (3,)], [randn, probs]),
    # nll_loss (composite)
    Case("nll_loss", lambda m, x: _f(m).nll_loss(x, m.tensor(T)), [NLL]),
    Case("nll_loss/sum", lambda m, x: _f(m).nll_loss(x, m.tensor(T), reduction="sum"), [NLL]),
    Case("nll_loss/none-ignore", lambda m, x: _f(m).nll_loss(x, m.tensor(T_IGN), reduction="none"), [NLL]),
    Case(
        "nll_loss/weight-ignore_index=0",
        lambda m, x: _f(m).nll_loss(x, m.tensor(T), weight=_w(m, x), ignore_index=0),
        [NLL],
    ),
    Case("nll_loss/kdim-weight", lambda m, x: _f(m).nll_loss(x, m.tensor(T_KD), weight=_w(m, x)), [(2, 3, 2, 2)]),
    Case("nll_loss/1d", lambda m, x: _f(m).nll_loss(x, m.tensor(0)), [(3,)]),
    Case("nll_loss/after-log_softmax", lambda m, x: _f(m).nll_loss(_f(m).log_softmax(x, 1), m.tensor(T)), [NLL]),
    # mse_loss: the lecture's quadratic loss; both arguments differentiated
    Case("mse_loss", lambda m, x, y: _f(m).mse_loss(x, y), [(4, 3), (4, 3)]),
    Case("mse_loss/sum", lambda m, x, y: _f(m).mse_loss(x, y, reduction="sum"), [(4, 3), (4, 3)]),
    Case("mse_loss/none", lambda m, x, y: _f(m).mse_loss(x, y, reduction="none"), [(4, 3), (4, 3)]),
    Case(
        "mse_loss/weight",
        lambda m, x, y: _f(m).mse_loss(x, y, weight=_w(m, x, np.arange(1.0, 13.0).reshape(4, 3))),
        [(4, 3), (4, 3)],
    ),
    # binary_cross_entropy on probabilities; target differentiated too
    Case("binary_cross_entropy", lambda m, x, t: _f(m).binary_cross_entropy(x, t), [(4, 3), (4, 3)], unit),
    Case(
        "binary_cross_entropy/weight-none",
        lambda m, x, t: _f(m).binary_cross_entropy(x, t, weight=_w(m, x, EW), reduction="none"),
        [(4, 3), (4, 3)],
        unit,
    ),
    Case(
        "binary_cross_entropy/sum",
        lambda m, x, t: _f(m).binary_cross_entropy(x, t, reduction="sum"),
        [(5,), (5,)],
        unit,
    ),
    # binary_cross_entropy_with_logits
    Case(
        "bce_with_logits",
        lambda m, x, t: _f(m).binary_cross_entropy_with_logits(x, t),
        [(4, 3), (4, 3)],
        [randn, unit],
    ),
    Case(
        "bce_with_logits/pos_weight",
        lambda m, x, t: _f(m).binary_cross_entropy_with_logits(x, t, pos_weight=_w(m, x)),
        [(4, 3), (4, 3)],
        [randn, unit],
    ),
    Case(
        "bce_with_logits/weight-pos_weight-none",
        lambda m, x, t: _f(m).binary_cross_entropy_with_logits(
            x, t, weight=_w(m, x, EW), pos_weight=_w(m, x), reduction="none"
        ),
        [(4, 3), (4, 3)],
        [randn, unit],
    ),
    Case(
        "bce_with_logits/sum",
        lambda m, x, t: _f(m).binary_cross_entropy_with_logits(x, t, reduction="sum"),
        [(2, 3, 2), (2, 3, 2)],
        [randn, unit],
    ),
    # the layers
    Case(
        "CrossEntropyLoss",
        lambda m, x: m.nn.CrossEntropyLoss(weight=_w(m, x), ignore_index=1, label_smoothing=0.1)(x, m.tensor(T)),
        [CE],
    ),
    Case("NLLLoss", lambda m, x: m.nn.NLLLoss(reduction="sum")(x, m.tensor(T_IGN)), [NLL]),
    Case("MSELoss", lambda m, x, y: m.nn.MSELoss(reduction="none")(x, y), [(3, 2), (3, 2)]),
    Case("BCELoss", lambda m, x, t: m.nn.BCELoss(weight=_w(m, x, EW))(x, t), [(4, 3), (4, 3)], unit),
    Case(
        "BCEWithLogitsLoss",
        lambda m, x, t: m.nn.BCEWithLogitsLoss(pos_weight=_w(m, x), reduction="sum")(x, t),
        [(4, 3), (4, 3)],
        [randn, unit],
    ),
]
ids = [c.name for c in LOSS_CASES]


def _inputs(case, arrays, dtype):
    return [toynn.tensor(a.astype(dtype), requires_grad=g) for a, g in zip(arrays, case.needs_grad())]


def _rel_err(a, b):
    a, b = host(a).astype(np.float64), host(b).astype(np.float64)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30) if a.size else 0.0


@pytest.mark.parametrize("case", LOSS_CASES, ids=ids)
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_matches_torch(case, dtype, tol, rng, torch):
    arrays = [a.astype(dtype) for a in case.inputs(rng)]
    ours = _inputs(case, arrays, dtype)
    theirs = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, case.needs_grad())]
    out, ref = case.fn(toynn, *ours), case.fn(torch, *theirs)
    assert tuple(out.shape) == tuple(ref.shape)
    assert out.dtype == dtype
    assert _rel_err(out.array, ref.detach().numpy()) < tol
    cot = np.random.default_rng(1).standard_normal(ref.shape).astype(dtype)
    out.backward(cot)
    ref.backward(torch.tensor(cot))
    for i, (x, t) in enumerate(zip(ours, theirs)):
        assert x.grad.dtype == dtype
        assert _rel_err(x.grad.array, t.grad.numpy()) < tol, f"gradient of input {i}"


@pytest.mark.parametrize("case", LOSS_CASES, ids=ids)
def test_gradcheck(case, rng):
    assert gradcheck(lambda *xs: case.fn(toynn, *xs), _inputs(case, case.inputs(rng), np.float64))


@pytest.mark.parametrize("case", LOSS_CASES, ids=ids)
def test_jvp_matches_finite_differences(case, rng):
    arrays = case.inputs(rng)
    tangents = [rng.standard_normal(a.shape) for a in arrays]
    primals = [toynn.tensor(a) for a in arrays]
    _, dout = jvp(lambda *xs: case.fn(toynn, *xs), primals, [like(t, p) for t, p in zip(tangents, primals)])
    jac = numerical_jacobian(lambda *xs: case.fn(toynn, *xs), [toynn.tensor(a) for a in arrays])[0]
    expected = sum(j @ t.ravel() for j, t in zip(jac, tangents))
    np.testing.assert_allclose(np.ravel(host(dout.array)), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", LOSS_CASES, ids=ids)
def test_jvp_vjp_dot_product(case, rng):
    """<J u, v> == <u, J^T v>: forward and reverse mode are the transposes of one linear map."""
    arrays = case.inputs(rng)
    us = [rng.standard_normal(a.shape) for a in arrays]
    primals = [toynn.tensor(a) for a in arrays]
    _, ju = jvp(lambda *xs: case.fn(toynn, *xs), primals, [like(u, p) for u, p in zip(us, primals)])
    inputs = _inputs(case, arrays, np.float64)
    out = case.fn(toynn, *inputs)
    v = rng.standard_normal(out.shape)
    out.backward(v)
    lhs = float((host(ju.array) * v).sum())
    rhs = sum(float((host(x.grad.array) * u).sum()) for x, u in zip(inputs, us))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# The fused CrossEntropy primitive against its composite (log_softmax + nll_loss + smoothing)


def cross_entropy_composite(x, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """The oracle: PyTorch's definition written with toynn ops (no rules of its own)."""
    logp = toynn.log_softmax(x, 1)
    nll = F.nll_loss(logp, target, weight, ignore_index=ignore_index, reduction=reduction)
    if not label_smoothing:
        return nll
    C = x.shape[1]
    wc = 1 if weight is None else weight.reshape(1, C, *[1] * (x.ndim - 2))
    keep = toynn.tensor(target.array != ignore_index, dtype=x.dtype)
    smooth = -(logp * wc).sum(1) * keep  # (N, d...)
    if reduction == "mean":
        wt = keep if weight is None else weight[toynn.tensor(np.where(keep.array > 0, target.array, 0))] * keep
        smooth = smooth.sum() / wt.sum()
    elif reduction == "sum":
        smooth = smooth.sum()
    return (1 - label_smoothing) * nll + (label_smoothing / C) * smooth


CE_OPTIONS = [
    dict(),
    dict(reduction="sum"),
    dict(reduction="none"),
    dict(weight=W),
    dict(ignore_index=1),
    dict(weight=W, ignore_index=2, reduction="none"),
    dict(label_smoothing=0.25),
    dict(label_smoothing=0.25, weight=W, ignore_index=0),
    dict(label_smoothing=0.25, weight=W, reduction="sum"),
]


@pytest.mark.parametrize("kdim", [False, True], ids=["2d", "kdim"])
@pytest.mark.parametrize(
    "opts",
    CE_OPTIONS,
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items() if k != "weight") + ("-weight" if "weight" in o else ""),
)
def test_cross_entropy_primitive_matches_composite(opts, kdim, rng):
    shape, target = ((2, 3, 2, 2), T_KD) if kdim else ((4, 3), T)
    target = np.where(target == -100, opts.get("ignore_index", -100), target)
    opts = {k: toynn.tensor(v) if k == "weight" else v for k, v in opts.items()}
    x_np = rng.standard_normal(shape)
    x1, x2 = toynn.tensor(x_np, requires_grad=True), toynn.tensor(x_np, requires_grad=True)
    fused = F.cross_entropy(x1, toynn.tensor(target), **opts)
    oracle = cross_entropy_composite(x2, toynn.tensor(target), **opts)
    assert isinstance(fused.grad_fn, F.CrossEntropy)
    np.testing.assert_allclose(fused.array, oracle.array, rtol=1e-12, atol=1e-14)
    g = rng.standard_normal(fused.shape)
    fused.backward(g)
    oracle.backward(g)
    np.testing.assert_allclose(x1.grad.array, x2.grad.array, rtol=1e-12, atol=1e-14)
    dx = rng.standard_normal(shape)
    x3 = toynn.tensor(x_np)
    _, d1 = jvp(lambda x: F.cross_entropy(x, toynn.tensor(target), **opts), [x3], [like(dx, x3)])
    _, d2 = jvp(lambda x: cross_entropy_composite(x, toynn.tensor(target), **opts), [x3], [like(dx, x3)])
    np.testing.assert_allclose(d1.array, d2.array, rtol=1e-12, atol=1e-14)


def test_cross_entropy_float32_stays_float32(rng):
    x = toynn.tensor(rng.standard_normal((8, 5)).astype(np.float32), requires_grad=True)
    loss = F.cross_entropy(x, toynn.tensor(rng.integers(0, 5, 8)), weight=toynn.tensor(np.ones(5)))
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


# ---------------------------------------------------------------------------------------------
# Numerics at the extremes: finite values, PyTorch's numbers, and no warnings


@pytest.fixture
def strict_numerics():
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_at_huge_logits(dtype, torch, strict_numerics):
    x_np = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [1e4, 1e4 - 1, -1e4]], dtype=dtype)
    for target in (np.array([1, 0, 1]), probs(np.random.default_rng(0), (3, 3)).astype(dtype)):
        x, tx = toynn.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        loss = F.cross_entropy(x, toynn.tensor(target), reduction="sum")
        ref = torch.nn.functional.cross_entropy(tx, torch.tensor(target), reduction="sum")
        loss.backward()
        ref.backward()
        assert np.isfinite(loss.item()) and np.isfinite(x.grad.array).all()
        assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
        np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        F.log_softmax(toynn.tensor(x_np), 1).array, torch.log_softmax(torch.tensor(x_np), 1).numpy(), rtol=1e-6
    )
    np.testing.assert_allclose(F.softmax(toynn.tensor(x_np), 1).array, torch.softmax(torch.tensor(x_np), 1).numpy())


def test_bce_with_logits_at_huge_logits(torch, strict_numerics):
    x_np = np.array([1e4, -1e4, 50.0, -50.0, 0.0])
    t_np = np.array([0.0, 1.0, 1.0, 0.0, 0.5])
    x, tx = toynn.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, toynn.tensor(t_np), reduction="none")
    ref = torch.nn.functional.binary_cross_entropy_with_logits(tx, torch.tensor(t_np), reduction="none")
    np.testing.assert_allclose(loss.array, ref.detach().numpy(), rtol=1e-12)
    loss.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-12)


def test_bce_clamps_log_at_minus_100_like_torch(torch, strict_numerics):
    x_np = np.array([0.0, 1.0, 0.0, 1.0, 1e-50, 0.5])
    t_np = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.5])
    x, tx = toynn.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    loss = F.binary_cross_entropy(x, toynn.tensor(t_np), reduction="none")
    ref = torch.nn.functional.binary_cross_entropy(tx, torch.tensor(t_np), reduction="none")
    np.testing.assert_allclose(loss.array, ref.detach().numpy(), rtol=1e-12)
    assert loss.array[0] == 100.0 and loss.array[1] == 100.0
    loss.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-12)


def test_sigmoid_and_softmax_at_huge_inputs(strict_numerics):
    x = toynn.tensor([[-1e4, 0.0, 1e4]], dtype=np.float64)
    np.testing.assert_allclose(nn.Sigmoid()(x).array, [[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(nn.Softmax(dim=1)(x).array, [[0.0, 0.0, 1.0]])


def test_all_targets_ignored_gives_nan_like_torch(torch):
    x = np.zeros((2, 3))
    t = np.array([-100, -100])
    ours = F.cross_entropy(toynn.tensor(x), toynn.tensor(t))
    ref = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t))
    assert np.isnan(ours.item()) and np.isnan(ref.item())
    assert F.cross_entropy(toynn.tensor(x), toynn.tensor(t), reduction="sum").item() == 0.0


# ---------------------------------------------------------------------------------------------
# Errors at the boundary (STYLE 2.5: op, what was expected, what was got, full shapes)


def test_cross_entropy_one_hot_integer_target_message():
    logits = toynn.zeros(64, 10)
    target = toynn.zeros(64, 10, dtype=np.int64)
    with pytest.raises(ShapeError, match=r"cross_entropy: target must be class indices of shape \(64,\)") as err:
        F.cross_entropy(logits, target)
    assert "for input (64, 10); got (64, 10) int64" in str(err.value)
    assert "argmax(1)" in str(err.value)


def test_cross_entropy_float_index_target_message():
    with pytest.raises(ShapeError, match=r"got \(64,\) float32; convert class indices with target.long\(\)"):
        F.cross_entropy(toynn.zeros(64, 10), toynn.zeros(64))


def test_cross_entropy_wrong_batch_message():
    with pytest.raises(ShapeError, match=r"class indices of shape \(64,\).*got \(32,\) int64"):
        F.cross_entropy(toynn.zeros(64, 10), toynn.zeros(32, dtype=np.int64))


@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss])
def test_class_index_out_of_range(fn):
    target = toynn.tensor([0, 3, 10, 1])
    with pytest.raises(IndexError, match=r"target 10 at index \(2,\) is out of range \[0, 10\) for input \(4, 10\)"):
        fn(toynn.zeros(4, 10), target)
    with pytest.raises(IndexError, match=r"target -1 at index \(0,\)"):
        fn(toynn.zeros(2, 10), toynn.tensor([-1, 0]))


def test_class_weight_shape_and_reduction_errors():
    x, t = toynn.zeros(4, 3), toynn.tensor(T)
    with pytest.raises(ShapeError, match=r"cross_entropy: weight must have one entry per class, shape \(3,\)"):
        F.cross_entropy(x, t, weight=toynn.ones(4))
    with pytest.raises(ValueError, match="nll_loss: reduction must be 'mean', 'sum' or 'none'; got 'avg'"):
        F.nll_loss(x, t, reduction="avg")
    with pytest.raises(ValueError, match="reduction must be"):
        nn.MSELoss(reduction="average")
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        F.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match="ignore_index is not supported for class-probability targets"):
        F.cross_entropy(x, toynn.zeros(4, 3), ignore_index=0)


def test_binary_losses_validate():
    p, t = toynn.full((4,), 0.5), toynn.ones(4)
    with pytest.raises(ValueError, match=r"input must be probabilities in \[0, 1\].*binary_cross_entropy_with_logits"):
        F.binary_cross_entropy(toynn.tensor([0.5, 1.5]), toynn.ones(2))
    with pytest.raises(ShapeError, match=r"binary_cross_entropy: target must have input's shape \(4,\); got \(4, 1\)"):
        F.binary_cross_entropy(p, toynn.ones(4, 1))
    with pytest.raises(TypeError, match=r"target must be floating point; got int64"):
        F.binary_cross_entropy_with_logits(p, toynn.tensor([1, 0, 1, 0]))
    with pytest.raises(ShapeError, match=r"pos_weight of shape \(3,\) does not broadcast to input \(4,\)"):
        F.binary_cross_entropy_with_logits(p, t, pos_weight=toynn.ones(3))


def test_mse_loss_warns_on_broadcasting(torch):
    x, y = np.arange(3.0), np.arange(6.0).reshape(2, 3)
    with pytest.warns(UserWarning, match="differs from input size"):
        ours = F.mse_loss(toynn.tensor(x), toynn.tensor(y))
    with pytest.warns(UserWarning):
        ref = torch.nn.functional.mse_loss(torch.tensor(x), torch.tensor(y))
    assert ours.item() == pytest.approx(ref.item())


def test_legacy_size_average_and_reduce(torch):
    x, y = np.arange(4.0), np.ones(4)
    for kw, reduction in [(dict(size_average=False), "sum"), (dict(reduce=False), "none")]:
        with pytest.warns(UserWarning):
            ours = F.mse_loss(toynn.tensor(x), toynn.tensor(y), **kw)
        np.testing.assert_allclose(ours.array, F.mse_loss(toynn.tensor(x), toynn.tensor(y), reduction=reduction).array)


# ---------------------------------------------------------------------------------------------
# The layers as modules


def test_loss_layers_keep_weights_as_buffers(torch):
    loss = nn.CrossEntropyLoss(weight=toynn.tensor(W))
    ref = torch.nn.CrossEntropyLoss(weight=torch.tensor(W))
    assert list(loss.state_dict()) == list(ref.state_dict()) == ["weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == list(torch.nn.CrossEntropyLoss().state_dict()) == []
    bce, tbce = nn.BCEWithLogitsLoss(pos_weight=toynn.tensor(W)), torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(W))
    assert list(bce.state_dict()) == list(tbce.state_dict()) == ["pos_weight"]
    assert loss.to(np.float32).weight.dtype == np.float32
    assert repr(loss) == "CrossEntropyLoss()"
    assert list(loss.parameters()) == []
