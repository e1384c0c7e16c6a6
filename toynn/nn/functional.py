"""Stateless functions users call as F.name, in PyTorch's signatures.

Most are composites of toynn ops. Primitives live here only where they pay: Linear and
CrossEntropy are fused for speed (tests/test_losses.py keeps the composites as oracles);
BinaryCrossEntropy, BCEWithLogits and Step need rules of their own for stability or PyTorch's
numerics (log clamped at -100, log1p).
"""

from __future__ import annotations

import math
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
from ..conv.arithmetic import tensors
from ..creation import default_generator
from ..errors import ShapeError
from ..ops import sigmoid, tanh
from ..runtime import gemm
from ..tensor import Function, Tensor, no_grad

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "alpha_dropout",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "celu",
    "conv1d",
    "conv2d",
    "conv_transpose1d",
    "conv_transpose2d",
    "cosine_embedding_loss",
    "cosine_similarity",
    "cross_entropy",
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "elu",
    "embedding",
    "flatten",
    "gaussian_nll_loss",
    "gelu",
    "glu",
    "group_norm",
    "hardshrink",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "heaviside",
    "hinge_embedding_loss",
    "huber_loss",
    "instance_norm",
    "interpolate",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "local_response_norm",
    "log_softmax",
    "logsigmoid",
    "margin_ranking_loss",
    "max_pool1d",
    "max_pool2d",
    "max_unpool1d",
    "max_unpool2d",
    "mish",
    "mse_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "pairwise_distance",
    "pixel_shuffle",
    "pixel_unshuffle",
    "poisson_nll_loss",
    "prelu",
    "relu",
    "relu6",
    "rms_norm",
    "rrelu",
    "selu",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "soft_margin_loss",
    "softmax",
    "softmin",
    "softplus",
    "softshrink",
    "softsign",
    "step",
    "tanh",
    "tanhshrink",
    "threshold",
    "triplet_margin_loss",
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
    input, weight, bias = tensors(input, weight, bias)
    if weight.ndim != 2:
        raise ShapeError(f"linear: weight must be 2-D (out_features, in_features); got shape {tuple(weight.shape)}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        n = input.shape[-1] if input.ndim else 0
        raise ShapeError(
            f"linear: x has {n} features (x.shape={tuple(input.shape)}) but weight expects {weight.shape[1]} "
            f"(weight.shape={tuple(weight.shape)})"
        )
    _check_float("linear", "weight", weight)
    _check_float("linear", "x", input, weight, "weight")
    if bias is None:
        return Affine.apply(input, weight)
    if bias.shape != (weight.shape[0],):
        raise ShapeError(
            f"linear: bias must have shape ({weight.shape[0]},) for weight {tuple(weight.shape)}; got "
            f"{tuple(bias.shape)}"
        )
    _check_float("linear", "bias", bias, weight, "weight")
    return Affine.apply(input, weight, bias)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one (torch.flatten)."""
    (input,) = tensors(input)
    return ops.flatten(input, start_dim, end_dim)


# ---------------------------------------------------------------------------------------------
# Activations


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0), elementwise; gradient 0 at 0. `inplace` is accepted for PyTorch's signature only."""
    (input,) = tensors(input)
    return ops.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope * x, elementwise (gradient negative_slope at 0, as in PyTorch)."""
    (input,) = tensors(input)
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
    (input,) = tensors(input)
    _check_float("step", "input", input)
    return Step.apply(input, at_zero=None)


def heaviside(input: Tensor, values) -> Tensor:
    """torch.heaviside: 0 where x < 0, `values` where x == 0, 1 where x > 0; zero gradient."""
    (input,) = tensors(input)
    _check_float("heaviside", "input", input)
    at_zero = _const(values, input)
    if at_zero is not None and np.broadcast_shapes(at_zero.shape, input.shape) != input.shape:
        raise ShapeError(
            f"heaviside: values of shape {tuple(at_zero.shape)} do not broadcast to input {tuple(input.shape)}"
        )
    return Step.apply(input, at_zero=at_zero)


def _softmax_dim(op: str, ndim: int) -> int:
    warnings.warn(
        f"Implicit dimension choice for {op} has been deprecated. Change the call to include dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x), dim), stable at any magnitude; same shape as input."""
    (input,) = tensors(input)
    if dtype is not None:
        input = input.to(dtype)
    return ops.softmax(input, _softmax_dim("softmax", input.ndim) if dim is None else dim)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """x - logsumexp(x, dim), stable at any magnitude; same shape as input."""
    (input,) = tensors(input)
    if dtype is not None:
        input = input.to(dtype)
    return ops.log_softmax(input, _softmax_dim("log_softmax", input.ndim) if dim is None else dim)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout); x if not training."""
    (input,) = tensors(input)
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
    (input,) = tensors(input)
    if input.ndim not in (3, 4):
        raise ShapeError(f"dropout2d: expected a 3-D or 4-D input (N, C, H, W); got shape {tuple(input.shape)}")
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
    input, running_mean, running_var, weight, bias = tensors(input, running_mean, running_var, weight, bias)
    if input.ndim < 2:
        raise ShapeError(
            f"batch_norm: expected an input of at least 2 dims (N, C, ...); got shape {tuple(input.shape)}"
        )
    C = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (C,):
            raise ShapeError(
                f"batch_norm: {name} must have shape ({C},) for input {tuple(input.shape)}; got {tuple(t.shape)}"
            )
    axes = (0, *range(2, input.ndim))
    shape = (1, C) + (1,) * (input.ndim - 2)  # per-channel values broadcast over N and the spatial dims
    if training or running_mean is None:
        n = input.array.size // C
        if n <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training; got input {tuple(input.shape)}"
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
    (input,) = tensors(input)
    if input.ndim < 3:
        raise ShapeError(
            f"local_response_norm: expected an input of 3 or more dims (N, C, ...); got {tuple(input.shape)}"
        )
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
    (tensor,) = tensors(tensor)
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
# More activations: composites of ops, except Softplus (log1p and PyTorch's threshold) and Erf (inside gelu)


def _erf_array(x):
    """erf elementwise on a raw array, to double precision: SciPy's (or cupyx's) when present, else two series."""
    xp = array_module(x)
    try:
        if xp is np:
            from scipy.special import erf
        else:
            from cupyx.scipy.special import erf
        return erf(x)
    except ImportError:
        return _erf_series(x)


def _erf_series(x):
    """erf without SciPy: 2/sqrt(pi) exp(-x^2) sum 2^n x^(2n+1) / (2n+1)!! for |x| < 3 (terms all positive, no
    cancellation), and 1 - erfc(x) from erfc's continued fraction beyond, evaluated bottom-up."""
    xp = array_module(x)
    a = xp.abs(x).astype(np.float64)
    s = xp.minimum(a, 3.0)  # (the series' share of the work stays bounded)
    term, total, s2 = s.copy(), s.copy(), 2 * s * s
    for n in range(1, 90):
        term *= s2 / (2 * n + 1)
        total += term
    small = total * xp.exp(-s * s) * (2 / math.sqrt(math.pi))
    b = xp.maximum(a, 3.0)
    frac = b.copy()
    for k in range(60, 0, -1):  # erfc(b) = exp(-b^2)/sqrt(pi) / (b + (1/2)/(b + 1/(b + (3/2)/(b + ...))))
        frac = b + (k / 2) / frac
    large = 1 - xp.exp(-b * b) / math.sqrt(math.pi) / frac
    return (xp.sign(x) * xp.where(a < 3.0, small, large)).astype(x.dtype, copy=False)


class Erf(Function):
    """y = erf(x); dy/dx = 2/sqrt(pi) exp(-x^2)."""

    def forward(self, x):
        self.x = x
        return _erf_array(x)

    def _slope(self):
        return (2 / math.sqrt(math.pi)) * array_module(self.x).exp(-self.x * self.x)

    def backward(self, g):
        return g * self._slope()

    def jvp(self, dx):
        return dx * self._slope()


def _erf(x: Tensor) -> Tensor:
    return Erf.apply(x)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) = x/2 (1 + erf(x/sqrt 2)); approximate='tanh': x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    (input,) = tensors(input)
    if approximate == "none":
        return input * 0.5 * (_erf(input * (1 / math.sqrt(2))) + 1)
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2 / math.pi)
        return input * 0.5 * (ops.tanh(inner) + 1)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh'; got {approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (swish)."""
    (input,) = tensors(input)
    return input * ops.sigmoid(input)


class Softplus(Function):
    """y = log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (PyTorch's rule); no overflow."""

    def forward(self, x, *, beta, threshold):
        xp = array_module(x)
        bx = x * beta
        self.x, self.beta, self.linear = x, beta, (bx > threshold if threshold is not None else None)
        y = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / beta  # log1p(exp(bx)), stable at any bx
        return y if self.linear is None else xp.where(self.linear, x, y)

    def _slope(self):  # sigmoid(beta x), 1 on the linear part; from x, so that a recording backward sees x
        xp = array_module(self.x)
        bx = self.x * self.beta
        e = xp.exp(-xp.abs(bx))
        s = xp.where(bx >= 0, 1 / (1 + e), e / (1 + e))
        return s if self.linear is None else xp.where(self.linear, 1, s)

    def backward(self, g):
        return g * self._slope()

    def jvp(self, dx):
        return dx * self._slope()


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, reverting to x where beta x > threshold."""
    (input,) = tensors(input)
    _check_float("softplus", "input", input)
    return Softplus.apply(input, beta=beta, threshold=threshold)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable at any magnitude."""
    (input,) = tensors(input)
    _check_float("logsigmoid", "input", input)
    return -Softplus.apply(-input, beta=1.0, threshold=None)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    (input,) = tensors(input)
    return input * ops.tanh(softplus(input))


def _exp_minus_one(x: Tensor) -> Tensor:
    """exp(x) - 1 for x <= 0, with x > 0 read as 0 so that the unused branch of a where cannot overflow."""
    return ops.exp(ops.where(x.array > 0, 0.0, x)) - 1


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha (exp(x) - 1)."""
    (input,) = tensors(input)
    return ops.where(input.array > 0, input, _exp_minus_one(input) * alpha)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al. (2017)."""
    (input,) = tensors(input)
    return ops.where(input.array > 0, input * _SELU_SCALE, _exp_minus_one(input) * (_SELU_ALPHA * _SELU_SCALE))


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x if x > 0 else alpha (exp(x / alpha) - 1)."""
    (input,) = tensors(input)
    return ops.where(input.array > 0, input, _exp_minus_one(input * (1 / alpha)) * alpha)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]; gradient 1 strictly inside, 0 elsewhere (PyTorch's rule, unlike clamp's)."""
    (input,) = tensors(input)
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val; got {min_val} > {max_val}")
    x = input.array
    inside = (x > min_val) & (x < max_val)
    return ops.where(inside, input, Tensor._wrap(array_module(x).clip(x, min_val, max_val)))


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between."""
    (input,) = tensors(input)
    return hardtanh(input + 3, 0.0, 6.0) * (1 / 6)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * hardsigmoid(x) (MobileNetV3)."""
    (input,) = tensors(input)
    return input * hardsigmoid(input)


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    (input,) = tensors(input)
    return input / (ops.abs(input) + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    (input,) = tensors(input)
    return input - ops.tanh(input)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    (input,) = tensors(input)
    if lambd < 0:
        raise ValueError(f"softshrink: lambda must be greater or equal to 0; got {lambd}")
    x = input.array
    return ops.where(x > lambd, input - lambd, ops.where(x < -lambd, input + lambd, 0.0))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    (input,) = tensors(input)
    x = input.array
    return ops.where((x > lambd) | (x < -lambd), input, 0.0)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value."""
    (input,) = tensors(input)
    return ops.where(input.array > threshold, input, value)


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False, inplace=False):
    """Leaky ReLU whose negative slope is drawn from U(lower, upper) per element in training, (lower+upper)/2 else."""
    (input,) = tensors(input)
    if not training:
        return leaky_relu(input, (lower + upper) / 2)
    slopes = default_generator().uniform(lower, upper, input.shape).astype(input.dtype)
    return ops.where(input.array >= 0, input, input * Tensor._wrap(to_device(slopes, input.device)))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x if x > 0 else weight * x, with one learned slope per channel (dim 1) or one for all."""
    input, weight = tensors(input, weight)
    if weight.ndim != 1 or (weight.shape[0] != 1 and (input.ndim < 2 or weight.shape[0] != input.shape[1])):
        channels = input.shape[1] if input.ndim >= 2 else 1
        raise ShapeError(
            f"prelu: weight must have 1 or {channels} entries (one per channel of input {tuple(input.shape)}); "
            f"got shape {tuple(weight.shape)}"
        )
    if input.ndim >= 2:
        weight = weight.reshape(-1, *[1] * (input.ndim - 2))  # (C, 1, ...): broadcast over the spatial dims
    return ops.where(input.array > 0, input, input * weight)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b) where a, b are the two halves of input along dim."""
    (input,) = tensors(input)
    if input.ndim == 0:
        raise ShapeError("glu: does not support scalars because halving size must be even")
    d = dim % input.ndim
    n = input.shape[d]
    if n % 2:
        raise ShapeError(
            f"glu: halving dimension must be even, but dimension {dim} of input {tuple(input.shape)} is {n}"
        )
    first = (slice(None),) * d + (slice(0, n // 2),)
    second = (slice(None),) * d + (slice(n // 2, n),)
    return input[first] * ops.sigmoid(input[second])


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(-x, dim): each slice along dim sums to 1, the smallest entry weighing most."""
    (input,) = tensors(input)
    if dtype is not None:
        input = input.to(dtype)
    return ops.softmax(-input, _softmax_dim("softmin", input.ndim) if dim is None else dim)


# ---------------------------------------------------------------------------------------------
# Normalisation over features, groups and instances; distances; embedding; pixel shuffle


def _normalized_dims(op: str, input: Tensor, normalized_shape) -> tuple[int, ...]:
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k :]) != shape:
        raise ShapeError(
            f"{op}: input of shape {tuple(input.shape)} does not end with normalized_shape {list(shape)} "
            f"(expected input of shape (*, {', '.join(map(str, shape))}))"
        )
    return tuple(range(input.ndim - k, input.ndim))


def _check_affine(op: str, shape: tuple, weight, bias) -> None:
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != tuple(shape):
            raise ShapeError(f"{op}: {name} must have shape {tuple(shape)}; got {tuple(t.shape)}")


def layer_norm(input: Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last len(normalized_shape) dims (biased var)."""
    input, weight, bias = tensors(input, weight, bias)
    dims = _normalized_dims("layer_norm", input, normalized_shape)
    _check_affine("layer_norm", input.shape[dims[0] :], weight, bias)
    mean = input.mean(dims, keepdim=True)
    centered = input - mean
    out = centered / ((centered * centered).mean(dims, keepdim=True) + eps).sqrt()
    if weight is not None:
        out = out * weight
    return out + bias if bias is not None else out


def rms_norm(input: Tensor, normalized_shape, weight=None, eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the last len(normalized_shape) dims; eps defaults to the dtype's."""
    input, weight = tensors(input, weight)
    dims = _normalized_dims("rms_norm", input, normalized_shape)
    _check_affine("rms_norm", input.shape[dims[0] :], weight, None)
    if eps is None:
        eps = float(np.finfo(input.dtype).eps)
    out = input / ((input * input).mean(dims, keepdim=True) + eps).sqrt()
    return out * weight if weight is not None else out


def group_norm(input: Tensor, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise each group of C/num_groups channels of each sample over its channels and positions. (N, C, *)."""
    input, weight, bias = tensors(input, weight, bias)
    if input.ndim < 2:
        raise ShapeError(
            f"group_norm: expected an input of at least 2 dims (N, C, ...); got shape {tuple(input.shape)}"
        )
    N, C = input.shape[0], input.shape[1]
    if num_groups <= 0 or C % num_groups:
        raise ValueError(f"group_norm: num_channels ({C}) must be divisible by num_groups ({num_groups})")
    _check_affine("group_norm", (C,), weight, bias)
    grouped = input.reshape(N, num_groups, -1)  # (N, G, C/G * spatial)
    mean = grouped.mean(2, keepdim=True)
    centered = grouped - mean
    out = (centered / ((centered * centered).mean(2, keepdim=True) + eps).sqrt()).reshape(input.shape)
    shape = (1, C) + (1,) * (input.ndim - 2)  # per-channel affine, broadcast over N and the positions
    if weight is not None:
        out = out * weight.reshape(shape)
    return out + bias.reshape(shape) if bias is not None else out


def instance_norm(
    input: Tensor,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel of each sample over its positions (N, C, *); running statistics as batch_norm's,
    averaged over the batch, when given and use_input_stats."""
    input, running_mean, running_var, weight, bias = tensors(input, running_mean, running_var, weight, bias)
    if input.ndim < 3:
        raise ShapeError(
            f"instance_norm: expected an input of at least 3 dims (N, C, ...); got shape {tuple(input.shape)}"
        )
    N, C = input.shape[0], input.shape[1]
    _check_affine("instance_norm", (C,), weight, bias)
    shape = (1, C) + (1,) * (input.ndim - 2)
    axes = tuple(range(2, input.ndim))
    if use_input_stats:
        n = math.prod(input.shape[2:])
        if n <= 1:
            raise ValueError(
                f"instance_norm: expected more than 1 spatial element when training; got input {tuple(input.shape)}"
            )
        mean = input.mean(axes, keepdim=True)  # (N, C, 1...)
        centered = input - mean
        var = (centered * centered).mean(axes, keepdim=True)
        if running_mean is not None:
            with no_grad():  # NOTE: statistics, not part of the graph
                running_mean.array *= 1 - momentum
                running_mean.array += momentum * mean.array.reshape(N, C).mean(0)
                running_var.array *= 1 - momentum
                running_var.array += momentum * var.array.reshape(N, C).mean(0) * (n / (n - 1))
    else:
        if running_mean is None or running_var is None:
            raise ValueError(
                "instance_norm: Expected running_mean and running_var to be defined when use_input_stats is false"
            )
        centered = input - running_mean.reshape(shape)
        var = running_var.reshape(shape)
    out = centered / (var + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    return out + bias.reshape(shape) if bias is not None else out


def _norm(x: Tensor, p: float, dim, keepdim: bool, floor: float = 0.0) -> Tensor:
    """max(||x||_p along dim, floor), differentiable without NaN at a zero vector (clamped before the root)."""
    if p == 2:
        s = (x * x).sum(dim, keepdim=keepdim)
    else:
        s = (ops.abs(x) ** p).sum(dim, keepdim=keepdim)
    if floor > 0:
        s = ops.where(s.array > floor**p, s, floor**p)
    return s.sqrt() if p == 2 else s ** (1.0 / p)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None) -> Tensor:
    """x / max(||x||_p, eps) along dim."""
    (input,) = tensors(input)
    if out is not None:
        raise ValueError("normalize: out= is not supported; use the returned tensor")
    return input / _norm(input, p, dim, True, eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1/max(||x1||, eps) * x2/max(||x2||, eps)) along dim, after broadcasting x1 and x2."""
    x1, x2 = tensors(x1, x2)
    return ((x1 / _norm(x1, 2, dim, True, eps)) * (x2 / _norm(x2, 2, dim, True, eps))).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p along the last dim."""
    x1, x2 = tensors(x1, x2)
    d = x1 - x2 + eps
    return _norm(d, p, -1, keepdim)


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """weight[input]: the rows of weight (num_embeddings, dim) picked by integer indices (*) -> (*, dim).

    The row padding_idx gets no gradient; max_norm renormalises the rows looked up, in place, as PyTorch does.
    """
    input, weight = tensors(input, weight)
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers (Long or Int); got {input.dtype}")
    if weight.ndim != 2:
        raise ShapeError(
            f"embedding: weight must be 2-D (num_embeddings, embedding_dim); got shape {tuple(weight.shape)}"
        )
    if sparse:
        raise ValueError("embedding: sparse gradients are not supported; use sparse=False")
    V = weight.shape[0]
    idx = input.array
    if idx.size and (int(idx.min()) < -V or int(idx.max()) >= V):
        bad = int(idx.max()) if int(idx.max()) >= V else int(idx.min())
        raise IndexError(f"embedding: index {bad} is out of range for {V} embeddings (weight {tuple(weight.shape)})")
    idx = idx % V  # negative indices count from the end, as in PyTorch
    if padding_idx is not None:
        if not -V <= padding_idx < V:
            raise ValueError(f"embedding: padding_idx must be within num_embeddings ({V}); got {padding_idx}")
        padding_idx %= V
    if max_norm is not None:
        _renorm_rows(weight, idx, max_norm, norm_type)
    out = ops.getitem(weight, idx)  # (*, dim); backward scatter-adds into the rows
    stop = None
    xp = array_module(idx)
    if scale_grad_by_freq:  # the gradient of each row divided by how often it occurs in input
        counts = xp.bincount(idx.ravel(), minlength=V)[idx][..., None].astype(weight.dtype)
        stop = 1 - 1 / counts
    if padding_idx is not None:
        pad = (idx == padding_idx)[..., None].astype(weight.dtype)
        stop = pad if stop is None else stop + pad * (1 - stop)
    if stop is None:
        return out
    keep = Tensor._wrap(1 - stop)  # NOTE: out * keep + out.detach() * stop has out's value and a scaled gradient
    return out * keep + out.detach() * Tensor._wrap(stop)


def _renorm_rows(weight: Tensor, idx, max_norm: float, norm_type: float) -> None:
    """Scale the rows of weight that idx looks up to norm at most max_norm, in place (PyTorch's embedding_renorm_)."""
    xp = array_module(idx)
    rows = xp.unique(idx.ravel())
    w = weight.array
    norms = (xp.abs(w[rows]) ** norm_type).sum(1) ** (1.0 / norm_type)
    over = norms > max_norm
    scale = (max_norm / (norms + 1e-7)).astype(w.dtype)
    w[rows[over]] *= scale[over][:, None]
    weight._version += 1


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r): sub-pixel convolution's rearrangement."""
    (input,) = tensors(input)
    r = upscale_factor
    if input.ndim < 3 or input.shape[-3] % (r * r):
        raise ShapeError(
            f"pixel_shuffle: expected input (*, C*{r * r}, H, W) with channels divisible by upscale_factor^2 = "
            f"{r * r}; got shape {tuple(input.shape)}"
        )
    *batch, C, H, W = input.shape
    x = input.reshape(*batch, C // (r * r), r, r, H, W)  # (*, C, r, r, H, W)
    n = len(batch)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)  # (*, C, H, r, W, r)
    return x.reshape(*batch, C // (r * r), H * r, W * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W): the inverse of pixel_shuffle."""
    (input,) = tensors(input)
    r = downscale_factor
    if input.ndim < 3 or input.shape[-1] % r or input.shape[-2] % r:
        raise ShapeError(
            f"pixel_unshuffle: expected input (*, C, H, W) with H and W divisible by downscale_factor {r}; "
            f"got shape {tuple(input.shape)}"
        )
    *batch, C, H, W = input.shape
    x = input.reshape(*batch, C, H // r, r, W // r, r)  # (*, C, H, r, W, r)
    n = len(batch)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)  # (*, C, r, r, H, W)
    return x.reshape(*batch, C * r * r, H // r, W // r)


def _feature_dropout(op: str, input: Tensor, p: float, training: bool, dims: tuple[int, ...]) -> Tensor:
    """Zero whole channels with probability p (one draw per sample and channel), scaling the rest by 1/(1-p)."""
    (input,) = tensors(input)
    if input.ndim not in dims:
        raise ShapeError(f"{op}: expected a {' or '.join(map(str, dims))}-D input; got shape {tuple(input.shape)}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    spatial = dims[-1] - 2  # channel dims: (N, C) of the batched form, C alone when unbatched
    shape = input.shape[: input.ndim - spatial] + (1,) * spatial
    keep = default_generator().random(shape, dtype=np.float32) >= p
    scale = 0.0 if p == 1.0 else 1.0 / (1.0 - p)
    return input * Tensor._wrap(to_device(keep.astype(input.dtype) * input.dtype.type(scale), input.device))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) with probability p, scaling the rest by 1/(1-p)."""
    return _feature_dropout("dropout1d", input, p, training, (2, 3))


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) with probability p, scaling the rest by 1/(1-p)."""
    return _feature_dropout("dropout3d", input, p, training, (4, 5))


_ALPHA_PRIME = 1.7580993408473766  # -SELU's negative saturation, scale * alpha


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: dropped units are set to SELU's saturation and an affine map keeps the mean and
    variance (Klambauer et al. 2017)."""
    (input,) = tensors(input)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    a = 1.0 / math.sqrt((_ALPHA_PRIME**2 * p + 1) * (1 - p))
    keep = (default_generator().random(input.shape, dtype=np.float32) >= p).astype(input.dtype)
    b = (keep - 1) * (_ALPHA_PRIME * a) + _ALPHA_PRIME * a * p
    keep, b = to_device(keep * input.dtype.type(a), input.device), to_device(b.astype(input.dtype), input.device)
    return input * Tensor._wrap(keep) + Tensor._wrap(b)


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
        expected += f" (integers) or class probabilities of shape {tuple(input.shape)} (floating point)"
    hint = ""
    if target.dtype.kind == "f" and target.shape == index_shape:
        hint = "; convert class indices with target.long()"
    elif target.dtype.kind in "iub" and target.shape == input.shape:
        hint = "; one-hot targets must be floating point (target.float()), or pass class indices target.argmax(1)"
    raise ShapeError(
        f"{op}: target must be {expected} for input {tuple(input.shape)}; got {tuple(target.shape)} "
        f"{target.dtype}{hint}"
    )


def _check_classes(op: str, t, C: int, ignore_index: int, input_shape: tuple) -> None:
    """Every class index in [0, C) or equal to ignore_index."""
    if t.size == 0 or (int(t.min()) >= 0 and int(t.max()) < C):
        return
    bad = ((t < 0) | (t >= C)) & (t != ignore_index)
    if bad.any():
        pos = tuple(int(i) for i in array_module(t).argwhere(bad)[0])
        raise IndexError(
            f"{op}: target {int(t[pos])} at index {pos} is out of range [0, {C}) for input {tuple(input_shape)} "
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
        e /= s  # softmax in place (for backward and jvp): no new array
        self.p = e
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
        if self.p.ndim == 2 and a.ndim == 0 and not isinstance(a, Tensor):  # raw (N, C), one coefficient:
            gx = self.p * a  # NOTE: p * a, then a off each target's entry: two passes fewer than (p - onehot) * a
            gx[array_module(gx).arange(gx.shape[0]), self.t[:, 0]] -= a
        else:  # also the recording backward (create_graph), where p is a Tensor of the logits
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
    input, target, weight = tensors(input, target, weight)
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
    input, target, weight = tensors(input, target, weight)
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
    input, target, weight = tensors(input, target, weight)
    reduction = _reduction("mse_loss", reduction, size_average, reduce)
    if target.shape != input.shape:
        warnings.warn(
            f"mse_loss: target size {tuple(target.shape)} differs from input size {tuple(input.shape)}; they will "
            "broadcast, which is likely wrong. Make them the same size.",
            stacklevel=2,
        )
    d = input - target
    loss = d * d
    if weight is None:
        return ops.mean(loss) if reduction == "mean" else ops.sum(loss) if reduction == "sum" else loss
    if weight.shape != input.shape:
        raise ShapeError(f"mse_loss: weight must have input's shape {tuple(input.shape)}; got {tuple(weight.shape)}")
    loss = loss * weight
    return ops.sum(loss) / ops.sum(weight) if reduction == "mean" else ops.sum(loss) if reduction == "sum" else loss


def _check_binary(op: str, input: Tensor, target: Tensor, **weights) -> None:
    _check_float(op, "input", input)
    _check_float(op, "target", target, input)
    if target.shape != input.shape:
        raise ShapeError(f"{op}: target must have input's shape {tuple(input.shape)}; got {tuple(target.shape)}")
    for name, w in weights.items():
        if w is None:
            continue
        try:
            ok = np.broadcast_shapes(tuple(w.shape), input.shape) == input.shape
        except ValueError:
            ok = False
        if not ok:
            raise ShapeError(f"{op}: {name} of shape {tuple(w.shape)} does not broadcast to input {tuple(input.shape)}")


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
    input, target, weight = tensors(input, target, weight)
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
    input, target, weight, pos_weight = tensors(input, target, weight, pos_weight)
    op = "binary_cross_entropy_with_logits"
    reduction = _reduction(op, reduction, size_average, reduce)
    _check_binary(op, input, target, weight=weight, pos_weight=pos_weight)
    return BCEWithLogits.apply(
        input, target, weight=_const(weight, input), pos_weight=_const(pos_weight, input), reduction=reduction
    )


# ---------------------------------------------------------------------------------------------
# More losses: composites of ops


def _elementwise_loss(op: str, input, target, size_average=None, reduce=None, reduction="mean"):
    """The converted operands and reduction of a loss on two same-shaped tensors (a size mismatch warns)."""
    reduction = _reduction(op, reduction, size_average, reduce)
    input, target = tensors(input, target)
    if target.shape != input.shape:
        warnings.warn(
            f"{op}: target size {tuple(target.shape)} differs from input size {tuple(input.shape)}; they will "
            "broadcast, which is likely wrong. Make them the same size.",
            stacklevel=3,
        )
    return input, target, reduction


def _weighted(op: str, loss: Tensor, weight, reduction: str, mean_by_weight: bool) -> Tensor:
    """loss * weight (input's shape), reduced; 'mean' divides by sum(weight) or by the count, as PyTorch does."""
    if weight is None:
        return _reduce(loss, reduction)
    (weight,) = tensors(weight)
    if weight.shape != loss.shape:
        raise ValueError(
            f"{op}: Weights and input must have the same size; got weight {tuple(weight.shape)}, "
            f"input {tuple(loss.shape)}"
        )
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None) -> Tensor:
    """|input - target|, optionally weighted per element -> scalar, or input's shape."""
    input, target, reduction = _elementwise_loss("l1_loss", input, target, size_average, reduce, reduction)
    return _weighted("l1_loss", ops.abs(input - target), weight, reduction, True)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta=0 is the L1 loss."""
    input, target, reduction = _elementwise_loss("smooth_l1_loss", input, target, size_average, reduce, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative; got {beta}")
    d = input - target
    if beta == 0:
        return _reduce(ops.abs(d), reduction)
    return _reduce(ops.where(ops.abs(d).array < beta, d * d * (0.5 / beta), ops.abs(d) - 0.5 * beta), reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None) -> Tensor:
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta): smooth_l1_loss times delta."""
    input, target, reduction = _elementwise_loss("huber_loss", input, target, reduction=reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive; got {delta}")
    d = input - target
    loss = ops.where(ops.abs(d).array < delta, d * d * 0.5, (ops.abs(d) - 0.5 * delta) * delta)
    return _weighted("huber_loss", loss, weight, reduction, False)


def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
    """KL(target || exp(input)) per element: target (log target - input), 0 where target = 0; input is
    log-probabilities. 'batchmean' divides the sum by the batch size (the true KL); 'mean' by the element count."""
    input, target = tensors(input, target)
    if size_average is not None or reduce is not None:
        reduction = _reduction("kl_div", reduction, size_average, reduce)
    elif reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
            stacklevel=2,
        )
    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise ValueError(f"kl_div: reduction must be 'mean', 'batchmean', 'sum' or 'none'; got {reduction!r}")
    if log_target:
        loss = ops.exp(target) * (target - input)
    else:
        positive = target.array > 0
        t_log_t = ops.where(positive, target * ops.log(ops.where(positive, target, 1.0)), 0.0)  # xlogy(t, t)
        loss = t_log_t - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin: float = 0, size_average=None, reduce=None, reduction="mean"):
    """max(0, -target (input1 - input2) + margin), target in {1, -1}."""
    reduction = _reduction("margin_ranking_loss", reduction, size_average, reduce)
    input1, input2, target = tensors(input1, input2, target)
    if not input1.shape == input2.shape == target.shape:
        raise ShapeError(
            f"margin_ranking_loss: input1, input2 and target must have the same shape; got {tuple(input1.shape)}, "
            f"{tuple(input2.shape)} and {tuple(target.shape)}"
        )
    return _reduce(ops.relu(-target * (input1 - input2) + margin), reduction)


def hinge_embedding_loss(input, target, margin: float = 1.0, size_average=None, reduce=None, reduction="mean"):
    """x where target = 1, max(0, margin - x) where target = -1."""
    reduction = _reduction("hinge_embedding_loss", reduction, size_average, reduce)
    input, target = tensors(input, target)
    t = target.array
    loss = ops.where(t != 1, ops.relu(margin - input), 0.0) + ops.where(t != -1, input, 0.0)
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target x)), target in {1, -1}, averaged over all elements."""
    reduction = _reduction("soft_margin_loss", reduction, size_average, reduce)
    input, target = tensors(input, target)
    return _reduce(Softplus.apply(-target * input, beta=1.0, threshold=None), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """-(t log sigmoid(x) + (1 - t) log sigmoid(-x)), optionally weighted, averaged over the C classes -> (N,)."""
    reduction = _reduction("multilabel_soft_margin_loss", reduction, size_average, reduce)
    input, target, weight = tensors(input, target, weight)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    return _reduce(loss.sum(class_dim) / input.shape[class_dim], reduction)


def cosine_embedding_loss(input1, input2, target, margin: float = 0, size_average=None, reduce=None, reduction="mean"):
    """1 - cos(x1, x2) where target = 1, max(0, cos(x1, x2) - margin) where target = -1; cos along dim 1 (or 0)."""
    reduction = _reduction("cosine_embedding_loss", reduction, size_average, reduce)
    input1, input2, target = tensors(input1, input2, target)
    if input1.shape != input2.shape or input1.ndim not in (1, 2):
        raise ShapeError(
            "cosine_embedding_loss: input1 and input2 must be 1-D or 2-D and of the same shape; got "
            f"{tuple(input1.shape)} and {tuple(input2.shape)}"
        )
    dim = input1.ndim - 1
    eps = 1e-12  # PyTorch's EPSILON here, added to each squared magnitude
    denom = (((input1 * input1).sum(dim) + eps) * ((input2 * input2).sum(dim) + eps)).sqrt()
    cos = (input1 * input2).sum(dim) / denom
    t = target.array
    loss = ops.where(t == 1, 1 - cos, 0.0) + ops.where(t == -1, ops.relu(cos - margin), 0.0)
    return _reduce(loss, reduction)


def triplet_margin_loss(
    anchor,
    positive,
    negative,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, margin + d(anchor, positive) - d(anchor, negative)), d = pairwise_distance; swap uses the nearer
    of d(a, n) and d(p, n)."""
    reduction = _reduction("triplet_margin_loss", reduction, size_average, reduce)
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: margin must be greater than 0, got {margin}")
    anchor, positive, negative = tensors(anchor, positive, negative)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = ops.minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(ops.relu(d_pos - d_neg + margin), reduction)


def poisson_nll_loss(
    input, target, log_input=True, full=False, size_average=None, eps: float = 1e-8, reduce=None, reduction="mean"
) -> Tensor:
    """exp(x) - t x for log-rates x (log_input), else x - t log(x + eps); full adds Stirling's t log t - t +
    log(2 pi t)/2 where t > 1."""
    reduction = _reduction("poisson_nll_loss", reduction, size_average, reduce)
    input, target = tensors(input, target)
    loss = ops.exp(input) - target * input if log_input else input - target * ops.log(input + eps)
    if full:
        t = target.array
        big = t > 1
        safe = ops.where(big, target, 1.0)
        loss = loss + ops.where(big, safe * ops.log(safe) - safe + ops.log(safe * (2 * math.pi)) * 0.5, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """(log(max(var, eps)) + (input - target)^2 / max(var, eps)) / 2, plus log(2 pi)/2 when full."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    input, target, var = tensors(input, target, var)
    if isinstance(var, Tensor) and var.ndim and bool((var.array < 0).any()):
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    if var.shape != input.shape and var.ndim:
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)  # one variance per sample: broadcast over the last dim
        elif not (input.ndim == var.ndim and sum(b for a, b in zip(input.shape, var.shape) if a != b) == 1):
            raise ValueError(
                f"gaussian_nll_loss: var is of incorrect size {tuple(var.shape)} for input {tuple(input.shape)}"
            )
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"gaussian_nll_loss: {reduction} is not valid")
    # NOTE: PyTorch clamps in place under no_grad: the value is clamped, the gradient flows as if it were not
    var = var + Tensor._wrap(array_module(var.array).maximum(var.array, eps) - var.array)
    d = input - target
    loss = (ops.log(var) + d * d / var) * 0.5
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)
