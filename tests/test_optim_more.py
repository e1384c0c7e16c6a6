"""The optimizers beyond SGD/Adam/RMSprop (Adagrad, Adadelta, Adamax, NAdam, RAdam, Rprop) against torch.optim,
step by step on the same parameters and gradients, their state, state_dict round trips and param groups."""

from __future__ import annotations

import numpy as np
import pytest

import toynn
import toynn.optim as optim

from .devices import host
from .test_optim import grad_stream, make_params, rel_err, torch_steps, toynn_steps

CASES = [
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.3, eps=1e-6)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.7, eps=1e-4, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, betas=(0.3, 0.5), eps=1e-3, maximize=True)),  # lerp weight >= 0.5
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),  # rho_t > 5 from step 6 on: both branches within 12 steps
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
]
TOL = {np.float64: 1e-12, np.float32: 1e-5}


def case_id(case):
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items()) if kw else name


def _pair(torch, rng, dtype, case, steps):
    name, kw = case
    init = make_params(rng, dtype)
    grads = grad_stream(dtype, steps)
    ours = [toynn.Tensor(x.copy(), requires_grad=True) for x in init]
    theirs = [torch.tensor(x.copy(), requires_grad=True) for x in init]
    opt, ref = getattr(optim, name)(ours, **kw), getattr(torch.optim, name)(theirs, **kw)
    toynn_steps(opt, ours, grads)
    torch_steps(torch, ref, theirs, grads)
    return opt, ref, ours, theirs


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_matches_torch(case, dtype, torch, rng):
    _, _, ours, theirs = _pair(torch, rng, dtype, case, 12)
    for p, q in zip(ours, theirs):
        assert p.dtype == dtype
        assert rel_err(host(p.array), q.detach().numpy()) < TOL[dtype]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_each_step_and_state_match_torch(case, torch, rng):
    """Step by step (not only the end point), and the state each optimizer keeps, under PyTorch's keys."""
    name, kw = case
    init = make_params(rng, np.float64)
    grads = grad_stream(np.float64, 8)
    ours = [toynn.Tensor(x.copy(), requires_grad=True) for x in init]
    theirs = [torch.tensor(x.copy(), requires_grad=True) for x in init]
    opt, ref = getattr(optim, name)(ours, **kw), getattr(torch.optim, name)(theirs, **kw)
    for gs in grads:
        toynn_steps(opt, ours, [gs])
        torch_steps(torch, ref, theirs, [gs])
        for p, q in zip(ours, theirs):
            assert rel_err(host(p.array), q.detach().numpy()) < 1e-12
    for p, q in zip(ours, theirs):
        mine, expected = opt.state[p], ref.state[q]
        assert set(mine) == set(expected)
        for key, value in mine.items():
            want = expected[key]
            if np.ndim(value) == 0 and not hasattr(value, "shape"):
                assert value == pytest.approx(float(want), rel=1e-14), key
            else:
                assert rel_err(host(value), want.numpy()) < 1e-12, key


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_state_dict_round_trip(case, rng):
    """Stopped after 5 steps, saved, loaded into a fresh optimizer: 5 more steps end where 10 in one go do."""
    name, kw = case
    init = make_params(rng, np.float64)
    grads = grad_stream(np.float64, 10)
    whole = [toynn.Tensor(x.copy(), requires_grad=True) for x in init]
    toynn_steps(getattr(optim, name)(whole, **kw), whole, grads)
    first = [toynn.Tensor(x.copy(), requires_grad=True) for x in init]
    opt = getattr(optim, name)(first, **kw)
    toynn_steps(opt, first, grads[:5])
    saved = opt.state_dict()
    resumed = [toynn.Tensor(p.array.copy(), requires_grad=True) for p in first]
    toynn_steps(opt, first, grads[5:6])  # stepping on must not change the saved snapshot
    fresh = getattr(optim, name)(resumed, lr=123.0)
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == kw.get("lr", opt.defaults["lr"])
    toynn_steps(fresh, resumed, grads[5:])
    for p, q in zip(resumed, whole):
        assert np.array_equal(host(p.array), host(q.array))


@pytest.mark.parametrize("name", ["Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "Rprop"])
def test_param_groups_with_their_own_lr_match_torch(name, torch, rng):
    init = make_params(rng, np.float64)
    grads = grad_stream(np.float64, 10)
    ours = [toynn.Tensor(x.copy(), requires_grad=True) for x in init]
    theirs = [torch.tensor(x.copy(), requires_grad=True) for x in init]
    opt = getattr(optim, name)([{"params": ours[:1], "lr": 0.1}, {"params": ours[1:2]}], lr=0.01)
    opt.add_param_group({"params": ours[2], "lr": 0.3})
    ref = getattr(torch.optim, name)([{"params": theirs[:1], "lr": 0.1}, {"params": theirs[1:2]}], lr=0.01)
    ref.add_param_group({"params": theirs[2], "lr": 0.3})
    assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in ref.param_groups] == [0.1, 0.01, 0.3]
    assert set(opt.param_groups[2]) == set(ref.param_groups[2]) - {"foreach", "capturable", "differentiable", "fused"}
    toynn_steps(opt, ours, grads)
    torch_steps(torch, ref, theirs, grads)
    for p, q in zip(ours, theirs):
        assert rel_err(host(p.array), q.detach().numpy()) < 1e-12


@pytest.mark.parametrize(
    "name,kw,message",
    [
        ("Adagrad", dict(lr_decay=-1), "Adagrad: Invalid lr_decay value: -1"),
        ("Adagrad", dict(initial_accumulator_value=-0.5), "Invalid initial_accumulator_value value: -0.5"),
        ("Adadelta", dict(rho=1.5), "Adadelta: Invalid rho value: 1.5"),
        ("Adamax", dict(betas=(1.0, 0.9)), "Adamax: Invalid beta parameter at index 0: 1.0"),
        ("NAdam", dict(momentum_decay=-1), "NAdam: Invalid momentum_decay value: -1"),
        ("RAdam", dict(eps=-1), "RAdam: Invalid epsilon value: -1"),
        ("Rprop", dict(etas=(1.2, 0.5)), "Rprop: Invalid eta values: 1.2, 0.5"),
    ],
)
def test_bad_hyperparameters(name, kw, message, torch):
    p = toynn.Tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match=message):
        getattr(optim, name)([p], **kw)
    with pytest.raises(ValueError):  # PyTorch refuses them too
        getattr(torch.optim, name)([torch.ones(2, requires_grad=True)], **kw)


def test_adagrad_accumulates_from_construction_like_torch(torch):
    p = toynn.Tensor(np.ones(3), requires_grad=True)
    opt = optim.Adagrad([p], initial_accumulator_value=0.5)
    assert opt.state[p]["step"] == 0 and np.array_equal(host(opt.state[p]["sum"]), np.full(3, 0.5))
    q = toynn.Tensor(np.ones(2), requires_grad=True)
    opt.add_param_group({"params": [q]})
    q.grad = toynn.Tensor(np.array([1.0, -2.0]))
    opt.step()  # a group added later gets its accumulator on its first step
    np.testing.assert_allclose(host(q.array), 1 - 0.01 * np.array([1.0, -2.0]) / (np.sqrt([1.5, 4.5]) + 1e-10))
