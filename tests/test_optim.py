"""toynn.optim against PyTorch (same gradients, same parameters), hand-written formulas, state dicts and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import toynn
import toynn.optim as optim
from toynn.optim import lr_scheduler

from .devices import host

SHAPES = [(3, 4), (5,), ()]

# (optimizer name, hyperparameters): each setting exercises one branch of the update
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.4), eps=1e-3)),  # lerp weight >= 0.5: PyTorch's second branch
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(momentum=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.3, centered=True)),  # lerp weight >= 0.5
    ("RMSprop", dict(lr=0.01, momentum=0.5, eps=1e-4)),
]
TOL = {np.float64: 1e-12, np.float32: 1e-5}


def case_id(case):
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items()) if kw else name


def make_params(rng, dtype):
    return [np.asarray(rng.standard_normal(s), dtype=dtype) for s in SHAPES]


def grad_stream(dtype, steps, seed=1):
    """The same gradients for every run: one list per step; the last parameter has no grad on odd steps."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(steps):
        gs = [np.asarray(rng.standard_normal(s) * rng.uniform(0.1, 3), dtype=dtype) for s in SHAPES]
        if t % 2:
            gs[-1] = None
        out.append(gs)
    return out


def toynn_steps(opt, params, grads):
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = None if g is None else toynn.Tensor(g.copy())
        opt.step()


def torch_steps(torch, opt, params, grads):
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = None if g is None else torch.from_numpy(g.copy())
        opt.step()


def rel_err(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30)


# ---------------------------------------------------------------------------------------------
# the same gradients to toynn and PyTorch


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_torch(case, dtype, torch, rng):
    name, kw = case
    init = make_params(rng, dtype)
    grads = grad_stream(dtype, 10)
    ours = [toynn.Tensor(x.copy(), requires_grad=True) for x in init]
    theirs = [torch.tensor(x.copy(), requires_grad=True) for x in init]
    toynn_steps(getattr(optim, name)(ours, **kw), ours, grads)
    torch_steps(torch, getattr(torch.optim, name)(theirs, **kw), theirs, grads)
    for p, q in zip(ours, theirs):
        assert p.dtype == dtype
        assert rel_err(host(p.array), q.detach().numpy()) < TOL[dtype]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_state_matches_torch(case, torch, rng):
    name, kw = case
    init = make_params(rng, np.float64)
    grads = grad_stream(np.float64, 4)
    ours = [toynn.Tensor(x.copy(), requires_grad=True) for x in init]
    theirs = [torch.tensor(x.copy(), requires_grad=True) for x in init]
    opt = getattr(optim, name)(ours, **kw)
    toynn_steps(opt, ours, grads)
    ref = getattr(torch.optim, name)(theirs, **kw)
    torch_steps(torch, ref, theirs, grads)
    for p, q in zip(ours, theirs):
        ours_state, ref_state = opt.state[p], ref.state[q]
        assert set(ours_state) == set(ref_state)
        for key, value in ours_state.items():
            expected = ref_state[key]
            if key == "step":
                assert value == expected.item()
            else:
                assert rel_err(host(value), expected.numpy()) < 1e-12, key


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_grad_untouched_and_none_skipped(case, rng):
    name, kw = case
    p, frozen = toynn.Tensor(rng.standard_normal((3, 4)), requires_grad=True), toynn.Tensor(np.ones(2))
    opt = getattr(optim, name)([p, frozen], **kw)
    g = rng.standard_normal((3, 4))
    p.grad = toynn.Tensor(g.copy())
    before = p.array
    for _ in range(3):
        opt.step()
    assert np.array_equal(host(p.grad), g)
    assert p.array is before  # updated in place
    assert np.array_equal(host(frozen), np.ones(2)) and frozen not in opt.state


# ---------------------------------------------------------------------------------------------
# hand-written formulas


def test_sgd_momentum_by_hand():
    x0, g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 0.25]), np.array([-1.0, 2.0])
    lr, mu = 0.1, 0.9
    p = toynn.Tensor(x0.copy(), requires_grad=True)
    opt = optim.SGD([p], lr=lr, momentum=mu)
    p.grad = toynn.Tensor(g1)
    opt.step()
    x1 = x0 - lr * g1  # the first buffer is the gradient itself
    np.testing.assert_allclose(p.array, x1, rtol=1e-15)
    p.grad = toynn.Tensor(g2)
    opt.step()
    np.testing.assert_allclose(p.array, x1 - lr * (mu * g1 + g2), rtol=1e-15)


def test_adam_by_hand():
    x0, g = np.array([1.0, -2.0, 3.0]), np.array([0.5, -0.25, 2.0])
    lr, (b1, b2), eps = 0.01, (0.9, 0.999), 1e-8
    p = toynn.Tensor(x0.copy(), requires_grad=True)
    opt = optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps)
    p.grad = toynn.Tensor(g)
    opt.step()
    m, v = (1 - b1) * g, (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1), v / (1 - b2)
    np.testing.assert_allclose(p.array, x0 - lr * m_hat / (np.sqrt(v_hat) + eps), rtol=1e-14)
    np.testing.assert_allclose(opt.state[p]["exp_avg"], m, rtol=1e-15)
    np.testing.assert_allclose(opt.state[p]["exp_avg_sq"], v, rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# state_dict


def _plain(value, array_type=np.ndarray):
    """True when value is made of dicts, lists, tuples, numbers, strings and arrays of array_type only.

    array_type is the type of the parameters' arrays (np.ndarray on the CPU, the device's array type under
    --backend cupy or fake): the state stays where the parameters are.
    """
    if isinstance(value, dict):
        return all(_plain(k, array_type) and _plain(v, array_type) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_plain(v, array_type) for v in value)
    return value is None or isinstance(value, (bool, int, float, str, array_type))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_state_dict_round_trip(case, rng):
    name, kw = case
    init = make_params(rng, np.float64)
    grads = grad_stream(np.float64, 10)
    whole = [toynn.Tensor(x.copy(), requires_grad=True) for x in init]
    toynn_steps(getattr(optim, name)(whole, **kw), whole, grads)

    first = [toynn.Tensor(x.copy(), requires_grad=True) for x in init]
    opt = getattr(optim, name)(first, **kw)
    toynn_steps(opt, first, grads[:5])
    saved = opt.state_dict()
    assert _plain(saved, type(first[0].array))
    toynn_steps(opt, first, grads[5:6])  # stepping on must not change the saved snapshot
    resumed = [toynn.Tensor(x, requires_grad=True) for x in _params_after(init, name, kw, grads[:5])]
    fresh = getattr(optim, name)(resumed, lr=123.0)  # the loaded groups bring back the saved lr
    fresh.load_state_dict(saved)
    toynn_steps(fresh, resumed, grads[5:])
    for p, q in zip(resumed, whole):
        assert np.array_equal(host(p.array), host(q.data))
    assert fresh.param_groups[0]["lr"] == opt.param_groups[0]["lr"]


def _params_after(init, name, kw, grads):
    params = [toynn.Tensor(x.copy(), requires_grad=True) for x in init]
    toynn_steps(getattr(optim, name)(params, **kw), params, grads)
    return [p.array.copy() for p in params]


def test_state_dict_layout_and_dtype():
    a = toynn.Tensor(np.ones(3, np.float32), requires_grad=True)
    b = toynn.Tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.SGD([{"params": [a], "lr": 0.5}, {"params": [b]}], lr=0.1, momentum=0.9)
    a.grad = toynn.Tensor(np.ones(3, np.float32))
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert list(sd["state"]) == [0] and set(sd["state"][0]) == {"momentum_buffer"}
    sd["state"][0]["momentum_buffer"] = sd["state"][0]["momentum_buffer"].astype(np.float64)
    opt.load_state_dict(sd)
    assert opt.state[a]["momentum_buffer"].dtype == np.float32  # state follows the parameter's dtype


def test_load_state_dict_mismatch():
    a, b = toynn.Tensor(np.ones(3), requires_grad=True), toynn.Tensor(np.ones(2), requires_grad=True)
    sd = optim.Adam([a, b]).state_dict()
    with pytest.raises(ValueError, match="parameter group 0 has 2 parameters in the loaded state dict, but 1"):
        optim.Adam([a]).load_state_dict(sd)
    with pytest.raises(ValueError, match="has 1 parameter groups, but the optimizer has 2"):
        optim.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)


# ---------------------------------------------------------------------------------------------
# zero_grad, param groups, closure, graph safety


def test_zero_grad():
    p = toynn.Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = toynn.Tensor(np.full(3, 2.0))
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and np.array_equal(host(grad), np.zeros(3))  # zeroed in place
    opt.zero_grad()
    assert p.grad is None


def test_zero_grad_after_backward():
    p = toynn.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    opt.step()
    np.testing.assert_allclose(p.array, [0.8, 1.6])
    opt.zero_grad()
    (p * p).sum().backward()
    np.testing.assert_allclose(p.grad.array, [1.6, 3.2])  # not accumulated onto the previous gradient


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_param_groups_match_torch(name, torch, rng):
    init = make_params(rng, np.float64)
    grads = grad_stream(np.float64, 10)
    ours = [toynn.Tensor(x.copy(), requires_grad=True) for x in init]
    theirs = [torch.tensor(x.copy(), requires_grad=True) for x in init]
    extra = {"SGD": dict(momentum=0.9)}.get(name, {})
    opt = getattr(optim, name)([{"params": ours[:1], "lr": 0.1}, {"params": ours[1:2]}], lr=0.01, **extra)
    opt.add_param_group({"params": ours[2], "lr": 0.3})
    ref = getattr(torch.optim, name)([{"params": theirs[:1], "lr": 0.1}, {"params": theirs[1:2]}], lr=0.01, **extra)
    ref.add_param_group({"params": theirs[2], "lr": 0.3})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01, 0.3]
    toynn_steps(opt, ours, grads)
    torch_steps(torch, ref, theirs, grads)
    for p, q in zip(ours, theirs):
        assert rel_err(host(p.array), q.detach().numpy()) < 1e-12


def test_param_group_errors():
    a = toynn.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="SGD: optimizer got an empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match="SGD: params should be an iterable of Tensors or dicts, but got a Tensor"):
        optim.SGD(a)
    with pytest.raises(TypeError, match="optimizer can only optimize Tensors"):
        optim.SGD([np.ones(3)])
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([a * 2])
    with pytest.raises(ValueError, match="appear more than once"):
        optim.SGD([a, a])
    opt = optim.SGD([a])
    with pytest.raises(ValueError, match="appear more than once"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="SGD: Invalid learning rate: -1"):
        opt.add_param_group({"params": [toynn.Tensor(np.ones(1))], "lr": -1})


def test_closure_returns_loss():
    p = toynn.Tensor(np.array([3.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with toynn.no_grad():  # the closure still records a graph
        loss = opt.step(closure)
    assert loss.item() == 9.0
    np.testing.assert_allclose(p.array, [1.5])


def test_step_invalidates_saved_graph():
    p = toynn.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    loss = (p * p).sum()
    p.grad = toynn.Tensor(np.ones(2))
    opt.step()  # p changed in place: backward through the old graph would use the new values
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


# ---------------------------------------------------------------------------------------------
# hyperparameter errors: our message is "<Optimizer>: <PyTorch's message>; <what was expected>"

BAD = [
    ("SGD", dict(lr=-0.1), "Invalid learning rate: -0.1; expected lr >= 0"),
    ("SGD", dict(momentum=-0.5), "Invalid momentum value: -0.5; expected momentum >= 0"),
    ("SGD", dict(weight_decay=-1e-4), "Invalid weight_decay value: -0.0001"),
    ("SGD", dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening; got momentum=0"),
    ("SGD", dict(momentum=0.9, dampening=0.1, nesterov=True), "Nesterov momentum requires.*dampening=0.1"),
    ("Adam", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("Adam", dict(betas=(1.0, 0.999)), r"Invalid beta parameter at index 0: 1.0; expected 0 <= betas\[0\] < 1"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("Adam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("AdamW", dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    ("AdamW", dict(weight_decay=-0.01), "Invalid weight_decay value: -0.01"),
    ("RMSprop", dict(alpha=-0.9), "Invalid alpha value: -0.9"),
    ("RMSprop", dict(momentum=-0.1), "Invalid momentum value: -0.1"),
    ("RMSprop", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
]


@pytest.mark.parametrize("name, kw, message", BAD, ids=lambda v: str(v))
def test_bad_hyperparameters(name, kw, message, torch):
    with pytest.raises(ValueError, match=f"^{name}: {message}") as ours:
        getattr(optim, name)([toynn.Tensor(np.ones(2), requires_grad=True)], **kw)
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.ones(2, requires_grad=True)], **kw)
    assert str(theirs.value) in str(ours.value)  # PyTorch's wording, plus the optimizer's name


# ---------------------------------------------------------------------------------------------
# learning-rate schedulers

SCHEDULES = {
    "StepLR": lambda lrs, opt: lrs.StepLR(opt, step_size=7, gamma=0.5),
    "MultiStepLR": lambda lrs, opt: lrs.MultiStepLR(opt, milestones=[5, 12, 12, 20], gamma=0.3),
    "ExponentialLR": lambda lrs, opt: lrs.ExponentialLR(opt, gamma=0.9),
    "CosineAnnealingLR": lambda lrs, opt: lrs.CosineAnnealingLR(opt, T_max=10, eta_min=0.001),
    "LinearLR": lambda lrs, opt: lrs.LinearLR(opt),
    "LinearLR-custom": lambda lrs, opt: lrs.LinearLR(opt, start_factor=0.1, end_factor=0.8, total_iters=8),
    "SequentialLR": lambda lrs, opt: lrs.SequentialLR(
        opt,
        [lrs.LinearLR(opt, start_factor=0.01, total_iters=5), lrs.CosineAnnealingLR(opt, T_max=25, eta_min=1e-4)],
        milestones=[5],
    ),
    "SequentialLR-3": lambda lrs, opt: lrs.SequentialLR(
        opt,
        [lrs.LinearLR(opt, total_iters=4), lrs.ExponentialLR(opt, 0.8), lrs.StepLR(opt, 3, 0.5)],
        milestones=[4, 10],
    ),
}


def _lr_sequence(optim_module, lrs_module, tensor, name, steps=30):
    a, b = tensor([1.0]), tensor([2.0])
    opt = optim_module.SGD([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1, momentum=0.9)
    sched = SCHEDULES[name](lrs_module, opt)
    seq = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        seq.append(sched.get_last_lr())
        assert seq[-1] == [g["lr"] for g in opt.param_groups]
    return seq


@pytest.mark.parametrize("name", SCHEDULES)
def test_scheduler_matches_torch(name, torch):
    ours = _lr_sequence(optim, lr_scheduler, lambda v: toynn.Tensor(np.array(v), requires_grad=True), name)
    theirs = _lr_sequence(torch.optim, torch.optim.lr_scheduler, lambda v: torch.tensor(v, requires_grad=True), name)
    assert ours == theirs  # the same float operations in the same order: bit-for-bit equal


def test_warmup_cosine_shape():
    p = toynn.Tensor(np.ones(1), requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    warmup = lr_scheduler.LinearLR(opt, start_factor=0.2, total_iters=4)
    cosine = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    sched = lr_scheduler.SequentialLR(opt, [warmup, cosine], milestones=[4])
    seq = [sched.get_last_lr()[0]]
    for _ in range(14):
        sched.step()
        seq.append(sched.get_last_lr()[0])
    np.testing.assert_allclose(seq[:5], [0.2, 0.4, 0.6, 0.8, 1.0], rtol=1e-12)
    expected = [(1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    np.testing.assert_allclose(seq[4:], expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", SCHEDULES)
def test_scheduler_state_dict_round_trip(name):
    def build():
        p = toynn.Tensor(np.ones(2), requires_grad=True)
        p.grad = toynn.Tensor(np.ones(2))
        opt = optim.SGD([p], lr=0.1, momentum=0.9)
        return p, opt, SCHEDULES[name](lr_scheduler, opt)

    p, opt, sched = build()
    for _ in range(20):
        opt.step()
        sched.step()
    expected = sched.get_last_lr(), host(p.array)

    p, opt, sched = build()
    for _ in range(10):
        opt.step()
        sched.step()
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    assert _plain(saved_opt, type(p.array)) and "optimizer" not in saved_sched
    q, opt2, sched2 = build()
    q.data = p.array.copy()
    opt2.load_state_dict(saved_opt)  # after building the scheduler, which resets the group lrs
    sched2.load_state_dict(saved_sched)
    for _ in range(10):
        opt2.step()
        sched2.step()
    assert sched2.get_last_lr() == expected[0]
    assert np.array_equal(host(q.data), expected[1])


def test_scheduler_errors(torch):
    opt = optim.SGD([toynn.Tensor(np.ones(1), requires_grad=True)], lr=0.1)
    with pytest.raises(TypeError, match="StepLR: expected an Optimizer, got list"):
        lr_scheduler.StepLR([], step_size=2)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive integer; got 0"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="LinearLR: Starting multiplicative factor .* got start_factor=0"):
        lr_scheduler.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="LinearLR: Ending multiplicative factor .* got end_factor=1.5"):
        lr_scheduler.LinearLR(opt, end_factor=1.5)
    with pytest.raises(ValueError, match="one milestone fewer than schedulers; got 2 schedulers and 2 milestones"):
        lr_scheduler.SequentialLR(
            opt, [lr_scheduler.LinearLR(opt), lr_scheduler.ExponentialLR(opt, 0.9)], milestones=[3, 5]
        )
    other = optim.SGD([toynn.Tensor(np.ones(1), requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="scheduler ExponentialLR at index 1 has a different one"):
        lr_scheduler.SequentialLR(
            opt, [lr_scheduler.LinearLR(opt), lr_scheduler.ExponentialLR(other, 0.9)], milestones=[3]
        )
    with pytest.raises(KeyError, match="'initial_lr' is not specified in param_groups"):
        lr_scheduler.StepLR(optim.SGD([toynn.Tensor(np.ones(1))]), step_size=3, last_epoch=5)
