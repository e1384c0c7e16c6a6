"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay."""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import array_module
from ..compiled import kernels
from ..runtime import elementwise, scratch
from ..tensor import Tensor
from .optimizer import Optimizer, _direction

# parameters of at least this many values take the compiled one-pass update: on smaller ones NumPy's passes cost
# little, and a small net (the digits MLP of `toynn train`) then never pays numba's import (~1 s) at all
FUSED_MIN_SIZE = 1 << 16


class SGD(Optimizer):
    """d = ±g + wd*p; b = mu*b + (1-dampening)*d (b_1 = d); d = d + mu*b if nesterov else b; p -= lr*d."""

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ):
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group):
        self._check_nonnegative(group, "lr", "learning rate")
        self._check_nonnegative(group, "momentum", "momentum value")
        self._check_nonnegative(group, "weight_decay", "weight_decay value")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "SGD: Nesterov momentum requires a momentum and zero dampening; "
                f"got momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _update(self, p, g, state, group):
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        x = p.array
        xp = array_module(x)
        d = _direction(g, x, group["weight_decay"], group["maximize"])
        owned = d is not g  # d is our scratch array, free to overwrite
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is not None and _fused(x, d, buf, lr, momentum, dampening, group["nesterov"]):
                return
            if buf is None:
                buf = state["momentum_buffer"] = d if owned else d.copy()
            else:
                buf *= momentum
                buf += d if dampening == 0 else d * (1 - dampening)
            if group["nesterov"]:
                lookahead = buf * momentum  # d + momentum * b, as PyTorch's grad.add(buf, alpha=momentum)
                lookahead += d
                d, owned = lookahead, True
            else:
                d, owned = buf, False  # NOTE: d is the buffer now, so it must not be scaled in place
        if not owned:  # NOTE: lr * d goes to a scratch array kept between steps, not a new one per parameter
            d = xp.multiply(d, lr, out=scratch(xp, "optim.step", d.shape, d.dtype))
        else:
            d *= lr
        x -= d


def _fused(x, d, buf, lr, momentum, dampening, nesterov) -> bool:
    """The momentum update in one pass of the compiled kernel (x, d and buf each read once, x and buf written once),
    split across threads for big parameters; False (nothing done) where it does not apply.

    NOTE: NumPy's path passes over the data four times (buf *= m, buf += d, lr * buf, x -= ...): for the MLP's
    784x512 weight that was most of the step's time outside the products.
    """
    if x.size < FUSED_MIN_SIZE:
        return False
    k = kernels(array_module(x))
    if k is None or not (x.flags.c_contiguous and d.flags.c_contiguous and buf.flags.c_contiguous) or x.ndim == 0:
        return False
    xf, df, bf = x.reshape(-1), d.reshape(-1), buf.reshape(-1)
    # NOTE: the numbers in x's dtype, as NumPy's weak Python scalars: float64 ones would compute in float64
    lr, momentum, dampening = (x.dtype.type(v) for v in (lr, momentum, dampening))
    elementwise(lambda s: k.sgd_momentum(xf[s], df[s], bf[s], lr, momentum, dampening, bool(nesterov)), xf)
    return True
