"""Primitive ops: one Function per op, its forward, backward and jvp side by side on raw arrays.

Under each class sits the public function users call: it converts and checks the arguments,
then calls Class.apply. Composites (mean, var, softmax, stack ...) are plain functions of ops
and need no rules of their own.
"""

from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

from .backend import array_module, get_default_dtype, scatter_add
from .backend import to_device as _move
from .errors import ShapeError
from .runtime import elementwise
from .tensor import Function, Tensor

# ---------------------------------------------------------------------------------------------
# Argument helpers


def _tensor(x, like: Tensor | None = None) -> Tensor:
    """A Tensor for x; Python scalars take `like`'s dtype (float tensor * 2 stays float32)."""
    if isinstance(x, Tensor):
        return x
    xp = array_module(like.array) if like is not None else np
    if like is not None and isinstance(x, (int, float, bool)):
        kind = like.dtype.kind
        if kind == "f" or (kind in "iu" and not isinstance(x, float)) or kind == "b" and isinstance(x, bool):
            return Tensor._wrap(xp.asarray(x, dtype=like.dtype))
        dtype = get_default_dtype() if isinstance(x, float) else np.int64
        return Tensor._wrap(xp.asarray(x, dtype=dtype))
    return Tensor(xp.asarray(x) if isinstance(x, xp.ndarray) else x)


def _operands(a, b) -> tuple[Tensor, Tensor]:
    """Both operands as Tensors with PyTorch's promotion: an integer meeting a float becomes float."""
    a = _tensor(a, b if isinstance(b, Tensor) else None)
    b = _tensor(b, a)
    if a.dtype != b.dtype:
        fa, fb = a.dtype.kind == "f", b.dtype.kind == "f"
        if fa and not fb or (fa == fb and b.ndim == 0 and a.ndim > 0):  # a 0-d tensor never promotes
            b = b.to(a.dtype)
        elif fb and not fa or (fa == fb and a.ndim == 0 and b.ndim > 0):
            a = a.to(b.dtype)
    return a, b


def _dim(dim, ndim: int, op: str):
    """Normalise dim (int, tuple or None) to NumPy's axis, checking its range."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        n = builtins.max(ndim, 1)
        if not -n <= d < n:
            raise IndexError(f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions")
        out.append(d % n)
    return out[0] if isinstance(dim, int) else tuple(out)


def _expand_reduced(g, axis, keepdims: bool):
    """Put back the reduced axes of g (size 1) so that it broadcasts against the input."""
    if axis is None or keepdims:
        return g
    return array_module(g).expand_dims(g, axis)


# ---------------------------------------------------------------------------------------------
# Elementwise binary ops (broadcasting is undone once, in the backward walk)


class Add(Function):
    def forward(self, x, y):
        return x + y

    def backward(self, g):
        return g, g

    def jvp(self, dx, dy):
        return dx + dy


def add(a, b) -> Tensor:
    """a + b, broadcasting."""
    return Add.apply(*_operands(a, b))


class Sub(Function):
    def forward(self, x, y):
        return x - y

    def backward(self, g):
        return g, -g if self.needs_input_grad[1] else None

    def jvp(self, dx, dy):
        return dx - dy


def sub(a, b) -> Tensor:
    """a - b, broadcasting."""
    return Sub.apply(*_operands(a, b))


class Mul(Function):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, g):
        gx = g * self.y if self.needs_input_grad[0] else None
        gy = g * self.x if self.needs_input_grad[1] else None
        return gx, gy

    def jvp(self, dx, dy):  # bilinear: d(xy) = dx y + x dy
        return dx * self.y + self.x * dy


def mul(a, b) -> Tensor:
    """a * b elementwise, broadcasting."""
    return Mul.apply(*_operands(a, b))


class Div(Function):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x / y

    def backward(self, g):
        gx = g / self.y if self.needs_input_grad[0] else None
        gy = -g * self.x / (self.y * self.y) if self.needs_input_grad[1] else None
        return gx, gy

    def jvp(self, dx, dy):
        return dx / self.y - self.x * dy / (self.y * self.y)


def div(a, b) -> Tensor:
    """a / b, true division (integers give floats, as in PyTorch)."""
    a, b = _operands(a, b)
    if a.dtype.kind != "f":
        a, b = a.to(get_default_dtype()), b.to(get_default_dtype())
    return Div.apply(a, b)


class Pow(Function):
    """x ** y for a tensor exponent."""

    saves_output = True

    def forward(self, x, y):
        self.x, self.y = x, y
        self.out = x**y
        return self.out

    def _dlog(self):  # d/dy x^y = x^y log x; PyTorch takes 0 where x == 0
        xp = array_module(self.x)
        with np.errstate(divide="ignore", invalid="ignore"):
            return xp.where(self.x == 0, 0, self.out * xp.log(xp.where(self.x == 0, 1, self.x)))

    def backward(self, g):
        gx = g * self.y * self.x ** (self.y - 1) if self.needs_input_grad[0] else None
        return gx, (g * self._dlog() if self.needs_input_grad[1] else None)

    def jvp(self, dx, dy):  # no term for an input without a tangent: x^(y-1) and log x are infinite at x = 0
        t = self.has_tangent
        return (dx * self.y * self.x ** (self.y - 1) if t[0] else 0) + (dy * self._dlog() if t[1] else 0)


class PowScalar(Function):
    """x ** p for a Python number p."""

    def forward(self, x, *, p):
        self.x, self.p = x, p
        return x**p

    def backward(self, g):
        return g * self.p * self.x ** (self.p - 1)

    def jvp(self, dx):
        return dx * self.p * self.x ** (self.p - 1)


def pow(a, b) -> Tensor:
    """a ** b: tensor or number on either side."""
    if isinstance(a, Tensor) and isinstance(b, (int, float)) and not isinstance(b, bool):
        if a.dtype.kind != "f" and (isinstance(b, float) or b < 0):
            a = a.to(get_default_dtype())
        return PowScalar.apply(a, p=b)
    return Pow.apply(*_operands(a, b))


class Maximum(Function):
    def forward(self, x, y):
        self.x, self.y = x, y
        return array_module(x).maximum(x, y)

    def backward(self, g):  # ties share the gradient equally, as in PyTorch
        w = (self.x > self.y) + 0.5 * (self.x == self.y)
        gx = g * w if self.needs_input_grad[0] else None
        gy = g * (1 - w) if self.needs_input_grad[1] else None
        return gx, gy

    def jvp(self, dx, dy):
        w = (self.x > self.y) + 0.5 * (self.x == self.y)
        return dx * w + dy * (1 - w)


def maximum(a, b) -> Tensor:
    """Elementwise max(a, b)."""
    return Maximum.apply(*_operands(a, b))


def minimum(a, b) -> Tensor:
    """Elementwise min(a, b) = -max(-a, -b)."""
    a, b = _operands(a, b)
    return neg(maximum(neg(a), neg(b)))


class Where(Function):
    """cond ? x : y; cond is a plain array, not differentiated."""

    def forward(self, x, y, *, cond):
        self.cond = cond
        return array_module(x).where(cond, x, y)

    def backward(self, g):
        xp = array_module(g)
        gx = xp.where(self.cond, g, 0) if self.needs_input_grad[0] else None
        gy = xp.where(self.cond, 0, g) if self.needs_input_grad[1] else None
        return gx, gy

    def jvp(self, dx, dy):
        return array_module(dx).where(self.cond, dx, dy)


def where(condition, x, y) -> Tensor:
    """Elementwise condition ? x : y, broadcasting all three."""
    x, y = _operands(x, y)
    cond = condition.array if isinstance(condition, Tensor) else condition
    return Where.apply(x, y, cond=array_module(x.array).asarray(cond, dtype=bool))


def replace(old, new) -> Tensor:
    """new, broadcast to old's shape (the out-of-place form of copy_ and fill_)."""
    old, new = _operands(old, new)
    return Where.apply(new, old, cond=True)


# ---------------------------------------------------------------------------------------------
# Elementwise unary ops


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, g):
        return -g

    def jvp(self, dx):
        return -dx


def neg(x: Tensor) -> Tensor:
    """-x."""
    return Neg.apply(x)


class Exp(Function):
    saves_output = True

    def forward(self, x):
        self.y = array_module(x).exp(x)
        return self.y

    def backward(self, g):
        return g * self.y

    def jvp(self, dx):
        return dx * self.y


def exp(x: Tensor) -> Tensor:
    """e ** x."""
    return Exp.apply(_floating(x))


class Log(Function):
    def forward(self, x):
        self.x = x
        return array_module(x).log(x)

    def backward(self, g):
        return g / self.x

    def jvp(self, dx):
        return dx / self.x


def log(x: Tensor) -> Tensor:
    """Natural logarithm."""
    return Log.apply(_floating(x))


class Sqrt(Function):
    saves_output = True

    def forward(self, x):
        self.y = array_module(x).sqrt(x)
        return self.y

    def backward(self, g):
        return g / (2 * self.y)

    def jvp(self, dx):
        return dx / (2 * self.y)


def sqrt(x: Tensor) -> Tensor:
    """Square root."""
    return Sqrt.apply(_floating(x))


class Abs(Function):
    def forward(self, x):
        self.x = x
        return array_module(x).abs(x)

    def backward(self, g):
        return g * array_module(g).sign(self.x)

    def jvp(self, dx):
        return dx * array_module(dx).sign(self.x)


def abs(x: Tensor) -> Tensor:
    """|x|; its gradient at 0 is 0, as in PyTorch."""
    return Abs.apply(x)


class Sin(Function):
    def forward(self, x):
        self.x = x
        return array_module(x).sin(x)

    def backward(self, g):
        return g * array_module(g).cos(self.x)

    def jvp(self, dx):
        return dx * array_module(dx).cos(self.x)


def sin(x: Tensor) -> Tensor:
    return Sin.apply(_floating(x))


class Cos(Function):
    def forward(self, x):
        self.x = x
        return array_module(x).cos(x)

    def backward(self, g):
        return -g * array_module(g).sin(self.x)

    def jvp(self, dx):
        return -dx * array_module(dx).sin(self.x)


def cos(x: Tensor) -> Tensor:
    return Cos.apply(_floating(x))


class Tanh(Function):
    saves_output = True

    def forward(self, x):
        self.y = array_module(x).tanh(x)
        return self.y

    def backward(self, g):
        return g * (1 - self.y * self.y)

    def jvp(self, dx):
        return dx * (1 - self.y * self.y)


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(_floating(x))


class Sigmoid(Function):
    saves_output = True

    def forward(self, x):
        # NOTE: exp(-|x|) never overflows; pick the form whose denominator has no cancellation
        xp = array_module(x)
        e = xp.exp(-xp.abs(x))
        self.y = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return self.y

    def backward(self, g):
        return g * self.y * (1 - self.y)

    def jvp(self, dx):
        return dx * self.y * (1 - self.y)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), without overflow at any x."""
    return Sigmoid.apply(_floating(x))


class ReLU(Function):
    saves_output = True  # backward reads y > 0 off the output, as PyTorch's threshold_backward does: no mask array

    def forward(self, x):
        xp = array_module(x)
        self.y = y = xp.empty_like(x)  # compact, in x's memory order (channels first after a conv)
        # NOTE: maximum, not x * mask, which gives -0 for x < 0 and nan for -inf; big activations split across
        # threads (see elementwise)
        elementwise(lambda s: xp.maximum(x[s], 0, out=y[s]), y)
        return y

    def backward(self, g):
        return _times_positive(g, self.y)

    def jvp(self, dx):
        return dx * (self.y > 0)


def relu(x: Tensor) -> Tensor:
    """max(x, 0); gradient 0 at 0, as in PyTorch."""
    return ReLU.apply(x)


def _times_positive(g, y):
    """g * (y > 0): ReLU's backward. Raw arrays are split across threads when big (see elementwise); on Tensors
    (create_graph) it is the product, recorded, with the mask a constant."""
    mask = y > 0
    if isinstance(g, Tensor):
        return g * mask
    xp = array_module(g)
    gx = xp.empty_like(y, dtype=g.dtype)
    elementwise(lambda s: xp.multiply(g[s], mask[s], out=gx[s]), gx)
    return gx


class Clamp(Function):
    def forward(self, x, *, lo, hi):
        self.mask = (x >= lo if lo is not None else True) & (x <= hi if hi is not None else True)
        return array_module(x).clip(x, lo, hi)

    def backward(self, g):  # gradient 1 where lo <= x <= hi, as in PyTorch
        return g * self.mask

    def jvp(self, dx):
        return dx * self.mask


def clamp(x: Tensor, min=None, max=None) -> Tensor:
    """x limited to [min, max] (either may be None)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return Clamp.apply(x, lo=min, hi=max)


def _floating(x: Tensor) -> Tensor:
    """Integer inputs of transcendental functions become the default float, as in PyTorch."""
    x = _tensor(x)
    return x if x.dtype.kind == "f" else x.to(get_default_dtype())


# ---------------------------------------------------------------------------------------------
# Reductions


class Sum(Function):
    def forward(self, x, *, axis, keepdims):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, g):  # adjoint of sum is broadcast
        return array_module(g).broadcast_to(_expand_reduced(g, self.axis, self.keepdims), self.shape)

    def jvp(self, dx):
        return dx.sum(axis=self.axis, keepdims=self.keepdims)


def sum(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Sum over dim (int, tuple or None for all)."""
    return Sum.apply(x, axis=_dim(dim, x.ndim, "sum"), keepdims=keepdim)


class Mean(Function):
    def forward(self, x, *, axis, keepdims):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        y = x.mean(axis=axis, keepdims=keepdims)
        self.n = x.size // builtins.max(y.size, 1)
        return y

    def backward(self, g):
        g = _expand_reduced(g, self.axis, self.keepdims) / self.n
        return array_module(g).broadcast_to(g, self.shape)

    def jvp(self, dx):
        return dx.mean(axis=self.axis, keepdims=self.keepdims)


def mean(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Mean over dim (int, tuple or None for all)."""
    if x.dtype.kind != "f":
        raise TypeError(f"mean: expected a floating-point tensor, got {x.dtype}; convert it with .float()")
    return Mean.apply(x, axis=_dim(dim, x.ndim, "mean"), keepdims=keepdim)


def var(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Variance over dim, dividing by n - correction (correction=1 by default, as in PyTorch)."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axis = _dim(dim, x.ndim, "var")
    dims = range(x.ndim) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    n = int(np.prod([x.shape[d] for d in dims]))
    centered = x - mean(x, dim, keepdim=True)
    return sum(centered * centered, dim, keepdim) / builtins.max(n - correction, 0)


def std(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None) -> Tensor:
    """Standard deviation: sqrt(var)."""
    return sqrt(var(x, dim, unbiased, keepdim, correction=correction))


class Amax(Function):
    """Maximum over axis; the gradient is shared equally by ties (PyTorch's amax)."""

    def forward(self, x, *, axis, keepdims):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        y = x.max(axis=axis, keepdims=True)
        self.mask = x == y
        self.count = self.mask.sum(axis=axis, keepdims=True)
        return y if keepdims else (y.reshape(()) if axis is None else y.squeeze(axis))

    def backward(self, g):
        g = g.reshape(self.count.shape)  # (keepdims shape)
        return self.mask * (g / self.count)

    def jvp(self, dx):
        d = (dx * self.mask).sum(axis=self.axis, keepdims=True) / self.count
        return d if self.keepdims else (d.reshape(()) if self.axis is None else d.squeeze(self.axis))


def amax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Maximum values over dim."""
    _check_nonempty(x, "amax")
    return Amax.apply(x, axis=_dim(dim, x.ndim, "amax"), keepdims=keepdim)


def amin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Minimum values over dim: -amax(-x)."""
    return neg(amax(neg(x), dim, keepdim))


MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


def max(x: Tensor, dim=None, keepdim: bool = False):
    """max(x) -> largest value; max(x, dim) -> (values, indices); max(x, y) -> maximum(x, y)."""
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    if dim is None:
        return amax(x)
    return MaxResult(amax(x, dim, keepdim), argmax(x, dim, keepdim))


def min(x: Tensor, dim=None, keepdim: bool = False):
    """min(x) -> smallest value; min(x, dim) -> (values, indices); min(x, y) -> minimum(x, y)."""
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    if dim is None:
        return amin(x)
    return MinResult(amin(x, dim, keepdim), argmin(x, dim, keepdim))


def argmax(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the largest value (over the flattened tensor when dim is None)."""
    _check_nonempty(x, "argmax")
    if dim is None:
        return Tensor._wrap(x.array.argmax().astype(np.int64))
    return Tensor._wrap(x.array.argmax(axis=_dim(dim, x.ndim, "argmax"), keepdims=keepdim).astype(np.int64))


def argmin(x: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the smallest value (over the flattened tensor when dim is None)."""
    _check_nonempty(x, "argmin")
    if dim is None:
        return Tensor._wrap(x.array.argmin().astype(np.int64))
    return Tensor._wrap(x.array.argmin(axis=_dim(dim, x.ndim, "argmin"), keepdims=keepdim).astype(np.int64))


def _check_nonempty(x: Tensor, op: str) -> None:
    if x.array.size == 0:
        raise ShapeError(f"{op}: the input is empty (shape {x.shape})")


class LogSumExp(Function):
    """log(sum(exp(x))) over axis, shifted by the maximum so that it never overflows."""

    def forward(self, x, *, axis, keepdims):
        xp = array_module(x)
        m = x.max(axis=axis, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # all -inf: log(0) = -inf, not nan
        with np.errstate(divide="ignore"):
            y = xp.log(xp.exp(x - m).sum(axis=axis, keepdims=True)) + m
        self.x, self.axis, self.keepdims = x, axis, keepdims
        self.y = y if keepdims else y.squeeze(axis)
        return self.y

    def _softmax(self):  # d lse / dx = softmax(x) = exp(x - lse)
        return array_module(self.x).exp(self.x - _expand_reduced(self.y, self.axis, self.keepdims))

    def backward(self, g):
        return _expand_reduced(g, self.axis, self.keepdims) * self._softmax()

    def jvp(self, dx):
        return (self._softmax() * dx).sum(axis=self.axis, keepdims=self.keepdims)


def logsumexp(x: Tensor, dim, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x), dim)), stable for any magnitude."""
    return LogSumExp.apply(_floating(x), axis=_dim(dim, x.ndim, "logsumexp"), keepdims=keepdim)


class LogSoftmax(Function):
    """y = (x - max) - log(sum(exp(x - max))): shifted first, so float32 keeps its precision at any offset."""

    saves_output = True

    def forward(self, x, *, axis):
        xp = array_module(x)
        s = x - x.max(axis=axis, keepdims=True)
        self.y = s - xp.log(xp.exp(s).sum(axis=axis, keepdims=True))
        self.axis = axis
        return self.y

    def backward(self, g):  # (I - softmax 1^T) applied to g
        xp = array_module(g, self.y)
        return g - xp.exp(self.y) * xp.sum(g, axis=self.axis, keepdims=True)

    def jvp(self, dx):
        return dx - (array_module(dx).exp(self.y) * dx).sum(axis=self.axis, keepdims=True)


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """log(softmax(x, dim)), stable for logits of any size."""
    x = _floating(x)
    return LogSoftmax.apply(x, axis=_dim(dim, x.ndim, "log_softmax"))


def softmax(x: Tensor, dim: int) -> Tensor:
    """exp(x) / sum(exp(x), dim), computed as exp(log_softmax(x))."""
    x = _floating(x)
    return exp(LogSoftmax.apply(x, axis=_dim(dim, x.ndim, "softmax")))


# ---------------------------------------------------------------------------------------------
# Matrix product


class MatMul(Function):
    """x @ w for x (..., n, k) and w (..., k, m), batch dimensions broadcasting."""

    def forward(self, x, w):
        self.x, self.w = x, w
        if x.ndim > 2 and w.ndim == 2:  # one big GEMM instead of a loop over the batch
            return (x.reshape(-1, x.shape[-1]) @ w).reshape(*x.shape[:-1], w.shape[-1])
        return x @ w

    def backward(self, g):  # skip work nobody needs (needs_input_grad)
        x, w = self.x, self.w
        xp = array_module(g, x, w)
        gx = g @ xp.swapaxes(w, -1, -2) if self.needs_input_grad[0] else None
        gw = None
        if self.needs_input_grad[1]:
            if x.ndim > 2 and w.ndim == 2:  # the batch sum happens inside one GEMM
                gw = x.reshape(-1, x.shape[-1]).T @ g.reshape(-1, g.shape[-1])  # (k, m)
            else:
                gw = xp.swapaxes(x, -1, -2) @ g
        return gx, gw

    def jvp(self, dx, dw):  # bilinear: d(x @ w) = dx @ w + x @ dw, with no product of a missing (zero) tangent
        t = self.has_tangent
        return (dx @ self.w if t[0] else 0) + (self.x @ dw if t[1] else 0)


def matmul(a, b) -> Tensor:
    """a @ b with NumPy/PyTorch semantics: 1-D operands are vectors, batch dims broadcast."""
    a, b = _operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(f"matmul: both arguments need at least 1 dimension; got shapes {a.shape} and {b.shape}")
    ka, kb = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise ShapeError(
            f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied: the first has {ka} columns "
            f"but the second has {kb} rows"
        )
    if a.ndim == 1 and b.ndim == 1:
        return sum(mul(a, b))
    if a.ndim == 1:
        return squeeze(MatMul.apply(unsqueeze(a, 0), b), -2)
    if b.ndim == 1:
        return squeeze(MatMul.apply(a, unsqueeze(b, -1)), -1)
    return MatMul.apply(a, b)


# ---------------------------------------------------------------------------------------------
# Movement: the adjoint pairs reshape <-> reshape, permute <-> inverse permute, pad <-> slice,
# broadcast <-> sum (done by the walk), index <-> scatter, cat <-> split


class Reshape(Function):
    is_view = True

    def forward(self, x, *, shape):
        self.shape_in, self.shape_out = x.shape, shape
        return x.reshape(shape)

    def backward(self, g):
        return g.reshape(self.shape_in)

    def jvp(self, dx):
        return dx.reshape(self.shape_out)


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def reshape(x: Tensor, *shape) -> Tensor:
    """The same elements in a new shape; one dimension may be -1."""
    shape = _shape_arg(shape)
    known = int(np.prod([s for s in shape if s != -1]))
    n = x.array.size
    bad = shape.count(-1) > 1 or (-1 in shape and (known == 0 or n % known)) or (-1 not in shape and known != n)
    if bad:
        raise ShapeError(f"reshape: shape {shape} is invalid for a tensor of shape {x.shape} ({n} elements)")
    if -1 in shape:
        shape = tuple(n // known if s == -1 else s for s in shape)
    return Reshape.apply(x, shape=shape)


class Permute(Function):
    is_view = True

    def forward(self, x, *, dims):
        self.dims = dims
        return x.transpose(dims)

    def backward(self, g):
        return array_module(g).transpose(g, tuple(np.argsort(self.dims).tolist()))

    def jvp(self, dx):
        return dx.transpose(self.dims)


def permute(x: Tensor, *dims) -> Tensor:
    """Reorder dimensions: out.shape[i] = x.shape[dims[i]]."""
    dims = _shape_arg(dims)
    if len(dims) != x.ndim:
        raise ShapeError(f"permute: dims {dims} are not a permutation of the {x.ndim} dims of shape {x.shape}")
    for d in dims:
        if not -x.ndim <= d < x.ndim:
            raise IndexError(f"permute: dim {d} is out of range for a tensor with {x.ndim} dimensions")
    if sorted(d % x.ndim for d in dims) != list(range(x.ndim)):
        raise ShapeError(f"permute: dims {dims} are not a permutation of the {x.ndim} dims of shape {x.shape}")
    return Permute.apply(x, dims=tuple(d % x.ndim for d in dims))


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions."""
    dims = list(range(x.ndim))
    d0, d1 = _dim(dim0, x.ndim, "transpose"), _dim(dim1, x.ndim, "transpose")
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(x, dims=tuple(dims))


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions start_dim..end_dim into one."""
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = _dim(start_dim, x.ndim, "flatten"), _dim(end_dim, x.ndim, "flatten")
    return reshape(x, *x.shape[:s], -1, *x.shape[e + 1 :])


def squeeze(x: Tensor, dim=None) -> Tensor:
    """Remove dimensions of size 1 (only `dim` when given; a no-op if that dim is not 1)."""
    if dim is None:
        return reshape(x, *[n for n in x.shape if n != 1])
    dims = {d for d in np.atleast_1d(_dim(dim, x.ndim, "squeeze")).tolist() if x.shape[d] == 1}
    return reshape(x, *[n for i, n in enumerate(x.shape) if i not in dims])


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a dimension of size 1 at dim."""
    if not -x.ndim - 1 <= dim <= x.ndim:
        raise IndexError(f"unsqueeze: dim {dim} is out of range for a tensor with {x.ndim} dimensions")
    dim = dim % (x.ndim + 1)
    return reshape(x, *x.shape[:dim], 1, *x.shape[dim:])


class Expand(Function):
    is_view = True

    def forward(self, x, *, shape):
        self.shape_out = shape
        return array_module(x).broadcast_to(x, shape)

    def backward(self, g):  # adjoint of broadcast is sum: the walk's sum_to does it
        return g

    def jvp(self, dx):
        return array_module(dx).broadcast_to(dx, self.shape_out)


def broadcast_to(x: Tensor, shape) -> Tensor:
    """x broadcast to `shape` (a read-only view; the gradient sums back)."""
    shape = tuple(shape)
    try:
        np.broadcast_shapes(x.shape, shape)
        ok = len(shape) >= x.ndim and np.broadcast_shapes(x.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ShapeError(f"broadcast_to: shape {x.shape} cannot be broadcast to {shape}")
    return Expand.apply(x, shape=shape)


def expand(x: Tensor, *sizes) -> Tensor:
    """Broadcast to sizes; -1 keeps a dimension as it is (PyTorch's expand)."""
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    return broadcast_to(x, shape)


def normalize_index(index):
    """Tensors inside an index become arrays; lists become integer or boolean arrays."""
    if isinstance(index, tuple):
        return tuple(normalize_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _is_basic(index) -> bool:
    """True when the index has only ints, slices, None and Ellipsis (the result is a view)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, slice, type(None), type(Ellipsis))) for i in items)


class GetItem(Function):
    def forward(self, x, *, index):
        self.shape, self.index = x.shape, index
        self.is_view = _is_basic(index)  # basic indexing gives a view, advanced indexing a copy
        return x[index]

    def backward(self, g):  # adjoint of gather is scatter-add: repeated indices add up
        return ScatterAdd.call(g, index=self.index, shape=self.shape)

    def jvp(self, dx):
        return dx[self.index]


class ScatterAdd(Function):
    """zeros(shape) with g added at index (repeats add up): GetItem's adjoint, and GetItem is its adjoint."""

    def forward(self, g, *, index, shape):
        self.index, self.shape = index, shape
        xp = array_module(g)
        out = xp.zeros(shape, dtype=g.dtype)
        if _is_basic(index):
            out[index] = g
        else:
            scatter_add(xp, out, index, g)
        return out

    def backward(self, g):
        return GetItem.call(g, index=self.index)

    def jvp(self, dg):
        return self.forward(dg, index=self.index, shape=self.shape)


def getitem(x: Tensor, index) -> Tensor:
    """x[index] with ints, slices, None, Ellipsis, integer arrays and boolean masks."""
    index = normalize_index(index)
    try:
        return GetItem.apply(x, index=index)
    except IndexError as err:
        raise IndexError(f"getitem: {err} (tensor shape {x.shape})") from None


class SetItem(Function):
    """x with x[index] = v, out of place (what `x[index] = v` records when it is differentiated)."""

    def forward(self, x, v, *, index):
        self.index, self.v_shape = index, v.shape
        y = x.copy()
        y[index] = v
        return y

    def backward(self, g):
        gx = None
        if self.needs_input_grad[0]:
            gx = g.copy()
            gx[self.index] = 0
        return gx, g[self.index] if self.needs_input_grad[1] else None

    def jvp(self, dx, dv):
        y = dx.copy()
        y[self.index] = dv
        return y


def setitem(x: Tensor, index, value) -> Tensor:
    """A copy of x with x[index] = value; the gradient flows to both."""
    x, value = _operands(x, value)
    return SetItem.apply(x, value, index=normalize_index(index))


class Pad(Function):
    def forward(self, x, *, widths, value):
        self.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
        self.widths = widths
        return array_module(x).pad(x, widths, constant_values=value)

    def backward(self, g):  # adjoint of pad is slice
        return g[self.slices]

    def jvp(self, dx):
        return array_module(dx).pad(dx, self.widths)


def pad_widths(op: str, x: Tensor, pad) -> tuple[tuple[int, int], ...]:
    """PyTorch's pad (left, right, top, bottom, ...: pairs from the last dim back) as (lo, hi) per axis of x,
    checked for ops.pad and conv.pad_nd alike."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ShapeError(f"{op}: pad must have an even length of at most 2*{x.ndim}; got {pad} for shape {x.shape}")
    if builtins.min(pad, default=0) < 0:
        raise ValueError(f"{op}: negative padding is not supported; got {pad}")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return tuple(widths)


def pad(x: Tensor, pad, mode: str = "constant", value: float = 0.0) -> Tensor:
    """PyTorch's F.pad: pad = (left, right) for the last dim, then (top, bottom) for the one before..."""
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not implemented yet; only 'constant'")
    return Pad.apply(x, widths=pad_widths("pad", x, pad), value=value)


class Cat(Function):
    def forward(self, *xs, axis):
        self.axis = axis
        self.bounds = np.cumsum([0] + [x.shape[axis] for x in xs])
        return array_module(*xs).concatenate(xs, axis=axis)

    def backward(self, g):  # adjoint of concatenate is split
        idx = [slice(None)] * g.ndim
        out = []
        for i, need in enumerate(self.needs_input_grad):
            idx[self.axis] = slice(self.bounds[i], self.bounds[i + 1])
            out.append(g[tuple(idx)] if need else None)
        return tuple(out)

    def jvp(self, *dxs):
        return array_module(*dxs).concatenate(dxs, axis=self.axis)


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension."""
    tensors = [_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty list of tensors")
    first = tensors[0]
    axis = _dim(dim, first.ndim, "cat")
    for i, t in enumerate(tensors[1:], 1):
        if t.ndim != first.ndim or any(a != b for d, (a, b) in enumerate(zip(t.shape, first.shape)) if d != axis):
            raise ShapeError(
                f"cat: tensor {i} has shape {t.shape} but tensor 0 has shape {first.shape}; "
                f"all dimensions except dim={dim} must match"
            )
    dtype = np.result_type(*[t.dtype for t in tensors])
    return Cat.apply(*[t if t.dtype == dtype else t.to(dtype) for t in tensors], axis=axis)


def stack(tensors, dim: int = 0) -> Tensor:
    """Join tensors of equal shape along a new dimension."""
    tensors = [_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty list of tensors")
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise ShapeError(f"stack: tensor {i} has shape {t.shape} but tensor 0 has shape {tensors[0].shape}")
    return cat([unsqueeze(t, dim) for t in tensors], dim)


# ---------------------------------------------------------------------------------------------
# Dtype and device


class Cast(Function):
    def forward(self, x, *, dtype):
        self.dtype, self.out_dtype = x.dtype, dtype
        return x.astype(dtype)

    def backward(self, g):
        return g.astype(self.dtype)

    def jvp(self, dx):
        return dx.astype(self.out_dtype)


def cast(x: Tensor, dtype) -> Tensor:
    """x converted to dtype; the gradient converts back."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f" or x.dtype.kind != "f":
        return Tensor._wrap(x.array.astype(dtype))
    return Cast.apply(x, dtype=dtype)


class ToDevice(Function):
    def forward(self, x, *, device):
        self.src, self.dst = ("cpu" if array_module(x) is np else "cuda"), device
        return _move(x, device)

    def backward(self, g):
        return _move(g, self.src)

    def jvp(self, dx):
        return _move(dx, self.dst)


def to_device(x: Tensor, device: str) -> Tensor:
    """x copied to 'cpu' or 'cuda'; the gradient is copied back."""
    return ToDevice.apply(x, device=device)


class Clone(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g

    def jvp(self, dx):
        return dx


def clone(x: Tensor) -> Tensor:
    """A copy with its own memory; the gradient passes through."""
    return Clone.apply(x)


# ---------------------------------------------------------------------------------------------
# Comparisons: bool results, no gradient

_COMPARE = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__"}


def compare(a, b, how: str) -> Tensor:
    a, b = _operands(a, b)
    try:
        return Tensor._wrap(getattr(a.array, _COMPARE[how])(b.array))
    except ValueError as err:
        raise ShapeError(f"{how}: {err} (shapes {a.shape} and {b.shape})") from None
