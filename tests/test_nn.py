"""toynn.nn: layers against PyTorch (weights copied across), Module's walking, state_dict, modes,
devices and repr, the Linear primitive against its composite, initialisation statistics, Dropout."""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import toynn
import toynn.nn as nn
import toynn.nn.functional as F
from toynn.autodiff import gradcheck, jvp, numerical_jacobian
from toynn.errors import ShapeError

from .cases import away_from_zero, randn
from .devices import host, like


def _rel_err(a, b):
    a, b = np.asarray(host(a), dtype=np.float64), np.asarray(host(b), dtype=np.float64)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30) if a.size else 0.0


def copy_into_torch(ours, theirs, torch):
    """Load our state_dict into the torch module: this also checks that the names agree."""
    theirs.load_state_dict(OrderedDict((k, torch.tensor(v.numpy())) for k, v in ours.state_dict().items()))


# ---------------------------------------------------------------------------------------------
# Layers against PyTorch: outputs and gradients of input and parameters

LAYERS = [
    ("Linear", lambda m: m.nn.Linear(4, 3), (5, 4), randn),
    ("Linear/no-bias", lambda m: m.nn.Linear(4, 3, bias=False), (5, 4), randn),
    ("Linear/3d-input", lambda m: m.nn.Linear(4, 3), (2, 5, 4), randn),
    ("Linear/1d-input", lambda m: m.nn.Linear(4, 2), (4,), randn),
    ("Sigmoid", lambda m: m.nn.Sigmoid(), (3, 4), randn),
    ("Tanh", lambda m: m.nn.Tanh(), (3, 4), randn),
    ("ReLU", lambda m: m.nn.ReLU(), (3, 4), away_from_zero),
    ("LeakyReLU", lambda m: m.nn.LeakyReLU(), (3, 4), away_from_zero),
    ("LeakyReLU/0.2", lambda m: m.nn.LeakyReLU(negative_slope=0.2), (3, 4), away_from_zero),
    ("Softmax/dim=1", lambda m: m.nn.Softmax(dim=1), (3, 4), randn),
    ("Softmax/dim=-1-3d", lambda m: m.nn.Softmax(dim=-1), (2, 3, 4), randn),
    ("LogSoftmax/dim=1", lambda m: m.nn.LogSoftmax(dim=1), (3, 4), randn),
    ("LogSoftmax/dim=0", lambda m: m.nn.LogSoftmax(dim=0), (3, 4), randn),
    ("Flatten", lambda m: m.nn.Flatten(), (2, 3, 2, 2), randn),
    ("Flatten/0-1", lambda m: m.nn.Flatten(0, 1), (2, 3, 2), randn),
    ("Unflatten", lambda m: m.nn.Unflatten(1, (2, 3)), (4, 6), randn),
    ("Identity", lambda m: m.nn.Identity(), (3, 2), randn),
    ("Dropout/eval", lambda m: m.nn.Dropout(0.5).eval(), (3, 4), randn),
    (
        "Sequential/mlp",
        lambda m: m.nn.Sequential(m.nn.Linear(4, 8), m.nn.Tanh(), m.nn.Linear(8, 8), m.nn.Sigmoid(), m.nn.Linear(8, 3)),
        (5, 4),
        randn,
    ),
]
layer_ids = [c[0] for c in LAYERS]


@pytest.mark.parametrize("case", LAYERS, ids=layer_ids)
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_layer_matches_torch(case, dtype, tol, rng, torch):
    _, build, shape, make = case
    ours, theirs = build(toynn), build(torch)
    if dtype == np.float64:
        ours, theirs = ours.double(), theirs.double()
    copy_into_torch(ours, theirs, torch)
    x_np = make(rng, shape).astype(dtype)
    x, tx = toynn.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    out, ref = ours(x), theirs(tx)
    assert tuple(out.shape) == tuple(ref.shape) and out.dtype == dtype
    assert _rel_err(out.array, ref.detach().numpy()) < tol
    cot = rng.standard_normal(ref.shape).astype(dtype)
    out.backward(like(cot, out))
    ref.backward(torch.tensor(cot))
    assert _rel_err(x.grad.array, tx.grad.numpy()) < tol
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad.dtype == dtype
        assert _rel_err(p.grad.array, tparams[name].grad.numpy()) < tol, name


@pytest.mark.parametrize("case", LAYERS, ids=layer_ids)
def test_layer_gradcheck(case, rng):
    _, build, shape, make = case
    layer = build(toynn).double()
    x = toynn.tensor(make(rng, shape), requires_grad=True)
    assert gradcheck(lambda x, *params: layer(x), [x, *layer.parameters()])


# ---------------------------------------------------------------------------------------------
# The Linear primitive: against its composite, and forward mode against finite differences


def linear_composite(x, w, b=None):
    """The oracle: x @ w.T + b from toynn ops."""
    y = x @ w.T
    return y if b is None else y + b


LINEAR_SHAPES = [((5, 4), (3, 4), (3,)), ((2, 5, 4), (3, 4), (3,)), ((4,), (2, 4), (2,)), ((5, 4), (3, 4), None)]
linear_ids = ["2d", "3d", "1d", "no-bias"]


@pytest.mark.parametrize("shapes", LINEAR_SHAPES, ids=linear_ids)
def test_linear_primitive_matches_composite(shapes, rng):
    arrays = [rng.standard_normal(s) for s in shapes if s is not None]
    ours = [toynn.tensor(a, requires_grad=True) for a in arrays]
    oracle = [toynn.tensor(a, requires_grad=True) for a in arrays]
    y, y_ref = F.linear(*ours), linear_composite(*oracle)
    assert isinstance(y.grad_fn, F.Affine)
    np.testing.assert_allclose(y.array, y_ref.array, rtol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    y_ref.backward(g)
    for a, b in zip(ours, oracle):
        np.testing.assert_allclose(a.grad.array, b.grad.array, rtol=1e-12, atol=1e-14)


JVP_FUNCS = [
    ("linear/2d", F.linear, [(5, 4), (3, 4), (3,)]),
    ("linear/3d", F.linear, [(2, 5, 4), (3, 4), (3,)]),
    ("linear/1d", F.linear, [(4,), (2, 4), (2,)]),
    ("linear/no-bias", F.linear, [(5, 4), (3, 4)]),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.1), [(3, 4)]),
    ("softmax", lambda x: F.softmax(x, 1), [(3, 4)]),
    ("log_softmax", lambda x: F.log_softmax(x, -1), [(2, 3, 4)]),
    ("step", F.step, [(3, 4)]),
]


@pytest.mark.parametrize("name,fn,shapes", JVP_FUNCS, ids=[c[0] for c in JVP_FUNCS])
def test_jvp_matches_finite_differences(name, fn, shapes, rng):
    arrays = [away_from_zero(rng, s) for s in shapes]
    tangents = [rng.standard_normal(s) for s in shapes]
    primals = [toynn.tensor(a) for a in arrays]
    _, dout = jvp(fn, primals, [like(t, x) for t, x in zip(tangents, primals)])
    jac = numerical_jacobian(fn, [toynn.tensor(a) for a in arrays])[0]
    expected = sum(j @ t.ravel() for j, t in zip(jac, tangents))
    np.testing.assert_allclose(dout.array.ravel(), expected, rtol=1e-6, atol=1e-8)
    inputs = [toynn.tensor(a, requires_grad=True) for a in arrays]  # and the dot-product test
    out = fn(*inputs)
    v = rng.standard_normal(out.shape)
    out.backward(like(v, out))
    rhs = sum(float((host(x.grad) * t).sum()) for x, t in zip(inputs, tangents))
    assert float((host(dout) * v).sum()) == pytest.approx(rhs, rel=1e-10, abs=1e-12)


def test_linear_skips_unneeded_gradients(rng):
    x = toynn.tensor(rng.standard_normal((5, 4)).astype(np.float32))  # data: no gradient wanted
    layer = nn.Linear(4, 3)
    layer(x).sum().backward()
    assert x.grad is None and layer.weight.grad.shape == (3, 4) and layer.bias.grad.shape == (3,)


def test_linear_errors():
    layer = nn.Linear(400, 120)
    with pytest.raises(
        ShapeError,
        match=r"linear: x has 784 features \(x.shape=\(64, 784\)\) "
        r"but weight expects 400 \(weight.shape=\(120, 400\)\)",
    ):
        layer(toynn.zeros(64, 784))
    with pytest.raises(ShapeError, match=r"linear: bias must have shape \(120,\)"):
        F.linear(toynn.zeros(2, 400), layer.weight, toynn.zeros(84))
    with pytest.raises(TypeError, match="linear: x is float64 but weight is float32"):
        layer(toynn.zeros(2, 400, dtype=np.float64))


# ---------------------------------------------------------------------------------------------
# Activations that PyTorch spells differently, and the functional odds and ends


def test_step_is_heaviside_with_zero_gradient(torch):
    x_np = np.array([-2.0, -0.0, 0.0, 1e-30, 3.0])
    x = toynn.tensor(x_np, requires_grad=True)
    y = nn.Step()(x)
    np.testing.assert_array_equal(y.array, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(
        y.array, torch.heaviside(torch.tensor(x_np), torch.tensor(0.0, dtype=torch.float64)).numpy()
    )
    np.testing.assert_array_equal(
        F.heaviside(toynn.tensor(x_np), toynn.tensor(0.5)).array,
        torch.heaviside(torch.tensor(x_np), torch.tensor(0.5, dtype=torch.float64)).numpy(),
    )
    (y * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.array, np.zeros(5))
    assert repr(nn.Step()) == "Step()"


def test_softmax_without_dim_warns_and_picks_torchs_dim(torch):
    x = np.random.default_rng(0).standard_normal((2, 3))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        ours = F.softmax(toynn.tensor(x))
    with pytest.warns(UserWarning):
        ref = torch.nn.functional.softmax(torch.tensor(x))
    np.testing.assert_allclose(ours.array, ref.numpy(), rtol=1e-12)


def test_one_hot_matches_torch(torch):
    labels = np.array([[0, 3], [2, 1]])
    for n in (-1, 6):
        ours = F.one_hot(toynn.tensor(labels), n)
        ref = torch.nn.functional.one_hot(torch.tensor(labels), n)
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours.array, ref.numpy())
    with pytest.raises(ValueError, match="smaller than num_classes=3"):
        F.one_hot(toynn.tensor([0, 3]), 3)
    with pytest.raises(TypeError, match="integer dtype"):
        F.one_hot(toynn.tensor([0.0, 1.0]))


def test_unflatten_error():
    with pytest.raises(ShapeError, match=r"Unflatten: dim 1 of input \(4, 6\) has size 6"):
        nn.Unflatten(1, (4, 2))(toynn.zeros(4, 6))


# ---------------------------------------------------------------------------------------------
# Dropout


def test_dropout_train_zeroes_a_fraction_p_and_scales_the_rest():
    toynn.manual_seed(0)
    p = 0.3
    x = toynn.ones(1000, 200, requires_grad=True)
    y = nn.Dropout(p)(x)
    dropped = (y.array == 0).mean()
    assert abs(dropped - p) < 0.01
    np.testing.assert_allclose(np.unique(y.array), [0.0, 1 / (1 - p)], rtol=1e-6)
    assert abs(y.array.mean() - 1.0) < 0.01  # inverted dropout keeps the expectation
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, y.array)  # the gradient is the same scaled mask
    assert y.dtype == np.float32


def test_dropout_eval_and_edge_cases():
    x = toynn.randn(4, 5, dtype=np.float64)
    layer = nn.Dropout(0.5)
    assert layer.eval()(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).array, np.zeros((4, 5)))
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    assert repr(nn.Dropout(0.2)) == "Dropout(p=0.2, inplace=False)"


def test_dropout_uses_the_seeded_generator():
    x = toynn.ones(50, 50)
    toynn.manual_seed(7)
    a = F.dropout(x, 0.5)
    toynn.manual_seed(7)
    b = F.dropout(x, 0.5)
    c = F.dropout(x, 0.5)
    np.testing.assert_array_equal(a.array, b.array)
    assert not np.array_equal(b.array, c.array)


# ---------------------------------------------------------------------------------------------
# Module: walking, names and order as PyTorch's


def make_net(m):
    """One definition, built with toynn or torch: own parameter, buffers, Sequential, ModuleList, shared module."""

    class Net(m.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = m.nn.Sequential(m.nn.Linear(4, 8), m.nn.ReLU())
            self.heads = m.nn.ModuleList([m.nn.Linear(8, 2), m.nn.Linear(8, 3)])
            self.scale = m.nn.Parameter(m.ones(8))  # assigned after sub-modules: still listed first
            self.register_buffer("steps", m.zeros(1))
            self.register_buffer("scratch", m.zeros(2), persistent=False)
            self.tied = self.heads[0]  # the same module under a second name

        def forward(self, x):
            h = self.features(x) * self.scale
            return self.heads[0](h).sum() + self.heads[1](h).sum()

    return Net()


def test_names_and_order_match_torch(torch):
    ours, theirs = make_net(toynn), make_net(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_parameters()][0] == "scale"
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert list(ours.state_dict()) == list(theirs.state_dict())  # tied.* included, scratch excluded
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    assert len(list(ours.modules())) == len(list(theirs.modules()))
    assert [type(c).__name__ for c in ours.children()] == [type(c).__name__ for c in theirs.children()]


def test_sequential_names_and_repr_match_torch(torch):
    def build(m):
        return m.nn.Sequential(
            m.nn.Flatten(),
            m.nn.Linear(784, 512),
            m.nn.ReLU(),
            m.nn.Dropout(0.2),
            m.nn.Linear(512, 10),
            m.nn.LeakyReLU(),
            m.nn.Sigmoid(),
            m.nn.Tanh(),
            m.nn.Softmax(dim=1),
            m.nn.LogSoftmax(dim=1),
            m.nn.Identity(),
            m.nn.Unflatten(1, (2, 5)),
        )

    ours, theirs = build(toynn), build(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert repr(ours) == repr(theirs)
    assert repr(make_net(toynn)) == repr(make_net(torch))
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 3)), ("act", nn.ReLU())]))
    tnamed = torch.nn.Sequential(OrderedDict([("fc", torch.nn.Linear(2, 3)), ("act", torch.nn.ReLU())]))
    assert repr(named) == repr(tnamed)
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]


def test_tied_weights_are_listed_once(torch):
    def build(m):
        net = m.nn.Sequential(m.nn.Linear(3, 3), m.nn.Linear(3, 3))
        net[1].weight = net[0].weight
        return net

    ours, theirs = build(toynn), build(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = toynn.randn(2, 3)
    ours(x).sum().backward()
    w = ours[0].weight
    assert w.grad is not None and w.grad.shape == (3, 3)


def test_plain_attributes_lists_and_no_super_init():
    class Linear2(nn.Module):  # STYLE 2.8: no super().__init__() needed
        def __init__(self):
            self.a = nn.Linear(2, 2)
            self.layers = [nn.Linear(2, 3), nn.Linear(3, 1)]
            self.extra = {"gain": nn.Parameter(toynn.ones(1))}
            self.note = "not a parameter"

        def forward(self, x):
            for layer in [self.a, *self.layers]:
                x = layer(x)
            return x * self.extra["gain"]

    net = Linear2()
    assert [n for n, _ in net.named_parameters()] == [
        "extra.gain",
        "a.weight",
        "a.bias",
        "layers.0.weight",
        "layers.0.bias",
        "layers.1.weight",
        "layers.1.bias",
    ]
    assert [n for n, _ in net.named_children()] == ["a", "layers.0", "layers.1"]
    assert net(toynn.ones(4, 2)).shape == (4, 1)
    assert net.training and not net.eval().layers[1].training
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(toynn.ones(1))


def test_containers():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b)
    assert len(seq) == 2 and seq[0] is a and seq[-1] is b and list(seq) == [a, b]
    seq.append(c)
    assert len(seq) == 3 and seq[2] is c
    assert seq(toynn.ones(5, 2)).shape == (5, 1)
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and list(tail.state_dict()) == ["2.weight", "2.bias"]
    ml = nn.ModuleList([a])
    ml.extend([b])
    ml.insert(0, c)
    assert list(ml) == [c, a, b]
    assert [n for n, _ in ml.named_parameters()] == ["0.weight", "0.bias", "1.weight", "1.bias"]
    ml[2] = nn.Tanh()
    assert isinstance(ml[2], nn.Tanh)
    with pytest.raises(KeyError, match="attribute 'forward' already exists"):
        nn.Sequential(OrderedDict([("forward", nn.ReLU())]))


def test_parameter():
    p = nn.Parameter(toynn.zeros(2, 3))
    assert isinstance(p, toynn.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor(")
    assert not nn.Parameter(toynn.zeros(2), requires_grad=False).requires_grad
    assert type(p * 2) is toynn.Tensor


# ---------------------------------------------------------------------------------------------
# Modes, gradients, devices and dtypes


def test_train_eval_recursive():
    net = make_net(toynn)
    assert net.eval() is net
    assert all(not m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.features.eval()
    assert net.training and not net.features[0].training
    with pytest.raises(ValueError, match="mode is expected to be a bool"):
        net.train("yes")


def test_zero_grad_and_requires_grad():
    net = nn.Sequential(nn.Linear(3, 2))
    net(toynn.ones(4, 3)).sum().backward()
    net.zero_grad(set_to_none=False)
    assert all(float(abs(p.grad).sum()) == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_to_converts_in_place_and_keeps_parameter_identity():
    net = make_net(toynn)
    net.register_buffer("count", toynn.zeros(1, dtype=np.int64))
    params = list(net.parameters())
    net(toynn.ones(2, 4)).backward()
    assert net.to(np.float64) is net
    assert all(a is b for a, b in zip(net.parameters(), params, strict=True))
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net.steps.dtype == np.float64 and net.count.dtype == np.int64
    assert net.to("cpu").float().scale.dtype == np.float32
    assert net(toynn.ones(2, 4).to("cpu")).dtype == np.float32  # the net is on the CPU now, whatever --backend
    with pytest.raises(TypeError, match="floating point dtypes"):
        net.to(np.int32)


def test_apply_visits_every_module():
    net = make_net(toynn)

    def init_linear(m):
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)

    net.apply(init_linear)
    assert all(float(abs(m.bias).sum()) == 0 for m in net.modules() if isinstance(m, nn.Linear))


# ---------------------------------------------------------------------------------------------
# state_dict


def test_state_dict_round_trip():
    a, b = make_net(toynn), make_net(toynn)
    a.steps.array[...] = 5
    state = a.state_dict()
    assert all(isinstance(v, toynn.Tensor) and not v.requires_grad for v in state.values())
    result = b.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (n1, t1), (n2, t2) in zip(a.state_dict().items(), b.state_dict().items()):
        assert n1 == n2
        np.testing.assert_array_equal(t1.array, t2.array)
    x = toynn.randn(3, 4)
    assert a(x).item() == b(x).item()
    assert b.steps.item() == 5


def test_load_state_dict_copies_in_place_and_casts():
    net = nn.Linear(3, 2)
    w = net.weight
    net.load_state_dict({"weight": np.ones((2, 3)), "bias": toynn.zeros(2, dtype=np.float64)})
    assert net.weight is w and w.dtype == np.float32 and float(w.sum()) == 6


def test_load_state_dict_from_torch(torch):
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    ours = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    ours.load_state_dict(theirs.state_dict())
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(ours(toynn.tensor(x)).array, theirs(torch.tensor(x)).detach().numpy(), rtol=1e-6)


def test_load_state_dict_missing_key():
    state = make_net(toynn).state_dict()
    del state["heads.1.bias"]
    with pytest.raises(RuntimeError, match=r"missing keys \(in the model, not in the state_dict\): heads.1.bias"):
        make_net(toynn).load_state_dict(state)
    result = make_net(toynn).load_state_dict(state, strict=False)
    assert result.missing_keys == ["heads.1.bias"] and result.unexpected_keys == []


def test_load_state_dict_unexpected_key():
    state = make_net(toynn).state_dict()
    state["head.weight"] = toynn.zeros(2)
    with pytest.raises(RuntimeError, match=r"unexpected keys \(in the state_dict, not in the model\): head.weight"):
        make_net(toynn).load_state_dict(state)
    assert make_net(toynn).load_state_dict(state, strict=False).unexpected_keys == ["head.weight"]


def test_load_state_dict_shape_mismatch_lists_all_problems_and_copies_nothing():
    net = make_net(toynn)
    before = net.scale.array.copy()
    state = make_net(toynn).state_dict()
    state["scale"] = toynn.zeros(8)
    state["heads.0.weight"] = toynn.zeros(3, 8)
    del state["steps"]
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(state)
    message = str(err.value)
    assert message.startswith("load_state_dict for Net: the state_dict does not fit the model")
    assert "shape mismatch for heads.0.weight: expected (2, 8) (the model's), got (3, 8)" in message
    assert "missing keys (in the model, not in the state_dict): steps" in message
    np.testing.assert_array_equal(net.scale.array, before)  # nothing was loaded
    with pytest.raises(RuntimeError, match="shape mismatch"):  # shapes are checked even when not strict
        net.load_state_dict(state, strict=False)


# ---------------------------------------------------------------------------------------------
# Initialisation: PyTorch's formulas, checked by statistics on large tensors


def _uniform_ok(a, bound):
    assert np.abs(a).max() <= bound * (1 + 1e-6)
    assert np.abs(a).max() > 0.99 * bound
    assert abs(a.std() - bound / math.sqrt(3)) < 0.02 * bound
    assert abs(a.mean()) < 0.02 * bound


def test_linear_default_init():
    toynn.manual_seed(0)
    layer = nn.Linear(1000, 500)
    bound = 1 / math.sqrt(1000)
    _uniform_ok(layer.weight.array, bound)
    assert np.abs(layer.bias.array).max() <= bound
    assert layer.weight.dtype == np.float32 and layer.bias.shape == (500,)
    assert nn.Linear(3, 2, dtype=np.float64).weight.dtype == np.float64
    toynn.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(1000, 500).weight.array, layer.weight.array)  # seeded


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0), ("leaky_relu", 0.2), ("tanh", 0)])
def test_kaiming(mode, nonlinearity, a, torch):
    w = toynn.zeros(256, 64, 3, 3)
    fan = 64 * 9 if mode == "fan_in" else 256 * 9
    gain = torch.nn.init.calculate_gain(nonlinearity, a)
    nn.init.kaiming_uniform_(w, a=a, mode=mode, nonlinearity=nonlinearity)
    _uniform_ok(w.array, gain * math.sqrt(3 / fan))
    nn.init.kaiming_normal_(w, a=a, mode=mode, nonlinearity=nonlinearity)
    assert abs(w.array.std() / (gain / math.sqrt(fan)) - 1) < 0.01
    assert abs(w.array.mean()) < 0.01 * gain / math.sqrt(fan)


def test_xavier():
    w = toynn.zeros(300, 500, dtype=np.float64)
    nn.init.xavier_uniform_(w, gain=2.0)
    _uniform_ok(w.array, 2.0 * math.sqrt(6 / 800))
    nn.init.xavier_normal_(w)
    assert abs(w.array.std() / math.sqrt(2 / 800) - 1) < 0.01


def test_calculate_gain_and_fans_match_torch(torch):
    for name in ["linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu", "conv_transpose2d"]:
        assert nn.init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert nn.init.calculate_gain("leaky_relu", 0.3) == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", 0.3))
    for shape in [(3, 4), (6, 3, 5, 5), (2, 7, 3)]:
        ours = nn.init._calculate_fan_in_and_fan_out(toynn.zeros(*shape))
        assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.kaiming_uniform_(toynn.zeros(5))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        nn.init.calculate_gain("swish")
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        nn.init.kaiming_normal_(toynn.zeros(2, 2), mode="fan_avg")


def test_simple_initialisers():
    w = toynn.zeros(400, 500)
    assert nn.init.uniform_(w, -2.0, 3.0) is w
    assert w.array.min() >= -2 and w.array.max() <= 3 and abs(w.array.mean() - 0.5) < 0.02
    nn.init.normal_(w, mean=1.0, std=0.5)
    assert abs(w.array.mean() - 1) < 0.01 and abs(w.array.std() - 0.5) < 0.01
    nn.init.trunc_normal_(w, std=1.0, a=-0.5, b=0.5)
    assert w.array.min() >= -0.5 and w.array.max() <= 0.5
    np.testing.assert_array_equal(nn.init.constant_(w, 0.25).array, 0.25)
    np.testing.assert_array_equal(nn.init.zeros_(w).array, 0)
    np.testing.assert_array_equal(nn.init.ones_(w).array, 1)
    np.testing.assert_array_equal(nn.init.eye_(toynn.zeros(2, 3)).array, np.eye(2, 3))
    assert w.dtype == np.float32 and not w.requires_grad
    gen = np.random.default_rng(3)
    a = nn.init.normal_(toynn.zeros(5), generator=gen).array.copy()
    np.testing.assert_array_equal(a, np.random.default_rng(3).normal(0, 1, 5).astype(np.float32))
    with pytest.warns(UserWarning, match="zero-element"):
        nn.init.uniform_(toynn.zeros(0, 3))


# ---------------------------------------------------------------------------------------------
# A whole training step against PyTorch


def test_mlp_training_step_matches_torch(torch):
    def build(m):
        return m.nn.Sequential(m.nn.Linear(20, 16), m.nn.ReLU(), m.nn.Linear(16, 5)).double()

    ours, theirs = build(toynn), build(torch)
    copy_into_torch(ours, theirs, torch)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 20)), rng.integers(0, 5, 8)
    for _ in range(3):
        loss = nn.CrossEntropyLoss()(ours(toynn.tensor(x)), toynn.tensor(y))
        ref = torch.nn.CrossEntropyLoss()(theirs(torch.tensor(x)), torch.tensor(y))
        assert loss.item() == pytest.approx(ref.item(), rel=1e-12)
        ours.zero_grad()
        theirs.zero_grad()
        loss.backward()
        ref.backward()
        with toynn.no_grad(), torch.no_grad():
            for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
                assert _rel_err(p.grad.array, tp.grad.numpy()) < 1e-10, name
                p.array -= 0.5 * p.grad.array
                tp -= 0.5 * tp.grad
    assert loss.item() < math.log(5)


def test_no_warnings_in_a_float32_step():
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.cross_entropy(net(toynn.randn(4, 4, 4)), toynn.tensor([0, 1, 2, 0]))
        loss.backward()
    assert loss.dtype == np.float32 and all(p.grad.dtype == np.float32 for p in net.parameters())
