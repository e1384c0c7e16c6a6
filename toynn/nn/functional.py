"""Stateless functions users call as F.name, in PyTorch's signatures.

Most are composites of toynn ops. Primitives live here only where they pay: Linear and
CrossEntropy are fused for speed (tests/test_losses.py keeps the composites as oracles);
BinaryCrossEntropy, BCEWithLogits and Step need rules of their own for stability or PyTorch's
numerics (log clamped at -100, log1p).
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import ops
from ..backend import array_module, to_device
from ..conv import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    interpolate,
    max_pool1d,
    max_pool2d,
    max_unpool1d,
    max_unpool2d,
)
from ..conv import pad_nd as pad  # F.pad takes PyTorch's modes: constant, reflect, replicate, circular
from ..creation import default_generator
from ..errors import ShapeError
from ..ops import flatten, sigmoid, tanh
from ..runtime import gemm
from ..tensor import Function, Tensor, no_grad

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "interpolate",
    "max_pool1d",
    "max_pool2d",
    "max_unpool1d",
    "max_unpool2d",
    "batch_norm",
    "dropout2d",
    "local_response_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "flatten",
    "heaviside",
    "leaky_relu",
    "linear",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "pad",
    "relu",
    "sigmoid",
    "softmax",
    "step",
    "tanh",
]

# ---------------------------------------------------------------------------------------------
# Argument helpers


def _const(value, like: Tensor):
    """value as a raw array in like's dtype and device (weights of losses: constants, not differentiated)."""
    if value is None:
        return None
    array = value.array if isinstance(value, Tensor) else array_module(value).asarray(value)
    return to_device(array, like.device).astype(like.dtype, copy=False)


def _reduction(op: str, reduction: str, size_average=None, reduce=None) -> str:
    """The reduction, mapping PyTorch's deprecated size_average/reduce arguments the way it does."""
    if size_average is not None or reduce is not None:
        warnings.warn("size_average and reduce args will be deprecated, please use reduction= instead", stacklevel=3)
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else ("mean" if size_average else "sum")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none'; got {reduction!r}")
    return reduction


def _reduce(loss, reduction: str):
    """Apply a reduction to an array of per-element losses."""
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _check_float(op: str, name: str, x: Tensor, like: Tensor | None = None, like_name: str = "input") -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be floating point; got {x.dtype} (convert it with .float())")
    if like is not None and x.dtype != like.dtype:
        raise TypeError(f"{op}: {name} is {x.dtype} but {like_name} is {like.dtype}; convert it with .to({like.dtype})")


# ---------------------------------------------------------------------------------------------
# Linear


class Affine(Function):
    """y = x @ w.T + b in one node. x (..., in), w (out, in), b (out,) -> (..., out)."""

    def forward(self, x, w, b=None):
        self.x, self.w = x, w
        x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])  # (N, in), N = product of batch dims
        y = gemm(x2, w.T)  # (N, out); BLAS reads w.T as a transposed view, no copy; rows split across threads
        if b is not None:
            y += b
        return y if x.ndim == 2 else y.reshape(*x.shape[:-1], w.shape[0])

    def backward(self, g):
        need = self.needs_input_grad
        g2 = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])  # (N, out)
        gx = _gemm(g2, self.w).reshape(self.x.shape) if need[0] else None
        x2 = self.x.reshape(-1, self.x.shape[-1])  # (N, in)
        if not need[1]:
            gw = None
        elif x2.shape[0] == 1:  # one sample: a broadcast outer product beats BLAS's K=1 GEMM
            gw = g2.T * x2  # (out, 1) * (1, in)
        else:
            gw = _gemm(g2.T, x2)  # (out, in)
        gb = array_module(g2).sum(g2, axis=0) if len(need) > 2 and need[2] else None
        return gx, gw, gb

    def jvp(self, dx, dw, db=None):  # bilinear in (x, w), linear in b; no product of a missing (zero) tangent
        t = self.has_tangent
        dy = (dx @ self.w.T if t[0] else 0) + (self.x @ dw.T if t[1] else 0)  # (..., out)
        return dy + db if db is not None and t[2] else dy


def _gemm(a, b):
    """a @ b: the threaded GEMM on raw arrays; on Tensors (a backward that records) the matmul op."""
    return ops.matmul(a, b) if isinstance(a, Tensor) or isinstance(b, Tensor) else gemm(a, b)


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = input @ weight.T + bias. input (..., in), weight (out, in), bias (out,) -> (..., out)."""
    if weight.ndim != 2:
        raise ShapeError(f"linear: weight must be 2-D (out_features, in_features); got shape {weight.shape}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        n = input.shape[-1] if input.ndim else 0
        raise ShapeError(
            f"linear: x has {n} features (x.shape={input.shape}) but weight expects {weight.shape[1]} "
            f"(weight.shape={weight.shape})"
        )
    _check_float("linear", "weight", weight)
    _check_float("linear", "x", input, weight, "weight")
    if bias is None:
        return Affine.apply(input, weight)
    if bias.shape != (weight.shape[0],):
        raise ShapeError(
            f"linear: bias must have shape ({weight.shape[0]},) for weight {weight.shape}; got {bias.shape}"
        )
    _check_float("linear", "bias", bias, weight, "weight")
    return Affine.apply(input, weight, bias)


# ---------------------------------------------------------------------------------------------
# Activations


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0), elementwise; gradient 0 at 0. `inplace` is accepted for PyTorch's signature only."""
    return ops.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x, elementwise (gradient negative_slope at 0, as in PyTorch)."""
    return ops.where(input > 0, input, input * negative_slope)


class Step(Function):
    """y = 1 where x > 0, `at_zero` where x == 0, else 0 (Heaviside). Its derivative is 0 wherever it exists."""

    piecewise_linear = True  # see Function: create_graph goes through its backward and jvp

    def forward(self, x, *, at_zero):
        y = (x > 0).astype(x.dtype)
        if at_zero is not None:
            y = array_module(x).where(x == 0, at_zero, y)
        return y

    def backward(self, g):  # zero, not None: a perceptron's graph still runs backward, it just learns nothing
        return array_module(g).zeros_like(g)

    def jvp(self, dx):
        return array_module(dx).zeros_like(dx)


def step(input: Tensor) -> Tensor:
    """The perceptron's step: 1 where x > 0 else 0, same shape; its gradient is zero."""
    _check_float("step", "input", input)
    return Step.apply(input, at_zero=None)


def heaviside(input: Tensor, values) -> Tensor:
    """torch.heaviside: 0 where x < 0, `values` where x == 0, 1 where x > 0; zero gradient."""
    _check_float("heaviside", "input", input)
    at_zero = _const(values, input)
    if at_zero is not None and np.broadcast_shapes(at_zero.shape, input.shape) != input.shape:
        raise ShapeError(f"heaviside: values of shape {at_zero.shape} do not broadcast to input {input.shape}")
    return Step.apply(input, at_zero=at_zero)


def _softmax_dim(op: str, ndim: int) -> int:
    warnings.warn(
        f"Implicit dimension choice for {op} has been deprecated. Change the call to include dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x), dim), stable at any magnitude; same shape as input."""
    if dtype is not None:
        input = input.to(dtype)
    return ops.softmax(input, _softmax_dim("softmax", input.ndim) if dim is None else dim)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """x - logsumexp(x, dim), stable at any magnitude; same shape as input."""
    if dtype is not None:
        input = input.to(dtype)
    return ops.log_softmax(input, _softmax_dim("log_softmax", input.ndim) if dim is None else dim)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout); x if not training."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    xp = array_module(input.array)
    if p == 1.0:
        mask = xp.zeros(input.shape, dtype=input.dtype)
    else:
        keep = default_generator().random(input.shape, dtype=np.float32) >= p  # float32 draws: half the cost
        mask = to_device(keep.astype(input.dtype) * input.dtype.type(1.0 / (1.0 - p)), input.device)
    return input * Tensor._wrap(mask)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels with probability p, scaling the rest by 1/(1-p). (N, C, H, W) or (C, H, W)."""
    if input.ndim not in (3, 4):
        raise ShapeError(f"dropout2d: expected a 3-D or 4-D input (N, C, H, W); got shape {input.shape}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    shape = input.shape[:-2] + (1, 1)  # one draw per (sample, channel), broadcast over the plane
    keep = default_generator().random(shape, dtype=np.float32) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return input * Tensor._wrap(to_device(keep.astype(input.dtype) * input.dtype.type(scale), input.device))


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias per channel (dim 1); batch statistics when training.

    In training the running statistics are updated in place: r = (1 - momentum) r + momentum s, with the
    unbiased batch variance, as in PyTorch. input (N, C, *) -> (N, C, *).
    """
    if input.ndim < 2:
        raise ShapeError(f"batch_norm: expected an input of at least 2 dims (N, C, ...); got shape {input.shape}")
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (C,):
            raise ShapeError(f"batch_norm: {name} must have shape ({C},) for input {input.shape}; got {t.shape}")
    axes = (0, *range(2, input.ndim))
    shape = (1, C) + (1,) * (input.ndim - 2)  # per-channel values broadcast over N and the spatial dims
    if training or running_mean is None:
        n = input.array.size // C
        if n <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training; got input {input.shape}"
            )
        mean = input.mean(axes, keepdim=True)
        centered = input - mean
        var = (centered * centered).mean(axes, keepdim=True)
        if training and running_mean is not None:
            with no_grad():  # NOTE: statistics, not part of the graph
                running_mean.array *= 1 - momentum
                running_mean.array += momentum * mean.array.reshape(C)
                running_var.array *= 1 - momentum
                running_var.array += momentum * var.array.reshape(C) * (n / (n - 1))
    else:
        centered = input - running_mean.reshape(shape)
        var = running_var.reshape(shape)
    out = centered / (var + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """AlexNet's normalisation across channels: x / (k + alpha/size * sum of x^2 over `size` neighbours)^beta.

    The window around channel c spans c - size//2 .. c + (size-1)//2, zero-padded, as in PyTorch. (N, C, *).
    """
    if input.ndim < 3:
        raise ShapeError(f"local_response_norm: expected an input of 3 or more dims (N, C, ...); got {input.shape}")
    C = input.shape[1]
    sq = input * input
    pads = [0, 0] * (input.ndim - 2) + [size // 2, (size - 1) // 2]  # F.pad order: last dim first, channels last
    padded = pad(sq, tuple(pads))
    window = padded[:, 0:C]
    for i in range(1, size):  # a loop over the window's taps, not over pixels
        window = window + padded[:, i : i + C]
    return input / (window * (alpha / size) + k) ** beta


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Class indices (...) -> int64 (..., num_classes) with a 1 at each index; num_classes=-1 means max + 1."""
    if tensor.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected class indices of an integer dtype; got {tensor.dtype}")
    t = tensor.array
    if t.size and int(t.min()) < 0:
        raise ValueError(f"one_hot: class values must be non-negative; got {int(t.min())}")
    if num_classes == -1:
        num_classes = int(t.max()) + 1 if t.size else 0
    elif t.size and int(t.max()) >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes={num_classes}; got {int(t.max())}")
    xp = array_module(t)
    return Tensor._wrap((t[..., None] == xp.arange(num_classes)).astype(np.int64))


# ---------------------------------------------------------------------------------------------
# Losses from class indices: cross-entropy (fused primitive) and nll (composite)


def _class_target(op: str, input: Tensor, target: Tensor, probs_ok: bool) -> str:
    """'indices' or 'probs' for a target that fits input (N, C, d...) or (C,); else a ShapeError."""
    if input.ndim == 0:
        raise ShapeError(f"{op}: input must have a class dimension (N, C, ...) or (C,); got a 0-d tensor")
    _check_float(op, "input", input)
    index_shape = (input.shape[0], *input.shape[2:]) if input.ndim > 1 else ()
    if target.dtype.kind in "iu" and target.shape == index_shape:
        return "indices"
    if probs_ok and target.dtype.kind == "f" and target.shape == input.shape:
        return "probs"
    expected = f"class indices of shape {index_shape}"
    if probs_ok:
        expected += f" (integers) or class probabilities of shape {input.shape} (floating point)"
    hint = ""
    if target.dtype.kind == "f" and target.shape == index_shape:
        hint = "; convert class indices with target.long()"
    elif target.dtype.kind in "iub" and target.shape == input.shape:
        hint = "; one-hot targets must be floating point (target.float()), or pass class indices target.argmax(1)"
    raise ShapeError(
        f"{op}: target must be {expected} for input {input.shape}; got {target.shape} {target.dtype}{hint}"
    )


def _check_classes(op: str, t, C: int, ignore_index: int, input_shape: tuple) -> None:
    """Every class index in [0, C) or equal to ignore_index."""
    if t.size == 0 or (int(t.min()) >= 0 and int(t.max()) < C):
        return
    bad = ((t < 0) | (t >= C)) & (t != ignore_index)
    if bad.any():
        pos = tuple(int(i) for i in array_module(t).argwhere(bad)[0])
        raise IndexError(
            f"{op}: target {int(t[pos])} at index {pos} is out of range [0, {C}) for input {input_shape} "
            f"(ignore_index={ignore_index})"
        )


def _check_class_weight(op: str, weight, C: int) -> None:
    if weight is not None and tuple(weight.shape) != (C,):
        raise ShapeError(f"{op}: weight must have one entry per class, shape ({C},); got {tuple(weight.shape)}")


class CrossEntropy(Function):
    """Fused log_softmax + nll_loss from class indices. x (N, C, d...), target (N, d...) -> loss.

    Per element: (1 - eps) * w[t] * -log p[t] + eps / C * sum_c w[c] * -log p[c], ignored targets 0;
    'mean' divides by the sum of w[t] over kept elements (PyTorch's weighted mean).
    """

    def forward(self, x, *, target, weight, ignore_index, reduction, label_smoothing):
        xp = array_module(x)
        keep = target != ignore_index  # (N, d...)
        self.keep = None if keep.all() else keep
        if self.keep is not None:
            target = xp.where(keep, target, 0)  # any valid class; its weight is zeroed below
        w = None if weight is None else weight[target]  # (N, d...) the weight of each element's class
        if self.keep is not None:
            w = keep.astype(x.dtype) if w is None else w * keep
        z = x - x.max(axis=1, keepdims=True)  # <= 0: exp cannot overflow, even at logits of 1e4
        e = xp.exp(z)
        s = e.sum(axis=1, keepdims=True)  # (N, 1, d...), >= 1
        log_s = xp.log(s)
        self.t = target[:, None]  # (N, 1, d...): the class index along dim 1
        self.p = e / s  # softmax, for backward and jvp
        self.w, self.weight, self.eps, self.reduction = w, weight, label_smoothing, reduction
        self.n = target.size if w is None else w.sum()  # the mean's denominator
        nll = log_s - xp.take_along_axis(z, self.t, axis=1)  # -log p[target], (N, 1, d...)
        smooth = None
        if label_smoothing:
            smooth = -((z - log_s) * self._class_weight()).sum(axis=1, keepdims=True)  # (N, 1, d...)
        with np.errstate(invalid="ignore", divide="ignore"):  # every target ignored: nan, as in PyTorch
            return self._combine(nll, smooth)

    def _class_weight(self):
        """The class weights shaped (1, C, 1...) to broadcast along dim 1, or 1."""
        if self.weight is None:
            return 1
        return self.weight.reshape(1, -1, *[1] * (self.p.ndim - 2))

    def _combine(self, nll, smooth):
        """Weight, smooth and reduce per-element terms (N, 1, d...): the forward, and the jvp (it is linear)."""
        loss = nll if self.w is None else nll * self.w[:, None]
        if self.eps:
            keep = 1 if self.keep is None else self.keep[:, None]
            loss = loss * (1 - self.eps) + smooth * keep * (self.eps / self.p.shape[1])
        loss = loss[:, 0]  # (N, d...)
        if self.reduction == "mean":
            return array_module(loss).asarray(loss.sum() / self.n)
        return loss.sum() if self.reduction == "sum" else loss

    def backward(self, g):  # d(-log p[t]) / dx = p - onehot(t)
        coef = g / self.n if self.reduction == "mean" else g  # () or (N, d...)
        if self.reduction == "none":
            coef = coef[:, None]  # (N, 1, d...)
        a = coef * (1 - self.eps) if self.w is None else coef * (1 - self.eps) * self.w[:, None]
        C = self.p.shape[1]
        onehot = array_module(self.t).arange(C).reshape(C, *[1] * (self.p.ndim - 2)) == self.t  # (N, C, d...)
        gx = (self.p - onehot) * a
        if self.eps:  # d(-sum_c w[c] log p[c]) / dx = p * sum(w) - w
            b = coef * (self.eps / C) * (1 if self.keep is None else self.keep[:, None])
            wsum = C if self.weight is None else self.weight.sum()
            gx = gx + b * (self.p * wsum - self._class_weight())
        return gx

    def derived(self, x):
        """For a backward that records: the softmax as a Tensor of the logits, so that p's own derivative counts."""
        return {"p": ops.softmax(x, 1)}

    def jvp(self, dx):
        xp = array_module(dx)
        dlogp = dx - (self.p * dx).sum(axis=1, keepdims=True)  # tangent of log_softmax, (N, C, d...)
        dnll = -xp.take_along_axis(dlogp, self.t, axis=1)
        dsmooth = -(dlogp * self._class_weight()).sum(axis=1, keepdims=True) if self.eps else None
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._combine(dnll, dsmooth)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of logits (N, C, d...) or (C,) and class indices (N, d...) or probabilities -> loss."""
    reduction = _reduction("cross_entropy", reduction, size_average, reduce)
    kind = _class_target("cross_entropy", input, target, probs_ok=True)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1]; got {label_smoothing}")
    C = input.shape[1] if input.ndim > 1 else input.shape[0]
    _check_class_weight("cross_entropy", weight, C)
    w = _const(weight, input)
    if kind == "probs":
        return _cross_entropy_probs(input, target, w, ignore_index, reduction, label_smoothing)
    if input.ndim == 1:  # one sample: (C,) with a 0-d target
        loss = cross_entropy(
            input.unsqueeze(0), target.reshape(1), weight, None, ignore_index, None, reduction, label_smoothing
        )
        return loss.reshape(()) if reduction == "none" else loss
    _check_classes("cross_entropy", target.array, C, ignore_index, input.shape)
    return CrossEntropy.apply(
        input,
        target=target.array,
        weight=w,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=label_smoothing,
    )


def _cross_entropy_probs(input, target, weight, ignore_index, reduction, eps):
    """-sum_c w[c] q[c] log p[c] with q the (smoothed) target probabilities; 'mean' divides by N * d..."""
    if ignore_index != -100:
        raise ValueError("cross_entropy: ignore_index is not supported for class-probability targets")
    _check_float("cross_entropy", "target", target, input)
    dim = 1 if input.ndim > 1 else 0
    C = input.shape[dim]
    if eps:
        target = target * (1 - eps) + eps / C
    terms = ops.log_softmax(input, dim) * target  # (N, C, d...)
    if weight is not None:
        terms = terms * Tensor._wrap(weight.reshape(C, *[1] * (input.ndim - dim - 1)))
    loss = -ops.sum(terms, dim)  # (N, d...)
    return ops.mean(loss) if reduction == "mean" else ops.sum(loss) if reduction == "sum" else loss


def _grid(xp, shape: tuple) -> list:
    """Index arrays that broadcast to `shape`, one per dimension (np.indices(sparse=True))."""
    return [xp.arange(n).reshape(-1, *[1] * (len(shape) - i - 1)) for i, n in enumerate(shape)]


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """-w[t] * input[n, t[n], ...] for log-probabilities (N, C, d...) or (C,) and class indices (N, d...) -> loss."""
    reduction = _reduction("nll_loss", reduction, size_average, reduce)
    _class_target("nll_loss", input, target, probs_ok=False)
    if input.ndim == 1:
        loss = nll_loss(input.unsqueeze(0), target.reshape(1), weight, None, ignore_index, None, reduction)
        return loss.reshape(()) if reduction == "none" else loss
    C = input.shape[1]
    _check_class_weight("nll_loss", weight, C)
    t = target.array
    _check_classes("nll_loss", t, C, ignore_index, input.shape)
    xp = array_module(t)
    keep = t != ignore_index
    t = xp.where(keep, t, 0)  # ignored elements pick class 0 with weight 0
    w = keep.astype(input.dtype) if weight is None else _const(weight, input)[t] * keep  # (N, d...)
    n, *rest = _grid(xp, t.shape)
    picked = ops.getitem(input, (n, t, *rest))  # input[n, t[n, ...], ...], (N, d...)
    loss = -picked * Tensor._wrap(w)
    if reduction == "mean":  # PyTorch's weighted mean: divide by the weights of the kept targets
        with np.errstate(invalid="ignore", divide="ignore"):
            return ops.sum(loss) / Tensor._wrap(xp.asarray(w.sum(), dtype=input.dtype))
    return ops.sum(loss) if reduction == "sum" else loss


# ---------------------------------------------------------------------------------------------
# Regression and binary losses


def mse_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean", weight=None
) -> Tensor:
    """Quadratic loss (input - target)^2, optionally weighted per element -> scalar, or input's shape."""
    reduction = _reduction("mse_loss", reduction, size_average, reduce)
    if target.shape != input.shape:
        warnings.warn(
            f"mse_loss: target size {target.shape} differs from input size {input.shape}; they will broadcast, "
            "which is likely wrong. Make them the same size.",
            stacklevel=2,
        )
    d = input - target
    loss = d * d
    if weight is None:
        return ops.mean(loss) if reduction == "mean" else ops.sum(loss) if reduction == "sum" else loss
    if weight.shape != input.shape:
        raise ShapeError(f"mse_loss: weight must have input's shape {input.shape}; got {weight.shape}")
    loss = loss * weight
    return ops.sum(loss) / ops.sum(weight) if reduction == "mean" else ops.sum(loss) if reduction == "sum" else loss


def _check_binary(op: str, input: Tensor, target: Tensor, **weights) -> None:
    _check_float(op, "input", input)
    _check_float(op, "target", target, input)
    if target.shape != input.shape:
        raise ShapeError(f"{op}: target must have input's shape {input.shape}; got {target.shape}")
    for name, w in weights.items():
        if w is None:
            continue
        try:
            ok = np.broadcast_shapes(tuple(w.shape), input.shape) == input.shape
        except ValueError:
            ok = False
        if not ok:
            raise ShapeError(f"{op}: {name} of shape {tuple(w.shape)} does not broadcast to input {input.shape}")


_BCE_EPS = float(np.float32(1e-12))  # PyTorch's EPSILON is a float constant, even for double


class BinaryCrossEntropy(Function):
    """-w (t log x + (1 - t) log(1 - x)), each log clamped at -100 as in PyTorch. x, t same shape."""

    once_differentiable = True  # its backward runs on raw arrays only (no second derivative yet)

    def forward(self, x, t, *, weight, reduction):
        xp = array_module(x)
        with np.errstate(divide="ignore"):  # log(0) = -inf, then clamped
            loss = (t - 1) * xp.maximum(xp.log1p(-x), -100) - t * xp.maximum(xp.log(x), -100)
        self.x, self.t, self.weight, self.reduction = x, t, weight, reduction
        return _reduce(loss if weight is None else loss * weight, reduction)

    def _scale(self, g):
        g = g / self.x.size if self.reduction == "mean" else g
        return g if self.weight is None else g * self.weight

    def backward(self, g):  # PyTorch's rules: (x - t) / max(x (1 - x), 1e-12) and -logit(x)
        xp = array_module(g)
        g = self._scale(g)
        gx = g * (self.x - self.t) / xp.maximum((1 - self.x) * self.x, _BCE_EPS) if self.needs_input_grad[0] else None
        gt = None
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gt = g * (xp.log1p(-self.x) - xp.log(self.x))
        return gx, gt

    def jvp(self, dx, dt):  # the rules of backward
        xp = array_module(dx)
        dloss = (self.x - self.t) / xp.maximum((1 - self.x) * self.x, _BCE_EPS) * dx
        with np.errstate(divide="ignore", invalid="ignore"):  # x at 0 or 1: -logit(x) is infinite, dt there is 0
            dloss = dloss + xp.where(dt == 0, 0, (xp.log1p(-self.x) - xp.log(self.x)) * dt)
        return _reduce(dloss if self.weight is None else dloss * self.weight, self.reduction)


def binary_cross_entropy(
    input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None, reduce=None, reduction="mean"
) -> Tensor:
    """Binary cross-entropy of probabilities input in [0, 1] -> scalar, or input's shape for 'none'."""
    reduction = _reduction("binary_cross_entropy", reduction, size_average, reduce)
    _check_binary("binary_cross_entropy", input, target, weight=weight)
    x = input.array
    if x.size and (float(x.min()) < 0 or float(x.max()) > 1):
        raise ValueError(
            f"binary_cross_entropy: input must be probabilities in [0, 1]; got values in [{float(x.min()):.4g}, "
            f"{float(x.max()):.4g}]; for logits use binary_cross_entropy_with_logits"
        )
    t = target.array
    if t.size and (float(t.min()) < 0 or float(t.max()) > 1):
        raise ValueError(
            f"binary_cross_entropy: target must be in [0, 1]; got values in [{float(t.min()):.4g}, "
            f"{float(t.max()):.4g}]"
        )
    return BinaryCrossEntropy.apply(input, target, weight=_const(weight, input), reduction=reduction)


class BCEWithLogits(Function):
    """(1 - t) x - (1 + (pw - 1) t) log sigmoid(x), times w; log sigmoid without overflow. x, t same shape."""

    once_differentiable = True  # its backward runs on raw arrays only (no second derivative yet)

    def forward(self, x, t, *, weight, pos_weight, reduction):
        xp = array_module(x)
        self.log_sig = -(xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x))))  # log sigmoid(x), stable
        self.lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * t  # weight of the positive term
        loss = (1 - t) * x - self.lw * self.log_sig
        self.x, self.t, self.weight, self.pos_weight, self.reduction = x, t, weight, pos_weight, reduction
        return _reduce(loss if weight is None else loss * weight, reduction)

    def _scale(self, g):
        g = g / self.x.size if self.reduction == "mean" else g
        return g if self.weight is None else g * self.weight

    def _derivatives(self):
        """d loss / dx and d loss / dt per element."""
        sig = array_module(self.x).exp(self.log_sig)
        if self.pos_weight is None:  # sigmoid(x) - t: no cancellation where sigmoid(x) is tiny
            return sig - self.t, -self.x
        lx = self.lw * sig - self.pos_weight * self.t
        return lx, -self.x - (self.pos_weight - 1) * self.log_sig

    def backward(self, g):
        g = self._scale(g)
        lx, lt = self._derivatives()
        return (g * lx if self.needs_input_grad[0] else None), (g * lt if self.needs_input_grad[1] else None)

    def jvp(self, dx, dt):
        lx, lt = self._derivatives()
        dloss = lx * dx + lt * dt
        return _reduce(dloss if self.weight is None else dloss * self.weight, self.reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Sigmoid + binary cross-entropy from logits, stable at any magnitude -> scalar, or input's shape."""
    op = "binary_cross_entropy_with_logits"
    reduction = _reduction(op, reduction, size_average, reduce)
    _check_binary(op, input, target, weight=weight, pos_weight=pos_weight)
    return BCEWithLogits.apply(
        input, target, weight=_const(weight, input), pos_weight=_const(pos_weight, input), reduction=reduction
    )
