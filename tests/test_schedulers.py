"""Learning-rate schedulers against torch.optim.lr_scheduler: the lr (and cycled momentum) of every param group at
every step for 30-40 steps, bit for bit; ReduceLROnPlateau over its modes; state_dict round trips; errors."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import toynn
import toynn.optim as optim
from toynn.optim import lr_scheduler

from .devices import host


class Halving:
    """A callable object: LambdaLR saves its __dict__ (plain functions are not saved, as in PyTorch)."""

    def __init__(self, every):
        self.every = every

    def __call__(self, epoch):
        return 0.5 ** (epoch // self.every)


# name -> (optimizer, build(lrs, opt)); SGD with momentum unless the schedule cycles Adam's beta1
SCHEDULES = {
    "LambdaLR": ("SGD", lambda lrs, opt: lrs.LambdaLR(opt, lambda e: 1 / (1 + 0.3 * e))),
    "LambdaLR-per-group": ("SGD", lambda lrs, opt: lrs.LambdaLR(opt, [lambda e: 0.9**e, Halving(4)])),
    "MultiplicativeLR": ("SGD", lambda lrs, opt: lrs.MultiplicativeLR(opt, lambda e: 0.95 if e % 3 else 1.1)),
    "ConstantLR": ("SGD", lambda lrs, opt: lrs.ConstantLR(opt)),
    "ConstantLR-custom": ("SGD", lambda lrs, opt: lrs.ConstantLR(opt, factor=0.1, total_iters=7)),
    "PolynomialLR": ("SGD", lambda lrs, opt: lrs.PolynomialLR(opt, total_iters=20, power=2.0)),
    "PolynomialLR-default": ("SGD", lambda lrs, opt: lrs.PolynomialLR(opt)),
    "CosineAnnealingWarmRestarts": ("SGD", lambda lrs, opt: lrs.CosineAnnealingWarmRestarts(opt, T_0=7)),
    "CosineAnnealingWarmRestarts-mult": (
        "SGD",
        lambda lrs, opt: lrs.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=1e-3),
    ),
    "ChainedScheduler": (
        "SGD",
        lambda lrs, opt: lrs.ChainedScheduler(
            [lrs.ConstantLR(opt, factor=0.5, total_iters=4), lrs.ExponentialLR(opt, 0.9)]
        ),
    ),
    "SequentialLR-ConstantLR-Polynomial": (
        "SGD",
        lambda lrs, opt: lrs.SequentialLR(
            opt, [lrs.ConstantLR(opt, factor=0.2, total_iters=3), lrs.PolynomialLR(opt, 25, 1.5)], milestones=[3]
        ),
    ),
    "OneCycleLR": ("SGD", lambda lrs, opt: lrs.OneCycleLR(opt, max_lr=1.0, total_steps=40)),
    "OneCycleLR-Adam-linear-3phase": (
        "Adam",
        lambda lrs, opt: lrs.OneCycleLR(
            opt,
            max_lr=[0.1, 0.02],
            epochs=4,
            steps_per_epoch=10,
            pct_start=0.25,
            anneal_strategy="linear",
            three_phase=True,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
    ),
    "OneCycleLR-no-momentum": (
        "SGD",
        lambda lrs, opt: lrs.OneCycleLR(opt, max_lr=0.5, total_steps=41, cycle_momentum=False),
    ),
    "CyclicLR": ("SGD", lambda lrs, opt: lrs.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=4)),
    "CyclicLR-triangular2-Adam": (
        "Adam",
        lambda lrs, opt: lrs.CyclicLR(opt, 0.001, [0.01, 0.02], step_size_up=3, step_size_down=5, mode="triangular2"),
    ),
    "CyclicLR-exp_range": (
        "SGD",
        lambda lrs, opt: lrs.CyclicLR(opt, 0.01, 0.1, step_size_up=5, mode="exp_range", gamma=0.97),
    ),
}


def _optimizer(optim_module, name, tensor):
    a, b = tensor([1.0]), tensor([2.0])
    groups = [{"params": [a]}, {"params": [b], "lr": 0.05}]
    if name == "Adam":
        return optim_module.Adam(groups, lr=0.1)
    return optim_module.SGD(groups, lr=0.1, momentum=0.9)


def _hyper(opt):
    """What a schedule may set in each group: lr, and momentum or Adam's betas."""
    return [(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups]


def _sequence(optim_module, lrs_module, tensor, name, steps=40):
    kind, build = SCHEDULES[name]
    opt = _optimizer(optim_module, kind, tensor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns about a scheduler step before any optimizer step
        sched = build(lrs_module, opt)
        seq = [(sched.get_last_lr(), _hyper(opt))]
        for _ in range(steps):
            opt.step()
            sched.step()
            seq.append((sched.get_last_lr(), _hyper(opt)))
            assert seq[-1][0] == [g["lr"] for g in opt.param_groups]
    return seq


def _ours(v):
    return toynn.Tensor(np.array(v), requires_grad=True)


@pytest.mark.parametrize("name", SCHEDULES)
def test_sequence_matches_torch_bit_for_bit(name, torch):
    steps = 40 if name.startswith("OneCycleLR") else 30
    ours = _sequence(optim, lr_scheduler, _ours, name, steps)
    theirs = _sequence(
        torch.optim, torch.optim.lr_scheduler, lambda v: torch.tensor(v, requires_grad=True), name, steps
    )
    assert ours == theirs


def test_one_cycle_defaults_by_hand():
    """Two phases: cos from max_lr/25 up to max_lr at 30% of the steps, then to max_lr/25/1e4; momentum mirrored."""
    opt = optim.SGD([_ours([1.0])], lr=0.1, momentum=0.9)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=100)
    lrs, moms = [], []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        if len(lrs) < 100:
            sched.step()
    assert lrs[0] == pytest.approx(1 / 25) and moms[0] == pytest.approx(0.95)
    assert max(lrs) == pytest.approx(1.0) and int(np.argmax(lrs)) == 29 and moms[29] == pytest.approx(0.85)
    assert lrs[-1] == pytest.approx(1 / 25 / 1e4) and moms[-1] == pytest.approx(0.95)
    pct = 10 / 29
    assert lrs[10] == pytest.approx(1.0 + (0.04 - 1.0) / 2 * (math.cos(math.pi * pct) + 1))
    sched.step()  # step 100 is still allowed, as in PyTorch
    with pytest.raises(ValueError, match="Tried to step 101 times. The specified number of total steps is 100"):
        sched.step()


# ---------------------------------------------------------------------------------------------
# ReduceLROnPlateau

PLATEAU = [
    dict(),
    dict(mode="max", factor=0.5, patience=2),
    dict(patience=1, threshold=0.05, threshold_mode="rel", cooldown=2),
    dict(mode="max", patience=0, threshold=0.1, threshold_mode="abs", cooldown=1, factor=0.3),
    dict(patience=2, threshold=0.2, threshold_mode="abs", min_lr=[0.01, 0.004], factor=0.5),
    dict(patience=1, min_lr=0.02, eps=0.01, factor=0.7),  # min_lr and eps stop the reductions
]
# a loss that falls, stalls, creeps by less than the thresholds, falls again and jumps
METRICS = [1.0, 0.8, 0.7, 0.7, 0.69, 0.695, 0.7, 0.5, 0.49, 0.489, 0.6, 0.6, 0.3, 0.3, 0.3, 0.3, 0.31, 0.2, 0.2, 0.2]
METRICS = METRICS + [0.2 - 0.001 * i for i in range(15)] + [0.19] * 14


@pytest.mark.parametrize(
    "kw", PLATEAU, ids=[",".join(f"{k}={v}" for k, v in kw.items()) or "defaults" for kw in PLATEAU]
)
def test_reduce_lr_on_plateau_matches_torch(kw, torch):
    def run(optim_module, lrs_module, tensor, metric):
        opt = _optimizer(optim_module, "SGD", tensor)
        sched = lrs_module.ReduceLROnPlateau(opt, **kw)
        seq = []
        for i, m in enumerate(METRICS):
            opt.step()
            value = 1 - m if kw.get("mode") == "max" else m  # an accuracy rises as the loss falls
            sched.step(metric(value) if i % 2 else value)  # a number or a 0-d tensor, as PyTorch takes either
            seq.append((sched.get_last_lr(), sched.num_bad_epochs, sched.cooldown_counter, sched.best))
        return seq

    ours = run(optim, lr_scheduler, _ours, lambda v: toynn.tensor(v))
    theirs = run(torch.optim, torch.optim.lr_scheduler, lambda v: torch.tensor(v, requires_grad=True), torch.tensor)
    assert ours == theirs
    assert len({tuple(s[0]) for s in ours}) > 1 or kw.get("eps") == 0.01  # the lr did change


def test_reduce_lr_on_plateau_by_hand():
    opt = optim.SGD([_ours([1.0])], lr=1.0)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=2, cooldown=1, factor=0.5)
    lrs = []
    for m in [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]:
        sched.step(m)
        lrs.append(sched.get_last_lr()[0])
    # bad epochs 1, 2, 3 > patience: halve; one epoch of cooldown; then 1, 2, 3 again
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25]


def test_reduce_lr_on_plateau_state_dict_round_trip():
    def build():
        opt = optim.SGD([_ours([1.0])], lr=1.0)
        return opt, lr_scheduler.ReduceLROnPlateau(opt, patience=1, cooldown=1, factor=0.5)

    opt, sched = build()
    for m in METRICS[:12]:
        sched.step(m)
    saved_opt, saved = opt.state_dict(), sched.state_dict()
    rest = []
    for m in METRICS[12:]:
        sched.step(m)
        rest.append(sched.get_last_lr())
    opt2, sched2 = build()
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    again = []
    for m in METRICS[12:]:
        sched2.step(m)
        again.append(sched2.get_last_lr())
    assert again == rest and "optimizer" not in saved


# ---------------------------------------------------------------------------------------------
# state_dict round trips, the epoch argument, errors


@pytest.mark.parametrize("name", SCHEDULES)
def test_state_dict_round_trip(name):
    kind, build = SCHEDULES[name]

    def fresh():
        p = _ours([1.0, 2.0])
        opt = _optimizer(optim, kind, lambda v: p if v == [1.0] else _ours(v))
        return opt, build(lr_scheduler, opt)

    opt, sched = fresh()
    for _ in range(12):
        sched.step()
    saved_opt, saved = opt.state_dict(), sched.state_dict()
    assert "optimizer" not in saved
    expected = []
    for _ in range(12):
        sched.step()
        expected.append((sched.get_last_lr(), _hyper(opt)))
    opt2, sched2 = fresh()
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved)
    got = []
    for _ in range(12):
        sched2.step()
        got.append((sched2.get_last_lr(), _hyper(opt2)))
    assert got == expected


def test_lambda_lr_saves_callable_objects_not_functions():
    opt = _optimizer(optim, "SGD", _ours)
    halving = Halving(4)
    sched = lr_scheduler.LambdaLR(opt, [lambda e: 1.0, halving])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"every": 4}]
    halving.every = 100
    sched.load_state_dict(state)
    assert halving.every == 4


@pytest.mark.filterwarnings(r"ignore:Detected call of `lr_scheduler.step\(\)` before")
def test_step_with_epoch_warns_and_jumps(torch):
    def run(optim_module, lrs_module, tensor):
        opt = _optimizer(optim_module, "SGD", tensor)
        sched = lrs_module.StepLR(opt, step_size=3, gamma=0.5)
        with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)` was not necessary"):
            sched.step(7)
        return sched.get_last_lr()

    assert (
        run(optim, lr_scheduler, _ours) == run(torch.optim, torch.optim.lr_scheduler, torch.tensor) == [0.025, 0.0125]
    )


def test_warm_restarts_with_fractional_epochs_match_torch(torch):
    def run(optim_module, lrs_module, tensor):
        opt = _optimizer(optim_module, "SGD", tensor)
        sched = lrs_module.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
        out = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in range(6):
                for i in range(4):
                    sched.step(epoch + i / 4)
                    out.append(sched.get_last_lr())
        return out

    assert run(optim, lr_scheduler, _ours) == run(torch.optim, torch.optim.lr_scheduler, torch.tensor)


def test_old_name_and_errors():
    assert lr_scheduler._LRScheduler is lr_scheduler.LRScheduler
    opt = _optimizer(optim, "SGD", _ours)
    with pytest.raises(ValueError, match="LambdaLR: expected 2 values for lr_lambda, one per param group; got 1"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])
    with pytest.raises(TypeError, match="lr_lambda should be a function, but got float"):
        lr_scheduler.MultiplicativeLR(opt, 0.9)
    with pytest.raises(ValueError, match="ConstantLR: Constant multiplicative factor expected to be between 0 and 1"):
        lr_scheduler.ConstantLR(opt, factor=2)
    with pytest.raises(ValueError, match="Expected positive integer T_0, but got 0"):
        lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: Factor should be < 1.0; got 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: mode must be 'min' or 'max'; got 'up'"):
        lr_scheduler.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="You must define either total_steps OR"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="Expected float between 0 and 1 pct_start, but got 2"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=2)
    with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
        lr_scheduler.OneCycleLR(optim.Adagrad([_ours([1.0])]), max_lr=0.1, total_steps=10)
    with pytest.raises(ValueError, match="ChainedScheduler does not support `ReduceLROnPlateau`"):
        lr_scheduler.ChainedScheduler([lr_scheduler.ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="CyclicLR: mode 'sawtooth' is invalid and scale_fn is None"):
        lr_scheduler.CyclicLR(opt, 0.01, 0.1, mode="sawtooth")


def test_a_schedule_drives_training(torch):
    """A whole loop: the parameters after 20 steps of SGD under OneCycleLR equal PyTorch's."""
    x0 = np.array([1.5, -2.0, 0.5])

    def run(optim_module, lrs_module, tensor, backward):
        p = tensor(x0.copy())
        opt = optim_module.SGD([p], lr=0.1, momentum=0.9, nesterov=True)
        sched = lrs_module.OneCycleLR(opt, max_lr=0.2, total_steps=20)
        for _ in range(20):
            opt.zero_grad()
            backward(p)
            opt.step()
            sched.step() if sched.last_epoch < 20 else None
        return p

    ours = run(
        optim, lr_scheduler, lambda v: toynn.Tensor(v, requires_grad=True), lambda p: (p * p + p.sin()).sum().backward()
    )
    theirs = run(
        torch.optim,
        torch.optim.lr_scheduler,
        lambda v: torch.tensor(v, requires_grad=True),
        lambda p: (p * p + p.sin()).sum().backward(),
    )
    np.testing.assert_allclose(host(ours.array), theirs.detach().numpy(), rtol=1e-13)
