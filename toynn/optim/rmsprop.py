"""RMSprop: steps scaled by a running root mean square of the gradient; optional momentum and centering."""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import array_module
from ..tensor import Tensor
from .optimizer import Optimizer, _direction, _lerp_, _scaled


class RMSprop(Optimizer):
    """v = a*v + (1-a)*g^2; s = sqrt(v - gbar^2 if centered else v) + eps; b = mu*b + g/s; p -= lr*b (or lr*g/s)."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ):
        defaults = dict(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        self._check_nonnegative(group, "lr", "learning rate")
        self._check_nonnegative(group, "eps", "epsilon value")
        self._check_nonnegative(group, "momentum", "momentum value")
        self._check_nonnegative(group, "weight_decay", "weight_decay value")
        self._check_nonnegative(group, "alpha", "alpha value")

    def _update(self, p, g, state, group):
        lr, alpha, momentum = group["lr"], group["alpha"], group["momentum"]
        x = p.array
        xp = array_module(x)
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(x)
            if momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(x)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(x)
        state["step"] += 1
        g = _direction(g, x, group["weight_decay"], group["maximize"])
        v = state["square_avg"]

        tmp = _scaled(g, 1 - alpha)  # (1-a)*g*g in PyTorch's addcmul order
        tmp *= g
        v *= alpha
        v += tmp
        if group["centered"]:
            g_avg = state["grad_avg"]
            _lerp_(g_avg, g, 1 - alpha, tmp)
            variance = xp.multiply(g_avg, g_avg, out=tmp)
            variance = xp.subtract(v, variance, out=tmp)  # v - gbar^2
            avg = xp.sqrt(variance, out=tmp)
        else:
            avg = xp.sqrt(v, out=tmp)
        avg += group["eps"]

        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += xp.divide(g, avg, out=avg)
            step = avg  # the scratch is free again: p -= lr * b without a new array
            step[...] = buf
            step *= lr
            x -= step
        else:
            delta = g * -lr  # PyTorch's addcdiv: p + (value * g) / avg
            delta /= avg
            x += delta
