"""Adam (with optional AMSGrad) and AdamW, whose weight decay is decoupled from the gradient."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..backend import array_module
from ..tensor import Tensor
from .optimizer import Optimizer, _direction, _lerp_, _scaled


class Adam(Optimizer):
    """m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; p -= lr/(1-b1^t) * m / (sqrt(v/(1-b2^t)) + eps)."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ):
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        self._check_nonnegative(group, "lr", "learning rate")
        self._check_nonnegative(group, "eps", "epsilon value")
        for i, beta in enumerate(group["betas"]):
            if not 0.0 <= beta < 1.0:
                raise ValueError(
                    f"{type(self).__name__}: Invalid beta parameter at index {i}: {beta}; expected 0 <= betas[{i}] < 1"
                )
        self._check_nonnegative(group, "weight_decay", "weight_decay value")

    def _update(self, p, g, state, group):
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        x = p.array
        xp = array_module(x)
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(x)
            state["exp_avg_sq"] = xp.zeros_like(x)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(x)
        state["step"] += 1
        step, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        if weight_decay != 0 and group["decoupled_weight_decay"]:
            x *= 1 - lr * weight_decay  # AdamW: p <- p - lr*wd*p, outside the moments
            weight_decay = 0
        g = _direction(g, x, weight_decay, group["maximize"])

        tmp = _scaled(g, 1 - beta2)  # (1-b2)*g*g in PyTorch's addcmul order
        tmp *= g
        v *= beta2
        v += tmp
        _lerp_(m, g, 1 - beta1, tmp)

        step_size = lr / (1 - beta1**step)
        bias_correction2_sqrt = (1 - beta2**step) ** 0.5
        if group["amsgrad"]:
            v = xp.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        denom = xp.sqrt(v, out=tmp)
        denom /= bias_correction2_sqrt
        denom += eps
        delta = m * -step_size  # PyTorch's addcdiv: p + (value * m) / denom
        delta /= denom
        x += delta


class AdamW(Adam):
    """Adam with decoupled weight decay: p <- p - lr*wd*p, then the Adam step (wd not in the moments)."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, decoupled_weight_decay=True)


class _AdamFamily(Optimizer):
    """The hyperparameter checks Adamax, NAdam and RAdam share with Adam."""

    _check_hyperparameters = Adam._check_hyperparameters

    @staticmethod
    def _moments(x, state, extra=()):
        if not state:
            xp = array_module(x)
            state["step"] = 0
            for name in ("exp_avg", *extra):
                state[name] = xp.zeros_like(x)

    @staticmethod
    def _decay(x, g, group):
        """±g, with L2 decay folded in, or decoupled (p *= 1 - lr wd) when the group asks for it."""
        weight_decay = group["weight_decay"]
        if weight_decay != 0 and group.get("decoupled_weight_decay", False):
            x *= 1 - group["lr"] * weight_decay
            weight_decay = 0
        return _direction(g, x, weight_decay, group["maximize"])


class Adamax(_AdamFamily):
    """Adam with the infinity norm: m = lerp(m, g, 1-b1); u = max(b2 u, |g| + eps); p -= lr/(1-b1^t) * m / u."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach=None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ):
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        beta1, beta2 = group["betas"]
        x = p.array
        xp = array_module(x)
        self._moments(x, state, ("exp_inf",))
        state["step"] += 1
        g = self._decay(x, g, group)
        m, u = state["exp_avg"], state["exp_inf"]
        tmp = xp.empty_like(x)
        _lerp_(m, g, 1 - beta1, tmp)
        u *= beta2
        xp.maximum(u, xp.add(xp.abs(g, out=tmp), group["eps"], out=tmp), out=u)
        clr = group["lr"] / (1 - beta1 ** state["step"])
        delta = m * -clr
        delta /= u
        x += delta


class NAdam(_AdamFamily):
    """Adam with Nesterov momentum, whose mu_t = b1 (1 - 0.96^(t psi) / 2) warms up (Dozat 2016)."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach=None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ):
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        Adam._check_hyperparameters(self, group)
        self._check_nonnegative(group, "momentum_decay", "momentum_decay value")

    def _update(self, p, g, state, group):
        lr, (beta1, beta2), psi = group["lr"], group["betas"], group["momentum_decay"]
        x = p.array
        xp = array_module(x)
        if not state:
            self._moments(x, state, ("exp_avg_sq",))
            state["mu_product"] = 1.0  # the product of all mu_t so far
        state["step"] += 1
        step = state["step"]
        g = self._decay(x, g, group)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
        # NOTE: PyTorch keeps the product in a float32 tensor (its scalar dtype) and multiplies in float32
        mu_product = state["mu_product"] = float(np.float32(state["mu_product"]) * np.float32(mu))
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp = _scaled(g, 1 - beta2)
        tmp *= g
        v *= beta2
        v += tmp
        _lerp_(m, g, 1 - beta1, tmp)
        denom = xp.sqrt(v / (1 - beta2**step))
        denom += group["eps"]
        x += g * (-lr * (1.0 - mu) / (1.0 - mu_product)) / denom
        x += m * (-lr * mu_next / (1.0 - mu_product * mu_next)) / denom


class RAdam(_AdamFamily):
    """Adam whose adaptive step is switched on, and rectified, once the variance estimate is reliable (rho_t > 5)."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach=None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ):
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _update(self, p, g, state, group):
        lr, (beta1, beta2) = group["lr"], group["betas"]
        x = p.array
        xp = array_module(x)
        self._moments(x, state, ("exp_avg_sq",))
        state["step"] += 1
        step = state["step"]
        g = self._decay(x, g, group)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp = _scaled(g, 1 - beta2)
        tmp *= g
        v *= beta2
        v += tmp
        _lerp_(m, g, 1 - beta1, tmp)
        bias_correction2 = 1 - beta2**step
        update = m / (1 - beta1**step) * lr  # the bias-corrected first moment, times lr
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t > 5.0:
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            adaptive = bias_correction2**0.5 / (xp.sqrt(v) + group["eps"])
            update = update * adaptive * rect
        x -= update
