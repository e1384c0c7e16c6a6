"""Adam (with optional AMSGrad) and AdamW, whose weight decay is decoupled from the gradient."""

from __future__ import annotations

from collections.abc import Iterable

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
