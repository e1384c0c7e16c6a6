"""Adagrad (steps scaled by the root of all past squared gradients), Adadelta (by a ratio of running RMS)
and Rprop (per-element step sizes that grow while the gradient's sign holds)."""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import array_module
from ..tensor import Tensor
from .optimizer import Optimizer, _direction, _scaled


class Adagrad(Optimizer):
    """s += g^2; p -= lr / (1 + (t-1) lr_decay) * g / (sqrt(s) + eps)."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach=None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused=None,
    ):
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:  # PyTorch fills the accumulators at construction
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["sum"] = array_module(p.array).full_like(p.array, group["initial_accumulator_value"])

    def _check_hyperparameters(self, group):
        self._check_nonnegative(group, "lr", "learning rate")
        self._check_nonnegative(group, "lr_decay", "lr_decay value")
        self._check_nonnegative(group, "weight_decay", "weight_decay value")
        self._check_nonnegative(group, "initial_accumulator_value", "initial_accumulator_value value")
        self._check_nonnegative(group, "eps", "epsilon value")

    def _update(self, p, g, state, group):
        x = p.array
        xp = array_module(x)
        self._init_state(p, group)  # a group added later with add_param_group
        state["step"] += 1
        g = _direction(g, x, group["weight_decay"], group["maximize"])
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        s = state["sum"]
        tmp = xp.multiply(g, g, out=xp.empty_like(g))  # out=: a 0-d product would be a NumPy scalar
        s += tmp
        std = xp.sqrt(s, out=tmp)
        std += group["eps"]
        delta = g * -clr  # PyTorch's addcdiv: p + (value * g) / std
        delta /= std
        x += delta


class Adadelta(Optimizer):
    """v = rho v + (1-rho) g^2; d = sqrt(u + eps) / sqrt(v + eps) * g; u = rho u + (1-rho) d^2; p -= lr d."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach=None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        self._check_nonnegative(group, "lr", "learning rate")
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Adadelta: Invalid rho value: {group['rho']}; expected 0 <= rho <= 1")
        self._check_nonnegative(group, "eps", "epsilon value")
        self._check_nonnegative(group, "weight_decay", "weight_decay value")

    def _update(self, p, g, state, group):
        rho, eps = group["rho"], group["eps"]
        x = p.array
        xp = array_module(x)
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(x)
            state["acc_delta"] = xp.zeros_like(x)
        state["step"] += 1
        g = _direction(g, x, group["weight_decay"], group["maximize"])
        v, u = state["square_avg"], state["acc_delta"]
        tmp = _scaled(g, 1 - rho)  # (1-rho)*g*g in PyTorch's addcmul order
        tmp *= g
        v *= rho
        v += tmp
        std = xp.sqrt(v + eps)
        delta = xp.sqrt(u + eps)
        delta /= std
        delta *= g
        tmp = _scaled(delta, 1 - rho)
        tmp *= delta
        u *= rho
        u += tmp
        delta *= -group["lr"]
        x += delta


class Rprop(Optimizer):
    """Per element: step *= etaplus while g keeps its sign, etaminus when it flips (g then counts as 0);
    p -= sign(g) step."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach=None,
        maximize: bool = False,
        differentiable: bool = False,
    ):
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        self._check_nonnegative(group, "lr", "learning rate")
        etaminus, etaplus = group["etas"]
        if not 0.0 < etaminus < 1.0 < etaplus:
            raise ValueError(f"Rprop: Invalid eta values: {etaminus}, {etaplus}; expected 0 < etaminus < 1 < etaplus")

    def _update(self, p, g, state, group):
        etaminus, etaplus = group["etas"]
        lo, hi = group["step_sizes"]
        x = p.array
        xp = array_module(x)
        if not state:
            state["step"] = 0
            state["prev"] = xp.zeros_like(x)
            state["step_size"] = xp.full_like(x, group["lr"])
        state["step"] += 1
        g = -g if group["maximize"] else g
        sign = xp.sign(g * state["prev"])
        factor = xp.where(sign > 0, etaplus, xp.where(sign < 0, etaminus, 1.0)).astype(x.dtype)
        step_size = state["step_size"]
        step_size *= factor
        xp.clip(step_size, lo, hi, out=step_size)
        g = xp.where(sign < 0, 0, g).astype(x.dtype)  # after a sign flip: no move, and no flip counted next time
        x -= xp.sign(g) * step_size
        state["prev"][...] = g
