"""Forward mode everywhere: every Function has a jvp rule, and every differentiable public op's jvp matches
centered finite differences and, by the dot-product test <J u, v> == <u, J^T v>, reverse mode (float64).

Each case is also run with a tangent on one input at a time (the others are constants without a tangent),
which is the path rules take when they skip the terms of inputs that carry no tangent.
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import toynn
import toynn.conv as tc
from toynn.autodiff import jacfwd, jacrev, jvp, numerical_jacobian
from toynn.nn import functional as F
from toynn.tensor import Function

from .cases import CASES, Case, away_from_zero, distinct, randn
from .devices import host, like

tensor_module = importlib.import_module("toynn.tensor")  # toynn.tensor is also the factory function

# Function subclasses that are never applied to inputs, so they need no jvp rule
NON_DIFFERENTIABLE = {
    "toynn.tensor._Freed",  # the sentinel that replaces a node whose saved arrays a backward() freed
}

EPS = 1e-6  # central differences in float64: truncation ~eps^2, rounding ~1e-16/eps
FD_RTOL = 1e-7  # of the largest |J u| entry
DOT_RTOL = 1e-10


def probs(rng, shape):
    """Values in (0.05, 0.95): binary cross-entropy stays away from its clamps."""
    return rng.uniform(0.05, 0.95, shape)


def softmax_rows(rng, shape):
    """Class probabilities along dim 1 (targets of cross_entropy)."""
    e = np.exp(rng.standard_normal(shape))
    return e / e.sum(1, keepdims=True)


# constants the cases close over (class indices, weights, switches), fixed once
T4 = np.array([1, 0, 4, 2])
T4_IGNORED = np.array([1, -100, 4, 2])
T_SPATIAL = np.array([[[0, 2], [1, 1]], [[2, 0], [0, 1]]])
W5 = np.array([0.5, 1.0, 2.0, 0.3, 1.5])
# made on the host at import (the device fixture is not active yet): the cases move the switches to x's device
_POOLED, _SWITCHES = F.max_pool2d(
    toynn.tensor(distinct(np.random.default_rng(3), (2, 3, 6, 6))), 2, return_indices=True
)
# NOTE: windows that do not overlap: a switch repeated by overlapping windows makes max_unpool's forward keep
# one write while its backward gathers for both (as in PyTorch), so the dot-product test would not hold
_POOLED_1D, _SWITCHES_1D = F.max_pool1d(
    toynn.tensor(distinct(np.random.default_rng(4), (2, 3, 9))), 2, 2, 1, return_indices=True
)


def _t(a):
    return toynn.tensor(np.asarray(a, dtype=np.float64))


def _dropout(x, p, fn):
    toynn.manual_seed(7)  # the same mask at every call: the map is linear in x
    return fn(x, p)


def _batch_norm_train(x, w=None, b=None):
    C = x.shape[1]
    running_mean, running_var = _t(np.zeros(C)), _t(np.ones(C))  # fresh: training updates them in place
    return F.batch_norm(x, running_mean, running_var, w, b, training=True)


def _setitem(x, v):
    y = x * 1.0
    return toynn.ops.setitem(y, (slice(1, 3), 0), v)


NN_CASES = [
    # linear, activations
    Case("linear", lambda m, x, w, b: F.linear(x, w, b), [(4, 5), (3, 5), (3,)]),
    Case("linear/3d-no-bias", lambda m, x, w: F.linear(x, w), [(2, 4, 5), (3, 5)]),
    Case("leaky_relu", lambda m, x: F.leaky_relu(x, 0.1), [(3, 4)], away_from_zero),
    Case("step", lambda m, x: F.step(x), [(3, 4)], away_from_zero),
    Case("heaviside", lambda m, x: F.heaviside(x, _t(0.5)), [(3, 4)], away_from_zero),
    Case("softmax/F", lambda m, x: F.softmax(x, dim=0), [(3, 4)]),
    Case("log_softmax/F", lambda m, x: F.log_softmax(x, dim=1), [(2, 3, 4)]),
    # losses
    Case("cross_entropy", lambda m, x: F.cross_entropy(x, toynn.tensor(T4)), [(4, 5)]),
    Case(
        "cross_entropy/weight-sum",
        lambda m, x: F.cross_entropy(x, toynn.tensor(T4), weight=_t(W5), reduction="sum"),
        [(4, 5)],
    ),
    Case(
        "cross_entropy/ignore-none",
        lambda m, x: F.cross_entropy(x, toynn.tensor(T4_IGNORED), reduction="none"),
        [(4, 5)],
    ),
    Case(
        "cross_entropy/smoothing-weight-ignore",
        lambda m, x: F.cross_entropy(x, toynn.tensor(T4_IGNORED), weight=_t(W5), label_smoothing=0.2),
        [(4, 5)],
    ),
    Case("cross_entropy/spatial", lambda m, x: F.cross_entropy(x, toynn.tensor(T_SPATIAL)), [(2, 3, 2, 2)]),
    Case("cross_entropy/unbatched", lambda m, x: F.cross_entropy(x, toynn.tensor(np.array(2))), [(5,)]),
    Case(
        "cross_entropy/probs-smoothing",
        lambda m, x, t: F.cross_entropy(x, t, label_smoothing=0.1),
        [(4, 5), (4, 5)],
        [randn, softmax_rows],
    ),
    Case("nll_loss/weight", lambda m, x: F.nll_loss(x.log_softmax(1), toynn.tensor(T4), weight=_t(W5)), [(4, 5)]),
    Case("mse_loss", lambda m, x, t: F.mse_loss(x, t), [(3, 4), (3, 4)]),
    Case("mse_loss/weight", lambda m, x, t, w: F.mse_loss(x, t, weight=w), [(3, 4), (3, 4), (3, 4)]),
    Case("binary_cross_entropy", lambda m, x, t: F.binary_cross_entropy(x, t), [(3, 4), (3, 4)], probs),
    Case(
        "binary_cross_entropy/weight-none",
        lambda m, x, t: F.binary_cross_entropy(x, t, weight=_t(np.arange(1.0, 5.0)), reduction="none"),
        [(3, 4), (3, 4)],
        probs,
    ),
    Case("bce_with_logits", lambda m, x, t: F.binary_cross_entropy_with_logits(x, t), [(3, 4), (3, 4)], [randn, probs]),
    Case(
        "bce_with_logits/pos_weight-sum",
        lambda m, x, t: F.binary_cross_entropy_with_logits(
            x, t, weight=_t([1.0, 2.0, 0.5, 1.0]), pos_weight=_t([0.5, 1.0, 2.0, 3.0]), reduction="sum"
        ),
        [(3, 4), (3, 4)],
        [randn, probs],
    ),
    # normalisation, dropout
    Case("batch_norm/train-affine", lambda m, x, w, b: _batch_norm_train(x, w, b), [(3, 2, 2, 3), (2,), (2,)]),
    Case("batch_norm/train-2d", lambda m, x: _batch_norm_train(x), [(5, 3)]),
    Case(
        "batch_norm/eval",
        lambda m, x, w, b: F.batch_norm(x, _t([0.1, -0.2]), _t([0.5, 2.0]), w, b, training=False),
        [(3, 2, 4), (2,), (2,)],
    ),
    Case("local_response_norm", lambda m, x: F.local_response_norm(x, 3, alpha=0.5, k=2.0), [(2, 5, 3, 3)]),
    Case("local_response_norm/even", lambda m, x: F.local_response_norm(x, 2, alpha=0.3, beta=0.6), [(2, 4, 5)]),
    Case("dropout", lambda m, x: _dropout(x, 0.3, F.dropout), [(4, 5)]),
    Case("dropout2d", lambda m, x: _dropout(x, 0.5, F.dropout2d), [(2, 4, 3, 3)]),
    # the ops that the core table does not reach
    Case("setitem", lambda m, x, v: _setitem(x, v), [(4, 3), (2,)]),
    Case("clone", lambda m, x: x.clone() * 2, [(3,)]),
    Case("cast", lambda m, x: toynn.ops.cast(x, np.float64), [(3,)]),
    Case("to_device", lambda m, x: x.to("cpu", np.float64) + toynn.ops.to_device(x, "cpu"), [(3,)]),
]


def conv(name, fn, shapes, make=randn):
    return Case(name, lambda m, *t: fn(*t), shapes, make)


CONV_CASES = [
    conv("conv2d/bias", lambda x, w, b: tc.conv2d(x, w, b), [(2, 3, 5, 5), (4, 3, 3, 3), (4,)]),
    conv(
        "conv2d/s2-p1-d2-g2",
        lambda x, w: tc.conv2d(x, w, stride=2, padding=1, dilation=2, groups=2),
        [(2, 4, 7, 7), (6, 2, 3, 3)],
    ),
    conv("conv2d/depthwise", lambda x, w: tc.conv2d(x, w, padding=1, groups=3), [(1, 3, 5, 4), (6, 1, 3, 3)]),
    conv(
        "conv2d/non-square",
        lambda x, w: tc.conv2d(x, w, stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
        [(2, 2, 6, 7), (3, 2, 3, 2)],
    ),
    conv("conv2d/same", lambda x, w: tc.conv2d(x, w, padding="same", dilation=2), [(1, 2, 6, 5), (2, 2, 2, 3)]),
    conv(
        "conv1d",
        lambda x, w, b: tc.conv1d(x, w, b, stride=2, padding=2, dilation=2, groups=2),
        [(2, 4, 9), (4, 2, 3), (4,)],
    ),
    conv("conv1d/unbatched", lambda x, w: tc.conv1d(x, w, padding=1), [(3, 6), (2, 3, 3)]),
    conv("conv_transpose2d/bias", lambda x, w, b: tc.conv_transpose2d(x, w, b), [(2, 3, 4, 4), (3, 2, 3, 3), (2,)]),
    conv(
        "conv_transpose2d/s2-p1-op1-g2",
        lambda x, w: tc.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1, groups=2),
        [(2, 4, 3, 4), (4, 3, 3, 3)],
    ),
    conv(
        "conv_transpose2d/non-square-dilation",
        lambda x, w: tc.conv_transpose2d(x, w, stride=(2, 3), padding=(0, 1), output_padding=(1, 0), dilation=(2, 1)),
        [(1, 2, 3, 3), (2, 3, 2, 3)],
    ),
    conv(
        "conv_transpose1d",
        lambda x, w, b: tc.conv_transpose1d(x, w, b, stride=3, padding=1, output_padding=2),
        [(2, 2, 4), (2, 3, 3), (3,)],
    ),
    # padding modes
    conv("pad/constant", lambda x: tc.pad_nd(x, (1, 2, 0, 1), value=0.5), [(2, 3, 3)]),
    conv("pad/reflect", lambda x: tc.pad_nd(x, (2, 1, 1, 2), "reflect"), [(2, 2, 4, 4)]),
    conv("pad/replicate", lambda x: tc.pad_nd(x, (2, 3, 1, 0), "replicate"), [(2, 2, 3, 4)]),
    conv("pad/circular", lambda x: tc.pad_nd(x, (3, 1), "circular"), [(2, 2, 4)]),
    conv("pad/reflect-3d", lambda x: tc.pad_nd(x, (1, 1, 1, 1, 1, 1), "reflect"), [(1, 3, 3, 3)]),
    # pooling (distinct values: no ties)
    conv("max_pool2d/k3-s2-p1", lambda x: tc.max_pool2d(x, 3, 2, 1), [(2, 3, 7, 6)], distinct),
    conv(
        "max_pool2d/dilation-ceil",
        lambda x: tc.max_pool2d(x, 2, 2, dilation=2, ceil_mode=True),
        [(1, 2, 7, 8)],
        distinct,
    ),
    conv("max_pool2d/non-square", lambda x: tc.max_pool2d(x, (3, 2), (1, 2), (1, 0)), [(2, 2, 5, 6)], distinct),
    conv("max_pool1d", lambda x: tc.max_pool1d(x, 3, 2, 1, ceil_mode=True), [(2, 3, 8)], distinct),
    conv("avg_pool2d/pad-exclude", lambda x: tc.avg_pool2d(x, 3, 2, 1, count_include_pad=False), [(2, 2, 6, 5)]),
    conv("avg_pool2d/ceil-include", lambda x: tc.avg_pool2d(x, 2, 2, 1, ceil_mode=True), [(1, 3, 5, 6)]),
    conv("avg_pool2d/divisor", lambda x: tc.avg_pool2d(x, (2, 3), 1, divisor_override=5), [(2, 2, 4, 5)]),
    conv("avg_pool1d", lambda x: tc.avg_pool1d(x, 3, 2, 1, count_include_pad=False), [(2, 3, 7)]),
    conv("adaptive_avg_pool2d/equal", lambda x: tc.adaptive_avg_pool2d(x, 2), [(2, 3, 4, 6)]),
    conv("adaptive_avg_pool2d/unequal", lambda x: tc.adaptive_avg_pool2d(x, (3, 4)), [(2, 2, 5, 7)]),
    conv("adaptive_avg_pool1d", lambda x: tc.adaptive_avg_pool1d(x, 4), [(2, 3, 7)]),
    conv("adaptive_max_pool2d/equal", lambda x: tc.adaptive_max_pool2d(x, (2, 3)), [(2, 2, 4, 6)], distinct),
    conv("adaptive_max_pool2d/unequal", lambda x: tc.adaptive_max_pool2d(x, (3, 4)), [(2, 2, 5, 7)], distinct),
    conv("adaptive_max_pool1d", lambda x: tc.adaptive_max_pool1d(x, 3), [(2, 3, 7)], distinct),
    conv("max_unpool2d", lambda x: tc.max_unpool2d(x, _SWITCHES.to(x.device), 2), [tuple(_POOLED.shape)]),
    conv(
        "max_unpool1d",
        lambda x: tc.max_unpool1d(x, _SWITCHES_1D.to(x.device), 2, 2, 1, output_size=(9,)),
        [tuple(_POOLED_1D.shape)],
    ),
    conv(
        "max_pool2d+max_unpool2d",
        lambda x: tc.max_unpool2d(*tc.max_pool2d(x, 2, return_indices=True), 2),
        [(2, 2, 4, 6)],
        distinct,
    ),
    # interpolation
    conv("interpolate/nearest-x2", lambda x: tc.interpolate(x, scale_factor=2), [(2, 2, 3, 4)]),
    conv("interpolate/nearest-size", lambda x: tc.interpolate(x, size=(5, 3)), [(2, 2, 3, 4)]),
    conv("interpolate/nearest-exact", lambda x: tc.interpolate(x, size=7, mode="nearest-exact"), [(2, 2, 4)]),
    conv("interpolate/linear", lambda x: tc.interpolate(x, size=7, mode="linear"), [(2, 2, 4)]),
    conv("interpolate/linear-long-axis", lambda x: tc.interpolate(x, size=300, mode="linear"), [(1, 2, 130)]),
    conv("interpolate/bilinear", lambda x: tc.interpolate(x, size=(5, 7), mode="bilinear"), [(2, 2, 3, 4)]),
    conv(
        "interpolate/bilinear-align",
        lambda x: tc.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=True),
        [(1, 2, 4, 5)],
    ),
    conv("interpolate/bilinear-down", lambda x: tc.interpolate(x, size=(3, 2), mode="bilinear"), [(1, 2, 7, 5)]),
    conv("interpolate/bicubic", lambda x: tc.interpolate(x, size=(6, 5), mode="bicubic"), [(1, 2, 4, 3)]),
    conv(
        "interpolate/bicubic-align",
        lambda x: tc.interpolate(x, scale_factor=2, mode="bicubic", align_corners=True),
        [(2, 1, 3, 4)],
    ),
    conv("interpolate/area", lambda x: tc.interpolate(x, size=(3, 2), mode="area"), [(1, 2, 5, 5)]),
]


def _recorded_grad(loss, *xs):
    """The gradient of loss(*xs), recorded (create_graph=True), flattened into one tensor: a function whose forward
    runs the Functions that only backward rules call (ConvWeight, ScatterAdd, _Transpose)."""
    with toynn.enable_grad():
        for x in xs:
            x.requires_grad_(True)
        gs = toynn.autograd.grad(loss(*xs), list(xs), create_graph=True)
    return toynn.cat([g.reshape(-1) for g in gs])


# gradients as functions: forward mode through a recorded backward (forward-over-reverse)
DOUBLE_CASES = [
    Case(
        "double/conv2d",
        lambda m, x, w: _recorded_grad(lambda a, b: (tc.conv2d(a, b) ** 2).sum(), x, w),
        [(2, 2, 5, 5), (3, 2, 3, 3)],
    ),
    Case("double/getitem", lambda m, x: _recorded_grad(lambda a: (a[toynn.tensor(IDX3)] ** 3).sum(), x), [(4, 3)]),
    Case(
        "double/max_pool2d",
        lambda m, x: _recorded_grad(lambda a: (F.max_pool2d(a, 2) ** 2).sum(), x),
        [(1, 2, 4, 4)],
        distinct,
    ),
]
IDX3 = np.array([0, 2, 2, 3])

ALL = [Case(f"core/{c.name}", c.fn, c.shapes, c.make, grad=c.grad) for c in CASES] + NN_CASES + CONV_CASES
ALL += DOUBLE_CASES


def _call(case, tensors):
    return case.fn(toynn, *tensors)


def _jvp(case, arrays, us):
    """jvp of the case at arrays (as float64 tensors) along the host tangents us (moved to the inputs' device)."""
    primals = [_t(a) for a in arrays]
    return jvp(lambda *xs: _call(case, xs), primals, [like(u, p) for u, p in zip(us, primals)])


def _directional_fd(case, arrays, us):
    """(f(x + eps u) - f(x - eps u)) / 2 eps, all inputs moved at once (on the host)."""
    with toynn.no_grad():
        plus = host(_call(case, [_t(a + EPS * u) for a, u in zip(arrays, us)]))
        minus = host(_call(case, [_t(a - EPS * u) for a, u in zip(arrays, us)]))
    return (plus - minus) / (2 * EPS)


def _directions(case, arrays, rng):
    return [rng.standard_normal(a.shape) * g for a, g in zip(arrays, case.needs_grad())]


def _one_input(case, arrays, i):
    """f as a function of input i alone; the other inputs are constants (tensors without a tangent)."""
    consts = [_t(a) for a in arrays]
    return Case(case.name, lambda m, x: case.fn(m, *consts[:i], x, *consts[i + 1 :]), [arrays[i].shape])


def _assert_close_to_fd(case, arrays, us):
    _, ju = _jvp(case, arrays, us)
    fd = _directional_fd(case, arrays, us)
    assert ju.shape == fd.shape and ju.dtype == np.float64
    err, scale = np.abs(host(ju) - fd).max(initial=0.0), np.abs(fd).max(initial=0.0)
    assert err <= FD_RTOL * scale + 1e-12, f"{case.name}: |jvp - fd| = {err:.3g}, max |fd| = {scale:.3g}"


# ---------------------------------------------------------------------------------------------
# Every Function has a rule, and the table reaches every rule


def _function_classes() -> set[type]:
    for info in pkgutil.walk_packages(toynn.__path__, "toynn."):
        if not info.name.endswith("__main__"):  # running __main__ would start the command line
            importlib.import_module(info.name)
    found, stack = set(), [Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub.__module__.startswith("toynn.") and sub not in found:
                found.add(sub)
                stack.append(sub)
    return found


def _name(cls) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_every_function_has_a_jvp_rule():
    classes = _function_classes()
    assert len(classes) > 40  # the walk found the package's ops
    missing = sorted(_name(c) for c in classes if c.jvp is Function.jvp and _name(c) not in NON_DIFFERENTIABLE)
    assert not missing, f"Function subclasses without a jvp rule: {missing}"
    assert NON_DIFFERENTIABLE <= {_name(c) for c in classes}, "stale entries in NON_DIFFERENTIABLE"


def test_the_table_reaches_every_jvp_rule(monkeypatch, rng):
    seen = set()
    original = tensor_module._forward_tangent

    def record(fn, inputs, y):
        seen.add(type(fn))
        return original(fn, inputs, y)

    monkeypatch.setattr(tensor_module, "_forward_tangent", record)
    for case in ALL:
        arrays = case.inputs(rng)
        _jvp(case, arrays, _directions(case, arrays, rng))
    rules = {c for c in _function_classes() if _name(c) not in NON_DIFFERENTIABLE}
    missed = sorted(_name(c) for c in rules - seen)
    assert not missed, f"no case of this table runs the jvp rule of {missed}"


# ---------------------------------------------------------------------------------------------
# Finite differences and the dot-product test, over the whole table


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_jvp_matches_finite_differences(case, rng):
    arrays = case.inputs(rng)
    _assert_close_to_fd(case, arrays, _directions(case, arrays, rng))


@pytest.mark.parametrize("case", [c for c in ALL if len(c.shapes) > 1], ids=[c.name for c in ALL if len(c.shapes) > 1])
def test_jvp_with_a_tangent_on_one_input(case, rng):
    """The other inputs carry no tangent: rules that skip their terms must still be right."""
    arrays = case.inputs(rng)
    for i, needed in enumerate(case.needs_grad()):
        if needed:
            _assert_close_to_fd(_one_input(case, arrays, i), [arrays[i]], [rng.standard_normal(arrays[i].shape)])


@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_jvp_vjp_dot_product(case, rng):
    """<J u, v> == <u, J^T v>: forward and reverse mode are the transposes of one linear map."""
    arrays = case.inputs(rng)
    us = _directions(case, arrays, rng)
    _, ju = _jvp(case, arrays, us)
    inputs = [toynn.tensor(a, requires_grad=g) for a, g in zip(arrays, case.needs_grad())]
    out = _call(case, inputs)
    v = rng.standard_normal(out.shape)
    if out.requires_grad:  # step and heaviside: no graph, and J = 0
        out.backward(like(v, out))
    lhs = float((host(ju) * v).sum())
    rhs = sum(float((host(x.grad) * u).sum()) for x, u in zip(inputs, us) if x.grad is not None)
    assert lhs == pytest.approx(rhs, rel=DOT_RTOL, abs=1e-12)


def test_cast_to_float32_carries_the_tangent_in_float32(rng):
    x, u = rng.standard_normal(4), rng.standard_normal(4)
    x = _t(x)
    out, du = jvp(lambda x: x.float(), [x], [like(u, x)])
    assert out.dtype == du.dtype == np.float32
    np.testing.assert_array_equal(du.array, u.astype(np.float32))


def test_in_place_ops_carry_tangents(rng):
    x, u = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))

    def f(x):
        y = x * 1.0
        y[1] = y[0] * 2
        return y.mul_(3)

    x = _t(x)
    _, du = jvp(f, [x], [like(u, x)])
    expected = 3 * u
    expected[1] = 6 * u[0]
    np.testing.assert_allclose(du.array, expected, rtol=1e-14)


def test_in_place_ops_take_the_tangent_of_their_other_argument(rng):
    x, v, u = rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal(2)

    def f(v):
        y = toynn.tensor(x)  # no tangent of its own
        y[2] = v  # the row takes v's tangent
        y.add_(v)  # every row gets it once more
        return y

    v = _t(v)
    _, dy = jvp(f, [v], [like(u, v)])
    expected = np.tile(u, (3, 1))
    expected[2] *= 2
    np.testing.assert_allclose(dy.array, expected, rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# jacfwd == jacrev == finite differences on a small CNN


def test_jacfwd_jacrev_and_finite_differences_agree_on_a_small_cnn():
    """conv2d -> relu -> max_pool2d -> flatten -> linear, float64, Jacobians in every input and parameter."""
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 1, 6, 6)), rng.standard_normal((3, 1, 3, 3)), rng.standard_normal(3)
    w2, b2 = rng.standard_normal((4, 27)) * 0.3, rng.standard_normal(4)

    def f(x, w, b, w2, b2):
        h = tc.max_pool2d(F.relu(tc.conv2d(x, w, b, padding=1)), 2)  # (2, 3, 3, 3)
        return F.linear(h.flatten(1), w2, b2)  # (2, 4)

    pre = tc.conv2d(_t(x), _t(w), _t(b), padding=1).array
    assert np.abs(pre).min() > 1e-3  # off relu's kink (and the pooled positives are distinct)
    args = [_t(a) for a in (x, w, b, w2, b2)]
    argnums = tuple(range(5))
    jf, jr = jacfwd(f, argnums)(*args), jacrev(f, argnums)(*args)
    num = numerical_jacobian(f, [a.clone() for a in args])[0]
    for a, r, n, arg in zip(jf, jr, num, args):
        assert a.shape == (2, 4, *arg.shape)
        np.testing.assert_allclose(a.array, r.array, rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(r.array.reshape(n.shape), n, rtol=1e-6, atol=1e-8)
