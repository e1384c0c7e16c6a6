"""Primitive ops: one Function per op, its forward, backward and jvp side by side on raw arrays.

Under each class sits the public function users call: it converts and checks the arguments,
then calls Class.apply. Composites (mean, var, softmax, stack ...) are plain functions of ops
and need no rules of their own.
"""

from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

from .backend import array_module, get_default_dtype
from .backend import scatter_add as _scatter_add_at  # the raw-array helper; ops.scatter_add is PyTorch's op
from .backend import to_device as _move
from .compiled import loaded
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


def _out(result: Tensor, out, op: str) -> Tensor:
    """PyTorch's out=: the result written into out (which takes the result's shape if it had another) and returned.
    Like PyTorch, refused when the result would need a gradient: out= is not differentiable."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}: out must be a Tensor; got {type(out).__name__}")
    if result.requires_grad:
        raise RuntimeError(
            f"{op}(): functions with out=... arguments don't support automatic differentiation, but one of the "
            "arguments requires grad"
        )
    if out.shape == result.shape:
        out.array[...] = result.array
    else:
        out.array = result.array.astype(out.dtype, copy=True)
    out._version += 1
    return out


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


def _raw(x):
    """The raw array of x (a Tensor when a backward records, else already an array): for masks and index constants
    that must live on x's device."""
    return x.array if isinstance(x, Tensor) else x


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


def add(a, b, *, alpha=1, out=None) -> Tensor:
    """a + alpha * b, broadcasting."""
    return _out(Add.apply(*_operands(a, b if alpha == 1 else mul(b, alpha))), out, "add")


class Sub(Function):
    def forward(self, x, y):
        return x - y

    def backward(self, g):
        return g, -g if self.needs_input_grad[1] else None

    def jvp(self, dx, dy):
        return dx - dy


def sub(a, b, *, alpha=1, out=None) -> Tensor:
    """a - alpha * b, broadcasting."""
    return _out(Sub.apply(*_operands(a, b if alpha == 1 else mul(b, alpha))), out, "sub")


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


def mul(a, b, *, out=None) -> Tensor:
    """a * b elementwise, broadcasting."""
    return _out(Mul.apply(*_operands(a, b)), out, "mul")


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


def div(a, b, *, rounding_mode=None, out=None) -> Tensor:
    """a / b, true division (integers give floats, as in PyTorch); rounding_mode 'trunc' or 'floor' rounds it."""
    a, b = _operands(a, b)
    if rounding_mode is not None:
        return _out(_rounded_div(a, b, rounding_mode), out, "div")
    if a.dtype.kind != "f":
        a, b = a.to(get_default_dtype()), b.to(get_default_dtype())
    return _out(Div.apply(a, b), out, "div")


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


# arrays of fewer values take NumPy's path even where the compiled kernels are loaded: finding their flat views and
# calling the kernel cost a few microseconds, more than NumPy's loop over so few values
COMPILED_MIN_SIZE = 1 << 12


class ReLU(Function):
    saves_output = True  # backward reads y > 0 off the output, as PyTorch's threshold_backward does: no mask array

    def forward(self, x):
        xp = array_module(x)
        self.y = y = xp.empty_like(x)  # compact, in x's memory order (channels first after a conv)
        fast = _compiled_flat(x, y)
        if fast is not None:  # the compiled loop, one pass (see compiled.py)
            k, (xf, yf) = fast
            zero = x.dtype.type(0)
            elementwise(lambda s: k.relu(xf[s], yf[s], zero), yf)
            return y
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
    if isinstance(g, Tensor):
        return g * (y > 0)
    xp = array_module(g)
    gx = xp.empty_like(y, dtype=g.dtype)
    fast = _compiled_flat(g, y, gx)
    if fast is not None:  # one pass, no mask array (see compiled.py)
        k, (gf, yf, gxf) = fast
        zero, one = y.dtype.type(0), y.dtype.type(1)
        elementwise(lambda s: k.relu_backward(gf[s], yf[s], gxf[s], zero, one), gxf)
        return gx
    mask = y > 0
    elementwise(lambda s: xp.multiply(g[s], mask[s], out=gx[s]), gx)
    return gx


def _compiled_flat(*arrays):
    """(the loaded compiled kernels, 1-D views of arrays) for one compiled pass over them, or None: the arrays hold
    fewer than COMPILED_MIN_SIZE values, differ in dtype or memory order, or no kernels are loaded."""
    a = arrays[0]
    if a.size < COMPILED_MIN_SIZE or builtins.any(b.dtype != a.dtype for b in arrays[1:]):
        return None
    k = loaded(array_module(a))
    flat = _flat_alike(*arrays) if k is not None else None
    return None if flat is None else (k, flat)


def _flat_alike(*arrays):
    """1-D views of arrays that hold their elements in the same memory order with no gaps (C order, or channels
    first after a conv: any order of axes), for a compiled loop over them; None when they differ or have gaps."""
    a = arrays[0]
    if a.ndim == 0 or builtins.any(b.shape != a.shape or b.strides != a.strides for b in arrays[1:]):
        return None
    order = sorted(range(a.ndim), key=lambda d: -a.strides[d])  # outermost axis first
    views = [b.transpose(order) for b in arrays]
    if not views[0].flags.c_contiguous:
        return None
    return [v.reshape(-1) for v in views]


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


def sum(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None) -> Tensor:
    """Sum over dim (int, tuple or None for all); axis= and keepdims= are PyTorch's NumPy-style aliases."""
    dim, keepdim = _reduce_args("sum", dim, keepdim, axis, keepdims)
    x = _tensor(x) if dtype is None else _tensor(x).to(dtype)
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


def mean(x: Tensor, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None) -> Tensor:
    """Mean over dim (int, tuple or None for all)."""
    dim, keepdim = _reduce_args("mean", dim, keepdim, axis, keepdims)
    x = _tensor(x) if dtype is None else _tensor(x).to(dtype)
    if x.dtype.kind != "f":
        raise TypeError(f"mean: expected a floating-point tensor, got {x.dtype}; convert it with .float()")
    return Mean.apply(x, axis=_dim(dim, x.ndim, "mean"), keepdims=keepdim)


def var(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None, keepdims=None):
    """Variance over dim, dividing by n - correction (correction=1 by default, as in PyTorch)."""
    dim, keepdim = _reduce_args("var", dim, keepdim, axis, keepdims)
    x = _tensor(x)
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axis = _dim(dim, x.ndim, "var")
    dims = range(x.ndim) if axis is None else ((axis,) if isinstance(axis, int) else axis)
    n = int(np.prod([x.shape[d] for d in dims]))
    centered = x - mean(x, dim, keepdim=True)
    return sum(centered * centered, dim, keepdim) / builtins.max(n - correction, 0)


def std(x: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None, axis=None, keepdims=None):
    """Standard deviation: sqrt(var)."""
    dim, keepdim = _reduce_args("std", dim, keepdim, axis, keepdims)
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


def amax(x: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Maximum values over dim."""
    dim, keepdim = _reduce_args("amax", dim, keepdim, axis, keepdims)
    x = _tensor(x)
    _check_nonempty(x, "amax")
    return Amax.apply(x, axis=_dim(dim, x.ndim, "amax"), keepdims=keepdim)


def amin(x: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Minimum values over dim: -amax(-x)."""
    dim, keepdim = _reduce_args("amin", dim, keepdim, axis, keepdims)
    x = _tensor(x)
    return neg(amax(neg(x), dim, keepdim))


MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


def max(x: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """max(x) -> largest value; max(x, dim) -> (values, indices); max(x, y) -> maximum(x, y)."""
    dim, keepdim = _reduce_args("max", dim, keepdim, axis, keepdims)
    x = _tensor(x)
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    if dim is None:
        return amax(x)
    return MaxResult(amax(x, dim, keepdim), argmax(x, dim, keepdim))


def min(x: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None):
    """min(x) -> smallest value; min(x, dim) -> (values, indices); min(x, y) -> minimum(x, y)."""
    dim, keepdim = _reduce_args("min", dim, keepdim, axis, keepdims)
    x = _tensor(x)
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    if dim is None:
        return amin(x)
    return MinResult(amin(x, dim, keepdim), argmin(x, dim, keepdim))


def argmax(x: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Index of the largest value (over the flattened tensor when dim is None)."""
    dim, keepdim = _reduce_args("argmax", dim, keepdim, axis, keepdims)
    x = _tensor(x)
    _check_nonempty(x, "argmax")
    if dim is None:
        return Tensor._wrap(x.array.argmax().astype(np.int64))
    return Tensor._wrap(x.array.argmax(axis=_dim(dim, x.ndim, "argmax"), keepdims=keepdim).astype(np.int64))


def argmin(x: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """Index of the smallest value (over the flattened tensor when dim is None)."""
    dim, keepdim = _reduce_args("argmin", dim, keepdim, axis, keepdims)
    x = _tensor(x)
    _check_nonempty(x, "argmin")
    if dim is None:
        return Tensor._wrap(x.array.argmin().astype(np.int64))
    return Tensor._wrap(x.array.argmin(axis=_dim(dim, x.ndim, "argmin"), keepdims=keepdim).astype(np.int64))


def _check_nonempty(x: Tensor, op: str) -> None:
    if x.array.size == 0:
        raise ShapeError(f"{op}: the input is empty (shape {tuple(x.shape)})")


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


def logsumexp(x: Tensor, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """log(sum(exp(x), dim)), stable for any magnitude."""
    dim, keepdim = _reduce_args("logsumexp", dim, keepdim, axis, keepdims)
    x = _tensor(x)
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
        gx = g @ w.swapaxes(-1, -2) if self.needs_input_grad[0] else None  # Tensor.swapaxes is NumPy's too
        gw = None
        if self.needs_input_grad[1]:
            if x.ndim > 2 and w.ndim == 2:  # the batch sum happens inside one GEMM
                gw = x.reshape(-1, x.shape[-1]).T @ g.reshape(-1, g.shape[-1])  # (k, m)
            else:
                gw = x.swapaxes(-1, -2) @ g
        return gx, gw

    def jvp(self, dx, dw):  # bilinear: d(x @ w) = dx @ w + x @ dw, with no product of a missing (zero) tangent
        t = self.has_tangent
        return (dx @ self.w if t[0] else 0) + (self.x @ dw if t[1] else 0)


def matmul(a, b, *, out=None) -> Tensor:
    """a @ b with NumPy/PyTorch semantics: 1-D operands are vectors, batch dims broadcast."""
    return _out(_matmul(a, b), out, "matmul")


def _matmul(a, b) -> Tensor:
    a, b = _operands(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"matmul: both arguments need at least 1 dimension; got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    ka, kb = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise ShapeError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied: the first has {ka} columns "
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
        raise ShapeError(f"reshape: shape {shape} is invalid for a tensor of shape {tuple(x.shape)} ({n} elements)")
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
        raise ShapeError(f"permute: dims {dims} are not a permutation of the {x.ndim} dims of shape {tuple(x.shape)}")
    for d in dims:
        if not -x.ndim <= d < x.ndim:
            raise IndexError(f"permute: dim {d} is out of range for a tensor with {x.ndim} dimensions")
    if sorted(d % x.ndim for d in dims) != list(range(x.ndim)):
        raise ShapeError(f"permute: dims {dims} are not a permutation of the {x.ndim} dims of shape {tuple(x.shape)}")
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
        raise ShapeError(f"broadcast_to: shape {tuple(x.shape)} cannot be broadcast to {shape}")
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
    return builtins.all(isinstance(i, (int, slice, type(None), type(Ellipsis))) for i in items)


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
            _scatter_add_at(xp, out, index, g)
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
        raise IndexError(f"getitem: {err} (tensor shape {tuple(x.shape)})") from None


class SetItem(Function):
    """x with x[index] = v, out of place (what `x[index] = v` records when it is differentiated)."""

    def forward(self, x, v, *, index):
        self.index, self.v_shape = index, v.shape
        y = x.copy()
        y[index] = v
        return y

    def backward(self, g):  # g with the written positions zeroed, and g at those positions
        need = self.needs_input_grad
        gx = SetItem.call(g, array_module(g).zeros_like(g[self.index]), index=self.index) if need[0] else None
        return gx, GetItem.call(g, index=self.index) if need[1] else None

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
        raise ShapeError(
            f"{op}: pad must have an even length of at most 2*{x.ndim}; got {pad} for shape {tuple(x.shape)}"
        )
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
        mismatch = builtins.any(a != b for d, (a, b) in enumerate(zip(t.shape, first.shape)) if d != axis)
        if t.ndim != first.ndim or mismatch:
            raise ShapeError(
                f"cat: tensor {i} has shape {tuple(t.shape)} but tensor 0 has shape {tuple(first.shape)}; "
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
            raise ShapeError(
                f"stack: tensor {i} has shape {tuple(t.shape)} but tensor 0 has shape {tuple(tensors[0].shape)}"
            )
    return cat([unsqueeze(t, dim) for t in tensors], dim)


# ---------------------------------------------------------------------------------------------
# Dtype and device


class Cast(Function):
    def forward(self, x, *, dtype):
        self.dtype, self.out_dtype = x.dtype, dtype
        return x.astype(dtype)

    def backward(self, g):  # the adjoint of a cast is the cast back
        return Cast.call(g, dtype=self.dtype)

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
        raise ShapeError(f"{how}: {err} (shapes {tuple(a.shape)} and {tuple(b.shape)})") from None


# =============================================================================================
# PyTorch's tensor API beyond the core (issue 15): the names of PyTorch's reference sections
# "Tensors", "Math operations" and "Indexing, Slicing, Joining, Mutating Ops" that NumPy can do.
# Composites where the existing ops suffice; a Function only where a rule is needed.
# =============================================================================================


def _reduce_args(op: str, dim, keepdim, axis, keepdims):
    """PyTorch's NumPy-style aliases on reductions: axis= for dim=, keepdims= for keepdim=."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: got both dim={dim} and its alias axis={axis}; pass one")
        dim = axis
    return dim, (keepdim if keepdims is None else keepdims)


def _constant(value) -> Tensor:
    """A result that carries no gradient (comparisons, indices, counts)."""
    return Tensor._wrap(np.asarray(value) if isinstance(value, np.generic) else value)


def _xp(x: Tensor):
    return array_module(x.array)


def _index_array(index, x: Tensor, op: str):
    """An integer index (Tensor, array or list) as an int64 array on x's device."""
    arr = index.array if isinstance(index, Tensor) else index
    xp = _xp(x)
    arr = xp.asarray(arr) if isinstance(arr, xp.ndarray) else xp.asarray(np.asarray(arr))
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected an integer index tensor, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _mask_array(mask, x: Tensor, op: str):
    arr = mask.array if isinstance(mask, Tensor) else mask
    xp = _xp(x)
    arr = xp.asarray(arr) if isinstance(arr, xp.ndarray) else xp.asarray(np.asarray(arr))
    if arr.dtype != np.bool_:
        raise TypeError(f"{op}: expected a bool mask, got dtype {arr.dtype}")
    return arr


# ---------------------------------------------------------------------------------------------
# Tensor queries (PyTorch's "Tensors" section)


def is_tensor(obj) -> bool:
    """True for a toynn Tensor."""
    return isinstance(obj, Tensor)


def is_floating_point(x: Tensor) -> bool:
    return _tensor(x).dtype.kind == "f"


def is_complex(x: Tensor) -> bool:
    return _tensor(x).dtype.kind == "c"


def is_conj(x: Tensor) -> bool:
    """False: toynn has no lazily conjugated tensors."""
    return False


def is_nonzero(x: Tensor) -> bool:
    """bool(x) for a tensor of exactly one element."""
    x = _tensor(x)
    if x.array.size != 1:
        raise RuntimeError(f"is_nonzero: expected a tensor with a single value, got shape {tuple(x.shape)}")
    return bool(x.array.reshape(()))


def numel(x: Tensor) -> int:
    return int(_tensor(x).array.size)


# ---------------------------------------------------------------------------------------------
# Elementwise unary functions: smooth ones as Functions with their derivative, the rest composites


class _Pointwise:
    """Mixin for y = f(x) elementwise: backward and jvp both multiply by f'(x), which d() gives."""

    def backward(self, g):
        return g * self.d()

    def jvp(self, dx):
        return dx * self.d()


class Tan(_Pointwise, Function):
    saves_output = True

    def forward(self, x):
        self.y = array_module(x).tan(x)
        return self.y

    def d(self):
        return 1 + self.y * self.y


class Asin(_Pointwise, Function):
    def forward(self, x):
        self.x = x
        return array_module(x).arcsin(x)

    def d(self):
        return 1 / array_module(self.x).sqrt(1 - self.x * self.x)


class Acos(_Pointwise, Function):
    def forward(self, x):
        self.x = x
        return array_module(x).arccos(x)

    def d(self):
        return -1 / array_module(self.x).sqrt(1 - self.x * self.x)


class Atan(_Pointwise, Function):
    def forward(self, x):
        self.x = x
        return array_module(x).arctan(x)

    def d(self):
        return 1 / (1 + self.x * self.x)


class Sinh(_Pointwise, Function):
    def forward(self, x):
        self.x = x
        return array_module(x).sinh(x)

    def d(self):
        return array_module(self.x).cosh(self.x)


class Cosh(_Pointwise, Function):
    def forward(self, x):
        self.x = x
        return array_module(x).cosh(x)

    def d(self):
        return array_module(self.x).sinh(self.x)


class Asinh(_Pointwise, Function):
    def forward(self, x):
        self.x = x
        return array_module(x).arcsinh(x)

    def d(self):
        return 1 / array_module(self.x).sqrt(self.x * self.x + 1)


class Acosh(_Pointwise, Function):
    def forward(self, x):
        self.x = x
        return array_module(x).arccosh(x)

    def d(self):
        return 1 / array_module(self.x).sqrt(self.x * self.x - 1)


class Atanh(_Pointwise, Function):
    def forward(self, x):
        self.x = x
        return array_module(x).arctanh(x)

    def d(self):
        return 1 / (1 - self.x * self.x)


class LogBase(_Pointwise, Function):
    """log2, log10 and log1p: exact where log(x) / log(base) or log(1 + x) would round."""

    _LN = {"log2": np.log(2.0), "log10": np.log(10.0)}

    def forward(self, x, *, kind):
        self.x, self.kind = x, kind
        xp = array_module(x)
        if kind == "log1p":
            return xp.log1p(x)
        return getattr(xp, kind)(x)

    def d(self):
        if self.kind == "log1p":
            return 1 / (1 + self.x)
        return 1 / (self.x * self._LN[self.kind])


class Expm1(_Pointwise, Function):
    saves_output = True

    def forward(self, x):
        self.y = array_module(x).expm1(x)
        return self.y

    def d(self):
        return self.y + 1


_TWO_OVER_SQRT_PI = 1.1283791670955126


def _erf(x):
    """erf on raw arrays (NumPy has none): erf(a) = 2/sqrt(pi) exp(-a^2) sum_n (2a^2)^n a / (2n+1)!!, a = |x|.

    Every term is positive, so nothing cancels: about 2e-15 relative error in float64 for all x (checked against
    math.erf), on any backend. Terms needed grow with a^2; erf(6) is 1 in float64, so a is capped there.
    """
    xp = array_module(x)
    a = xp.minimum(xp.abs(x.astype(np.float64)), 6.0)
    a2 = a * a
    term, s = a, a
    top = float(a.max()) if a.size else 0.0
    for n in range(1, int(top * top + 12 * top + 30)):
        term = term * (2 * a2 / (2 * n + 1))
        s = s + term
    return (xp.sign(x) * (_TWO_OVER_SQRT_PI * xp.exp(-a2) * s)).astype(x.dtype)


class Erf(_Pointwise, Function):
    def forward(self, x, *, complement=False):
        self.x, self.sign = x, -1 if complement else 1
        y = _erf(x)
        return 1 - y if complement else y

    def d(self):
        return self.sign * _TWO_OVER_SQRT_PI * array_module(self.x).exp(-self.x * self.x)


def _erfinv(y):
    """Inverse of erf on raw arrays: Winitzki's closed form (3 digits), then Newton steps on _erf."""
    xp = array_module(y)
    y64 = y.astype(np.float64)
    a = 0.147
    with np.errstate(divide="ignore", invalid="ignore"):
        ln = xp.log((1 - y64) * (1 + y64))
        b = 2 / (np.pi * a) + ln / 2
        x = xp.sign(y64) * xp.sqrt(xp.sqrt(b * b - ln / a) - b)
        inner = xp.abs(y64) < 1
        x = xp.where(inner, x, 0.0)
        for _ in range(4):  # quadratic convergence: 2e-3 -> 1e-5 -> 1e-10 -> 1e-16
            x = x - (_erf(x) - y64) / (_TWO_OVER_SQRT_PI * xp.exp(-x * x))
        edge = xp.where(xp.abs(y64) == 1, xp.sign(y64) * np.inf, np.nan)
    return xp.where(inner, x, edge).astype(y.dtype)


class Erfinv(_Pointwise, Function):
    saves_output = True

    def forward(self, x):
        self.y = _erfinv(x)
        return self.y

    def d(self):  # 1 / erf'(y)
        return 1 / (_TWO_OVER_SQRT_PI * array_module(self.y).exp(-self.y * self.y))


class Step(_Pointwise, Function):
    """A piecewise-constant f (floor, ceil, round, trunc, sign): its gradient is 0, as in PyTorch."""

    def forward(self, x, *, f):
        self.x = x
        return f(x)

    def d(self):
        return array_module(self.x).zeros_like(self.x)


def _step(x, name: str, f) -> Tensor:
    x = _tensor(x)
    if x.dtype.kind != "f":  # integers are their own floor, ceil, round and trunc
        return _constant(f(x.array))
    return Step.apply(x, f=f)


def tan(x) -> Tensor:
    return Tan.apply(_floating(x))


def asin(x) -> Tensor:
    return Asin.apply(_floating(x))


def acos(x) -> Tensor:
    return Acos.apply(_floating(x))


def atan(x) -> Tensor:
    return Atan.apply(_floating(x))


def sinh(x) -> Tensor:
    return Sinh.apply(_floating(x))


def cosh(x) -> Tensor:
    return Cosh.apply(_floating(x))


def asinh(x) -> Tensor:
    return Asinh.apply(_floating(x))


def acosh(x) -> Tensor:
    return Acosh.apply(_floating(x))


def atanh(x) -> Tensor:
    return Atanh.apply(_floating(x))


arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh


def log2(x) -> Tensor:
    return LogBase.apply(_floating(x), kind="log2")


def log10(x) -> Tensor:
    return LogBase.apply(_floating(x), kind="log10")


def log1p(x) -> Tensor:
    """log(1 + x), exact for small x."""
    return LogBase.apply(_floating(x), kind="log1p")


def expm1(x) -> Tensor:
    """exp(x) - 1, exact for small x."""
    return Expm1.apply(_floating(x))


def exp2(x) -> Tensor:
    return pow(2.0, _floating(x))


def erf(x) -> Tensor:
    """The error function 2/sqrt(pi) * integral_0^x exp(-t^2) dt."""
    return Erf.apply(_floating(x))


def erfc(x) -> Tensor:
    """1 - erf(x) (computed so; its relative precision drops for x > 3, where erfc < 2e-5)."""
    return Erf.apply(_floating(x), complement=True)


def erfinv(x) -> Tensor:
    """The inverse of erf on (-1, 1); +-inf at +-1, nan outside."""
    return Erfinv.apply(_floating(x))


def square(x) -> Tensor:
    return pow(_tensor(x), 2)


def rsqrt(x) -> Tensor:
    """1 / sqrt(x)."""
    return div(1, sqrt(_floating(x)))


def reciprocal(x) -> Tensor:
    return div(1, _floating(x))


def floor(x) -> Tensor:
    return _step(x, "floor", lambda a: array_module(a).floor(a))


def ceil(x) -> Tensor:
    return _step(x, "ceil", lambda a: array_module(a).ceil(a))


def trunc(x) -> Tensor:
    return _step(x, "trunc", lambda a: array_module(a).trunc(a))


fix = trunc


def round(x, *, decimals: int = 0) -> Tensor:
    """Round half to even, as PyTorch and NumPy do; decimals > 0 rounds to that many digits."""
    return _step(x, "round", lambda a: array_module(a).round(a, decimals))


def sign(x) -> Tensor:
    """-1, 0 or 1 (nan stays nan); gradient 0."""
    return _step(x, "sign", lambda a: array_module(a).sign(a))


sgn = sign


def signbit(x) -> Tensor:
    x = _tensor(x)
    return _constant(_xp(x).signbit(x.array))


def frac(x) -> Tensor:
    """x - trunc(x): the fractional part, with x's sign."""
    x = _tensor(x)
    return sub(x, trunc(x))


def deg2rad(x) -> Tensor:
    return mul(_floating(x), np.pi / 180)


def rad2deg(x) -> Tensor:
    return mul(_floating(x), 180 / np.pi)


def positive(x) -> Tensor:
    return _tensor(x)


negative, absolute = neg, abs


def angle(x) -> Tensor:
    """The argument of a real number: pi for negatives, else 0 (nan stays nan)."""
    return Step.apply(_floating(x), f=lambda a: array_module(a).angle(a).astype(a.dtype))


def real(x) -> Tensor:
    """The real part: a real tensor itself."""
    return _tensor(x)


def imag(x) -> Tensor:
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes (toynn has no complex tensors)")


def conj(x) -> Tensor:
    """The complex conjugate: a real tensor itself."""
    return _tensor(x)


conj_physical = resolve_conj = resolve_neg = conj


def logit(x, eps=None) -> Tensor:
    """log(p / (1 - p)); with eps, p is first clamped to [eps, 1 - eps]."""
    x = _floating(x)
    if eps is not None:
        x = clamp(x, eps, 1 - eps)
    return sub(log(x), log1p(neg(x)))


def nan_to_num(x, nan: float = 0.0, posinf=None, neginf=None) -> Tensor:
    """nan, +inf and -inf replaced (by 0 and the dtype's largest and smallest finite values by default)."""
    x = _tensor(x)
    if x.dtype.kind != "f":
        return x
    info = np.finfo(x.dtype)
    a = x.array
    xp = _xp(x)
    out = where(xp.isnan(a), nan, x)
    out = where(xp.isposinf(a), info.max if posinf is None else posinf, out)
    return where(xp.isneginf(a), info.min if neginf is None else neginf, out)


def sinc(x) -> Tensor:
    """sin(pi x) / (pi x), 1 at 0."""
    x = _floating(x)
    zero = x.array == 0
    safe = where(zero, 1.0, x) * np.pi  # no 0/0 in the branch that where() throws away, nor in its gradient
    return where(zero, 1.0, div(sin(safe), safe))


# ---------------------------------------------------------------------------------------------
# Elementwise binary functions


class Atan2(Function):
    """atan2(y, x): the angle of the point (x, y)."""

    def forward(self, y, x):
        self.y, self.x = y, x
        return array_module(y).arctan2(y, x)

    def _r2(self):
        return self.x * self.x + self.y * self.y

    def backward(self, g):
        r2 = self._r2()
        gy = g * self.x / r2 if self.needs_input_grad[0] else None
        gx = -g * self.y / r2 if self.needs_input_grad[1] else None
        return gy, gx

    def jvp(self, dy, dx):
        return (dy * self.x - dx * self.y) / self._r2()


def atan2(input, other) -> Tensor:
    a, b = _operands(_floating(input), other)
    return Atan2.apply(*_operands(a, _floating(b)))


arctan2 = atan2


class Mod(Function):
    """fmod (C's: the sign of x) or remainder (Python's: the sign of y); d/dy = -trunc(x/y) or -floor(x/y)."""

    def forward(self, x, y, *, floor):
        xp = array_module(x)
        self.floor = floor
        self.q = (xp.floor if floor else xp.trunc)(x / y) if x.dtype.kind == "f" else None
        return xp.remainder(x, y) if floor else xp.fmod(x, y)

    def backward(self, g):
        return g, (-g * self.q if self.needs_input_grad[1] else None)

    def jvp(self, dx, dy):
        return dx - dy * self.q


def fmod(input, other) -> Tensor:
    """input - trunc(input / other) * other: the remainder with input's sign (C's fmod)."""
    return Mod.apply(*_operands(input, other), floor=False)


def remainder(input, other) -> Tensor:
    """input - floor(input / other) * other: the remainder with other's sign (Python's %)."""
    return Mod.apply(*_operands(input, other), floor=True)


def _rounded_div(a: Tensor, b: Tensor, mode: str) -> Tensor:
    """div with rounding_mode: integers stay integers; floats are rounded (gradient 0, as in PyTorch)."""
    if mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {mode!r}")
    if a.dtype.kind in "biu" and b.dtype.kind in "biu":
        q = _xp(a).floor_divide(a.array, b.array)
        if mode == "trunc":  # floor rounds a negative inexact quotient one further down than trunc
            q = q + ((q < 0) & (q * b.array != a.array))
        return _constant(q)
    q = div(a, b)
    return floor(q) if mode == "floor" else trunc(q)


def floor_divide(input, other) -> Tensor:
    return div(input, other, rounding_mode="floor")


def true_divide(input, other) -> Tensor:
    return div(input, other)


multiply, divide, subtract = mul, div, sub


def hypot(input, other) -> Tensor:
    a, b = _operands(_floating(input), other)
    return sqrt(add(mul(a, a), mul(b, b)))


def logaddexp(input, other) -> Tensor:
    """log(exp(a) + exp(b)) without overflow."""
    a, b = _operands(_floating(input), other)
    xp = _xp(a)
    top = xp.maximum(a.array, b.array)
    m = _constant(xp.where(xp.isfinite(top), top, 0))  # a constant shift: the result does not depend on it
    return add(log(add(exp(sub(a, m)), exp(sub(b, m)))), m)


def logaddexp2(input, other) -> Tensor:
    """log2(2**a + 2**b) without overflow."""
    a, b = _operands(_floating(input), other)
    return div(logaddexp(mul(a, np.log(2.0)), mul(b, np.log(2.0))), np.log(2.0))


def xlogy(input, other) -> Tensor:
    """input * log(other), 0 where input is 0 (whatever other is, unless nan)."""
    x, y = _operands(_floating(input), other)
    y = _floating(y)
    zero = (x.array == 0) & ~_xp(y).isnan(y.array)
    return where(zero, 0.0, mul(x, log(where(zero, 1.0, y))))


def copysign(input, other) -> Tensor:
    """|input| with the sign of other (of its sign bit: -0.0 counts as negative)."""
    x, y = _operands(_floating(input), other)
    return where(_xp(y).signbit(y.array), neg(abs(x)), abs(x))


def float_power(input, exponent) -> Tensor:
    """input ** exponent in float64."""
    a = _tensor(input).to(np.float64)
    return pow(a, exponent if not isinstance(exponent, Tensor) else exponent.to(np.float64))


def ldexp(input, other) -> Tensor:
    """input * 2 ** other."""
    return mul(_floating(input), pow(2.0, _tensor(other)))


def lerp(input, end, weight) -> Tensor:
    """input + weight * (end - input)."""
    start, end = _operands(input, end)
    return add(start, mul(weight, sub(end, start)))


def addcmul(input, tensor1, tensor2, *, value=1) -> Tensor:
    """input + value * tensor1 * tensor2."""
    return add(input, mul(mul(tensor1, tensor2), value))


def addcdiv(input, tensor1, tensor2, *, value=1) -> Tensor:
    """input + value * tensor1 / tensor2."""
    return add(input, mul(div(tensor1, tensor2), value))


def fmax(input, other) -> Tensor:
    """maximum that ignores nan (nan only where both are nan)."""
    a, b = _operands(input, other)
    xp = _xp(a)
    return where(xp.isnan(b.array), a, where(xp.isnan(a.array), b, maximum(a, b)))


def fmin(input, other) -> Tensor:
    a, b = _operands(input, other)
    xp = _xp(a)
    return where(xp.isnan(b.array), a, where(xp.isnan(a.array), b, minimum(a, b)))


def _integer_op(name: str, np_name: str):
    """A non-differentiable elementwise op of NumPy's (bitwise, logical, gcd ...), broadcasting."""

    def op(input, other) -> Tensor:
        a, b = _operands(input, other)
        try:
            return _constant(getattr(_xp(a), np_name)(a.array, b.array))
        except TypeError as err:
            raise TypeError(f"{name}: {err} (dtypes {a.dtype} and {b.dtype})") from None

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"NumPy's {np_name}, elementwise and broadcasting; no gradient."
    return op


bitwise_and = _integer_op("bitwise_and", "bitwise_and")
bitwise_or = _integer_op("bitwise_or", "bitwise_or")
bitwise_xor = _integer_op("bitwise_xor", "bitwise_xor")
bitwise_left_shift = _integer_op("bitwise_left_shift", "left_shift")
bitwise_right_shift = _integer_op("bitwise_right_shift", "right_shift")
logical_and = _integer_op("logical_and", "logical_and")
logical_or = _integer_op("logical_or", "logical_or")
logical_xor = _integer_op("logical_xor", "logical_xor")
gcd = _integer_op("gcd", "gcd")
lcm = _integer_op("lcm", "lcm")
nextafter = _integer_op("nextafter", "nextafter")


def bitwise_not(x) -> Tensor:
    x = _tensor(x)
    if x.dtype.kind == "f":
        raise TypeError(f"bitwise_not: expected an integer or bool tensor, got {x.dtype}")
    return _constant(~x.array)


def logical_not(x) -> Tensor:
    x = _tensor(x)
    return _constant(~x.array.astype(bool))


def heaviside(input, values) -> Tensor:
    """0 for x < 0, values for x == 0, 1 for x > 0; no gradient (as PyTorch's)."""
    a, b = _operands(input, values)
    return _constant(_xp(a).heaviside(a.array, b.array))


FrexpResult = namedtuple("frexp", ["mantissa", "exponent"])


def frexp(x):
    """(mantissa, exponent) with x = mantissa * 2 ** exponent, 0.5 <= |mantissa| < 1."""
    x = _floating(x)
    m, e = _xp(x).frexp(x.array)
    return FrexpResult(_constant(m), _constant(e.astype(np.int32)))


# ---------------------------------------------------------------------------------------------
# Comparisons and tests (bool results, no gradient)


def eq(input, other) -> Tensor:
    return compare(input, other, "eq")


def ne(input, other) -> Tensor:
    return compare(input, other, "ne")


def lt(input, other) -> Tensor:
    return compare(input, other, "lt")


def le(input, other) -> Tensor:
    return compare(input, other, "le")


def gt(input, other) -> Tensor:
    return compare(input, other, "gt")


def ge(input, other) -> Tensor:
    return compare(input, other, "ge")


not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge


def isnan(x) -> Tensor:
    x = _tensor(x)
    return _constant(_xp(x).isnan(x.array))


def isinf(x) -> Tensor:
    x = _tensor(x)
    return _constant(_xp(x).isinf(x.array))


def isposinf(x) -> Tensor:
    x = _tensor(x)
    return _constant(_xp(x).isposinf(x.array))


def isneginf(x) -> Tensor:
    x = _tensor(x)
    return _constant(_xp(x).isneginf(x.array))


def isfinite(x) -> Tensor:
    x = _tensor(x)
    return _constant(_xp(x).isfinite(x.array))


def isreal(x) -> Tensor:
    x = _tensor(x)
    return _constant(_xp(x).isreal(x.array))


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other|, elementwise."""
    a, b = _operands(input, other)
    return _constant(_xp(a).isclose(a.array, b.array, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan).array.all())


def equal(input, other) -> bool:
    """True when both have the same shape and the same values."""
    a, b = _operands(input, other)
    return a.shape == b.shape and bool((a.array == b.array).all())


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False) -> Tensor:
    """Whether each element is among test_elements."""
    a, b = _operands(elements, test_elements)
    return _constant(_xp(a).isin(a.array, b.array, assume_unique=assume_unique, invert=invert))


# ---------------------------------------------------------------------------------------------
# Reductions beyond sum and mean


def all(input, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """True where every element (over dim) is nonzero."""
    x = _tensor(input)
    dim, keepdim = _reduce_args("all", dim, keepdim, axis, keepdims)
    return _constant(x.array.astype(bool).all(axis=_dim(dim, x.ndim, "all"), keepdims=keepdim))


def any(input, dim=None, keepdim: bool = False, *, axis=None, keepdims=None) -> Tensor:
    """True where some element (over dim) is nonzero."""
    x = _tensor(input)
    dim, keepdim = _reduce_args("any", dim, keepdim, axis, keepdims)
    return _constant(x.array.astype(bool).any(axis=_dim(dim, x.ndim, "any"), keepdims=keepdim))


def count_nonzero(input, dim=None) -> Tensor:
    x = _tensor(input)
    return _constant(_xp(x).asarray((x.array != 0).sum(axis=_dim(dim, x.ndim, "count_nonzero")), dtype=np.int64))


class Prod(Function):
    """Product over one axis (or all); the gradient is the product of the other elements, exact with zeros."""

    def forward(self, x, *, axis, keepdims):
        self.x, self.axis, self.keepdims = x, axis, keepdims
        return x.prod(axis=axis, keepdims=keepdims)

    def _others(self):  # prod_{j != i} x_j: exclusive running products from both ends, no division
        xp = array_module(self.x)
        x = self.x.reshape(-1) if self.axis is None else xp.moveaxis(self.x, self.axis, -1)  # (..., n)
        one = xp.ones_like(x[..., :1])
        left = xp.cumprod(xp.concatenate([one, x[..., :-1]], -1), -1)
        right = xp.flip(xp.cumprod(xp.concatenate([one, xp.flip(x[..., 1:], -1)], -1), -1), -1)
        d = left * right
        return d.reshape(self.x.shape) if self.axis is None else xp.moveaxis(d, -1, self.axis)

    def backward(self, g):
        return _expand_reduced(g, self.axis, self.keepdims) * self._others()

    def jvp(self, dx):
        return (dx * self._others()).sum(axis=self.axis, keepdims=self.keepdims)


def prod(input, dim=None, keepdim: bool = False, *, dtype=None, axis=None, keepdims=None) -> Tensor:
    """Product of the elements (over one dim); integers and bools give int64, as in PyTorch."""
    x = _tensor(input)
    dim, keepdim = _reduce_args("prod", dim, keepdim, axis, keepdims)
    if dtype is not None:
        x = x.to(dtype)
    elif x.dtype.kind in "biu":
        x = x.to(np.int64)
    if dim is not None and not isinstance(dim, int):
        raise TypeError(f"prod: dim must be an int, got {dim!r}")
    return Prod.apply(x, axis=_dim(dim, x.ndim, "prod"), keepdims=keepdim)


def nansum(input, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum treating nan as 0."""
    x = _tensor(input)
    return sum(where(_xp(x).isnan(x.array), 0.0, x) if x.dtype.kind == "f" else x, dim, keepdim, dtype=dtype)


class Cumsum(Function):
    def forward(self, x, *, axis):
        self.axis = axis
        return array_module(x).cumsum(x, axis=axis)

    def backward(self, g):  # adjoint of a running sum from the front is a running sum from the back
        xp = array_module(g)
        return xp.flip(xp.cumsum(xp.flip(g, self.axis), axis=self.axis), self.axis)

    def jvp(self, dx):
        return array_module(dx).cumsum(dx, axis=self.axis)


def cumsum(input, dim=None, *, dtype=None, axis=None) -> Tensor:
    """Running sum along dim; integers and bools give int64."""
    x = _tensor(input)
    dim, _ = _reduce_args("cumsum", dim, False, axis, None)
    if dim is None:
        raise TypeError("cumsum: missing the dim argument")
    if dtype is not None:
        x = x.to(dtype)
    elif x.dtype.kind in "biu":
        x = x.to(np.int64)
    if x.ndim == 0:
        _dim(dim, 1, "cumsum")
        return clone(x)
    return Cumsum.apply(x, axis=_dim(dim, x.ndim, "cumsum"))


class Cumprod(Function):
    """Running product y_j = prod_{i<=j} x_i. Rules divide by x when it has no zero; else they take the
    products without x_i one i at a time (dy_j/dx_i = prod_{k<=j, k!=i} x_k), exact as PyTorch's."""

    saves_output = True

    def forward(self, x, *, axis):
        self.x, self.axis = x, axis
        self.y = array_module(x).cumprod(x, axis=axis)
        return self.y

    def _without(self, i):  # (..., n): the running products with x_i replaced by 1 (axis last)
        xp = array_module(self.x)
        x = xp.moveaxis(self.x, self.axis, -1)
        x = xp.where(array_module(_raw(x)).arange(x.shape[-1]) == i, 1, x)  # x_i = 1, out of place
        return xp.cumprod(x, axis=-1)

    def backward(self, g):
        xp, ax = array_module(g), self.axis
        if not (self.x == 0).any():
            return xp.flip(xp.cumsum(xp.flip(g * self.y, ax), axis=ax), ax) / self.x
        gl = xp.moveaxis(g, ax, -1)
        gx = xp.stack([(gl[..., i:] * self._without(i)[..., i:]).sum(-1) for i in range(gl.shape[-1])], -1)
        return xp.moveaxis(gx, -1, ax)

    def jvp(self, dx):
        xp, ax = array_module(dx), self.axis
        if not (self.x == 0).any():
            return self.y * xp.cumsum(dx / self.x, axis=ax)
        dl = xp.moveaxis(dx, ax, -1)
        out = xp.zeros(dl.shape, dtype=self.y.dtype)
        for i in range(dl.shape[-1]):
            out[..., i:] += dl[..., i : i + 1] * self._without(i)[..., i:]
        return xp.moveaxis(out, -1, ax)


def cumprod(input, dim, *, dtype=None) -> Tensor:
    """Running product along dim; integers and bools give int64."""
    x = _tensor(input)
    if dtype is not None:
        x = x.to(dtype)
    elif x.dtype.kind in "biu":
        x = x.to(np.int64)
    if x.ndim == 0:
        _dim(dim, 1, "cumprod")
        return clone(x)
    return Cumprod.apply(x, axis=_dim(dim, x.ndim, "cumprod"))


def logcumsumexp(input, dim) -> Tensor:
    """log(cumsum(exp(x))) along dim, shifted by the slice's maximum (a running sum far below it underflows)."""
    x = _floating(input)
    d = _dim(dim, x.ndim, "logcumsumexp")
    top = x.array.max(axis=d, keepdims=True)
    m = _constant(_xp(x).where(_xp(x).isfinite(top), top, 0))
    return add(log(cumsum(exp(sub(x, m)), d)), m)


def _scan_extreme(input, dim, op: str, largest: bool):
    """cummax / cummin: running extreme and its index (the latest on ties, as PyTorch), by doubling steps."""
    x = _tensor(input)
    d = _dim(dim, builtins.max(x.ndim, 1), op)
    if x.ndim == 0:
        return (x, _constant(_xp(x).zeros((), dtype=np.int64)))
    xp = _xp(x)
    vals = xp.moveaxis(x.array, d, -1)  # (..., n)
    idx = xp.broadcast_to(xp.arange(vals.shape[-1]), vals.shape)
    k = 1
    while k < vals.shape[-1]:  # Hillis-Steele scan: after the step for k, each entry covers 2k positions
        a, b, ia, ib = vals[..., :-k], vals[..., k:], idx[..., :-k], idx[..., k:]
        later = (b >= a) if largest else (b <= a)
        later = later | xp.isnan(b) if vals.dtype.kind == "f" else later
        vals = xp.concatenate([vals[..., :k], xp.where(later, b, a)], -1)
        idx = xp.concatenate([idx[..., :k], xp.where(later, ib, ia)], -1)
        k *= 2
    indices = xp.moveaxis(idx, -1, d).astype(np.int64)
    return gather(x, d, indices), _constant(indices)


CummaxResult = namedtuple("cummax", ["values", "indices"])
CumminResult = namedtuple("cummin", ["values", "indices"])


def cummax(input, dim):
    """(values, indices): the running maximum along dim and where it was reached."""
    return CummaxResult(*_scan_extreme(input, dim, "cummax", True))


def cummin(input, dim):
    return CumminResult(*_scan_extreme(input, dim, "cummin", False))


def std_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """(std, mean) over dim."""
    x = _tensor(input)
    return std(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim)


def var_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """(var, mean) over dim."""
    x = _tensor(input)
    return var(x, dim, unbiased, keepdim, correction=correction), mean(x, dim, keepdim)


def _vector_norm(x: Tensor, ord, dim, keepdim: bool) -> Tensor:
    """The p-norm over dim (None: all); the gradient at a zero vector is 0, as PyTorch's."""
    x = _floating(x)
    if ord == 2:
        s = sum(mul(x, x), dim, keepdim)
        zero = s.array == 0
        return where(zero, 0.0, sqrt(where(zero, 1.0, s)))  # no 0 * inf in the branch where() drops
    if ord == np.inf:
        return amax(abs(x), dim, keepdim)
    if ord == -np.inf:
        return amin(abs(x), dim, keepdim)
    if ord == 0:
        return _constant((x.array != 0).sum(axis=dim, keepdims=keepdim).astype(x.dtype))
    if ord == 1:
        return sum(abs(x), dim, keepdim)
    if not isinstance(ord, (int, float)) or isinstance(ord, bool):
        raise ValueError(f"vector_norm: ord must be a number, got {ord!r}")
    return pow(sum(pow(abs(x), float(ord)), dim, keepdim), 1.0 / ord)


def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None, *, axis=None, keepdims=None) -> Tensor:
    """torch.norm: the p-norm of the elements over dim (all by default); 'fro' is the 2-norm."""
    x = _tensor(input)
    dim, keepdim = _reduce_args("norm", dim, keepdim, axis, keepdims)
    if dtype is not None:
        x = x.to(dtype)
    if p == "nuc":
        raise NotImplementedError("norm: p='nuc' (the nuclear norm) needs an SVD; toynn has none")
    if p is None or p == "fro":
        p = 2
    if isinstance(p, str):
        raise ValueError(f"norm: p must be a number, 'fro' or 'nuc', got {p!r}")
    return _vector_norm(x, p, _dim(dim, x.ndim, "norm"), keepdim)


def dist(input, other, p: float = 2) -> Tensor:
    """The p-norm of input - other."""
    return norm(sub(input, other), p)


def renorm(input, p, dim, maxnorm) -> Tensor:
    """Each slice along dim scaled down to p-norm maxnorm where its norm exceeds it."""
    x = _floating(input)
    d = _dim(dim, x.ndim, "renorm")
    n = _vector_norm(x, p, tuple(k for k in range(x.ndim) if k != d), True)
    return mul(x, where(n.array > maxnorm, div(maxnorm, add(n, 1e-7)), 1.0))


# ---------------------------------------------------------------------------------------------
# Sorting and selecting: indices come from NumPy; values are gathered, so they are differentiable


SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])
KthvalueResult = namedtuple("kthvalue", ["values", "indices"])
MedianResult = namedtuple("median", ["values", "indices"])
ModeResult = namedtuple("mode", ["values", "indices"])


def argsort(input, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """Indices that sort x along dim (a stable sort always: equal values keep their order)."""
    x = _tensor(input)
    xp = _xp(x)
    if x.ndim == 0:
        _dim(dim, 1, "argsort")
        return _constant(xp.zeros((), dtype=np.int64))
    a = x.array
    if descending:  # negated, a stable ascending sort keeps ties in their order, as a stable descending one does
        a = ~a if a.dtype == np.bool_ else (np.iinfo(a.dtype).max - a if a.dtype.kind == "u" else -a)
    return _constant(xp.argsort(a, axis=_dim(dim, x.ndim, "argsort"), kind="stable").astype(np.int64))


def sort(input, dim: int = -1, descending: bool = False, stable: bool = False):
    """(values, indices) sorted along dim; the values' gradient goes back through the indices."""
    x = _tensor(input)
    i = argsort(x, dim, descending, stable)
    return SortResult(gather(x, dim, i) if x.ndim else clone(x), i)


def msort(input) -> Tensor:
    """Sorted along dim 0."""
    return sort(input, 0).values


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """(values, indices) of the k largest (or smallest) along dim."""
    x = _tensor(input)
    d = _dim(dim, builtins.max(x.ndim, 1), "topk")
    n = x.shape[d] if x.ndim else 1
    if not 0 <= k <= n:
        raise IndexError(f"topk: k={k} is out of range for dim {dim} of size {n} (shape {tuple(x.shape)})")
    i = narrow(argsort(x, d, descending=largest), d, 0, k) if x.ndim else argsort(x)
    return TopkResult(gather(x, d, i) if x.ndim else clone(x), i)


def kthvalue(input, k: int, dim: int = -1, keepdim: bool = False):
    """(values, indices) of the k-th smallest element along dim (k counts from 1)."""
    x = _tensor(input)
    d = _dim(dim, x.ndim, "kthvalue")
    if not 1 <= k <= x.shape[d]:
        raise IndexError(f"kthvalue: k={k} is out of range for dim {dim} of size {x.shape[d]} (shape {tuple(x.shape)})")
    i = narrow(argsort(x, d), d, k - 1, 1)
    v = gather(x, d, i)
    return KthvalueResult(v, i) if keepdim else KthvalueResult(squeeze(v, d), squeeze(i, d))


def _pick_sorted(x: Tensor, d: int, pos, keepdim: bool):
    """(values, indices) at sorted position pos (an int array of x's shape with dim d of size 1) along d."""
    xp = _xp(x)
    order = xp.argsort(x.array, axis=d, kind="stable")
    i = xp.take_along_axis(order, pos, axis=d).astype(np.int64)
    v = gather(x, d, i)
    return (v, _constant(i)) if keepdim else (squeeze(v, d), _constant(i.squeeze(d)))


def _median(input, dim, keepdim: bool, op: str, skip_nan: bool):
    x = _tensor(input)
    _check_nonempty(x, op)
    flat = dim is None
    if flat:
        x = reshape(x, -1)
    d = _dim(0 if flat else dim, builtins.max(x.ndim, 1), op)
    if x.ndim == 0:
        return (x, _constant(_xp(x).zeros((), dtype=np.int64))) if not flat else x
    xp = _xp(x)
    nan = xp.isnan(x.array).sum(axis=d, keepdims=True) if x.dtype.kind == "f" else xp.zeros((), dtype=np.int64)
    n = x.shape[d]
    if skip_nan:
        pos = xp.maximum(n - nan - 1, 0) // 2
    else:  # PyTorch's median is nan where a nan is: NumPy sorts nan last, just after the n - #nan numbers
        pos = xp.where(nan > 0, n - nan, (n - 1) // 2)
    pos = xp.broadcast_to(pos, x.shape[:d] + (1,) + x.shape[d + 1 :]).astype(np.int64)
    v, i = _pick_sorted(x, d, pos, keepdim)
    return v if flat else MedianResult(v, i)


def median(input, dim=None, keepdim: bool = False):
    """The lower median (of all elements, or (values, indices) along dim); nan if the slice has a nan."""
    return _median(input, dim, keepdim, "median", skip_nan=False)


def nanmedian(input, dim=None, keepdim: bool = False):
    """median ignoring nan."""
    return _median(input, dim, keepdim, "nanmedian", skip_nan=True)


def mode(input, dim: int = -1, keepdim: bool = False):
    """(values, indices): the most frequent value along dim (the smallest on ties) and its last position."""
    x = _tensor(input)
    d = _dim(dim, builtins.max(x.ndim, 1), "mode")
    if x.ndim == 0:
        return ModeResult(x, _constant(_xp(x).zeros((), dtype=np.int64)))
    xp = _xp(x)
    a = xp.moveaxis(x.array, d, -1)  # (..., n)
    s = xp.sort(a, axis=-1)
    counts = (s[..., :, None] == s[..., None, :]).sum(-1)  # (..., n): how often each sorted value occurs
    value = xp.take_along_axis(s, counts.argmax(-1)[..., None], -1)  # the first maximum: the smallest value
    n = a.shape[-1]
    last = n - 1 - xp.flip(a == value, -1).argmax(-1)  # (...,): its last position
    i = xp.moveaxis(last[..., None], -1, d).astype(np.int64)
    v = gather(x, d, i)
    return ModeResult(v, _constant(i)) if keepdim else ModeResult(squeeze(v, d), _constant(i.squeeze(d)))


def _quantile(input, q, dim, keepdim: bool, interpolation: str, op: str, skip_nan: bool) -> Tensor:
    x = _floating(input)
    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise ValueError(
            f"{op}: interpolation must be 'linear', 'lower', 'higher', 'midpoint' or 'nearest', got {interpolation!r}"
        )
    qs = q.array if isinstance(q, Tensor) else np.asarray(q, dtype=np.float64)
    qs = qs.get() if hasattr(qs, "get") and not isinstance(qs, np.ndarray) else np.asarray(qs)
    if ((qs < 0) | (qs > 1)).any():
        raise ValueError(f"{op}: q must be in [0, 1], got {qs.tolist()}")
    if qs.ndim > 1:
        raise ShapeError(f"{op}: q must be a scalar or a 1-D tensor, got shape {tuple(qs.shape)}")
    flat = dim is None
    src = reshape(x, -1) if flat else x
    d = _dim(0 if flat else dim, builtins.max(src.ndim, 1), op)
    xp = _xp(x)
    nan = xp.isnan(src.array).sum(axis=d, keepdims=True)  # (..., 1, ...)
    n = src.shape[d]
    count = n - nan if skip_nan else xp.full(nan.shape, n)
    ordered = sort(src, d).values  # nan sorts last
    results = []
    for qv in np.atleast_1d(qs).tolist():
        pos = qv * (xp.maximum(count, 1) - 1)
        lo, hi = xp.floor(pos).astype(np.int64), xp.ceil(pos).astype(np.int64)
        frac_ = (pos - lo).astype(x.dtype)
        if interpolation == "nearest":
            lo = hi = xp.round(pos).astype(np.int64)
        v_lo, v_hi = gather(ordered, d, lo), gather(ordered, d, hi)
        if interpolation in ("linear", "nearest"):
            v = add(v_lo, mul(_constant(frac_ if interpolation == "linear" else frac_ * 0), sub(v_hi, v_lo)))
        elif interpolation == "lower":
            v = v_lo
        elif interpolation == "higher":
            v = v_hi
        else:
            v = mul(add(v_lo, v_hi), 0.5)
        bad = (count == 0) if skip_nan else (nan > 0)
        v = where(bad, np.nan, v)
        if flat:
            v = reshape(v, *([1] * x.ndim)) if keepdim else reshape(v, ())
        elif not keepdim:
            v = squeeze(v, d)
        results.append(v)
    return stack(results) if qs.ndim == 1 else results[0]


def quantile(input, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear") -> Tensor:
    """The q-th quantiles (q a number or 1-D tensor in [0, 1]) over dim; nan where the slice has a nan."""
    return _quantile(input, q, dim, keepdim, interpolation, "quantile", skip_nan=False)


def nanquantile(input, q, dim=None, keepdim: bool = False, *, interpolation: str = "linear") -> Tensor:
    """quantile ignoring nan."""
    return _quantile(input, q, dim, keepdim, interpolation, "nanquantile", skip_nan=True)


def unique(input, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """The distinct values (sorted), and optionally where each element went and how often each occurs."""
    x = _tensor(input)
    xp = _xp(x)
    axis = None if dim is None else _dim(dim, x.ndim, "unique")
    out = xp.unique(x.array, return_inverse=True, return_counts=True, axis=axis)
    values, inverse, counts = out
    if axis is None:
        inverse = inverse.reshape(x.shape)
    else:
        inverse = inverse.reshape(-1)
    results = [_constant(values)]
    if return_inverse:
        results.append(_constant(inverse.astype(np.int64)))
    if return_counts:
        results.append(_constant(counts.astype(np.int64)))
    return results[0] if len(results) == 1 else tuple(results)


def unique_consecutive(input, return_inverse: bool = False, return_counts: bool = False, dim=None):
    """Each run of equal consecutive values (slices along dim) collapsed to one."""
    x = _tensor(input)
    xp = _xp(x)
    a = x.array.reshape(-1) if dim is None else xp.moveaxis(x.array, _dim(dim, x.ndim, "unique_consecutive"), 0)
    if a.shape[0] == 0:
        starts = xp.zeros(0, dtype=bool)
    else:
        change = (a[1:] != a[:-1]).reshape(a.shape[0] - 1, -1).any(axis=1)
        starts = xp.concatenate([xp.ones(1, dtype=bool), change])
    values = a[starts]
    if dim is not None:
        values = xp.moveaxis(values, 0, _dim(dim, x.ndim, "unique_consecutive"))
    results = [_constant(values)]
    if return_inverse:
        inverse = xp.cumsum(starts) - 1
        results.append(_constant((inverse.reshape(x.shape) if dim is None else inverse).astype(np.int64)))
    if return_counts:
        edges = xp.concatenate([xp.nonzero(starts)[0], xp.asarray([a.shape[0]])])
        results.append(_constant(xp.diff(edges).astype(np.int64)))
    return results[0] if len(results) == 1 else tuple(results)


def bincount(input, weights=None, minlength: int = 0) -> Tensor:
    """How often each value 0..max occurs in a 1-D non-negative integer tensor (summing weights if given)."""
    x = _tensor(input)
    if x.ndim != 1 or x.dtype.kind not in "iu":
        raise ShapeError(f"bincount: expected a 1-D integer tensor, got shape {tuple(x.shape)} and dtype {x.dtype}")
    if x.array.size and int(x.array.min()) < 0:
        raise ValueError("bincount: the input must not have negative values")
    if weights is None:
        return _constant(_xp(x).bincount(x.array, minlength=minlength).astype(np.int64))
    w = _tensor(weights)
    out = _xp(x).bincount(x.array, weights=w.array, minlength=minlength)
    return _constant(out.astype(w.dtype if w.dtype.kind == "f" else np.float64))


def histc(input, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """Counts in `bins` equal bins over [min, max] (the data's range when both are 0); outside values are dropped."""
    x = _floating(input)
    lo, hi = float(min), float(max)
    if lo == hi == 0 and x.array.size:
        lo, hi = float(x.array.min()), float(x.array.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if lo > hi:
        raise ValueError(f"histc: max must be larger than min, got min={min} and max={max}")
    counts, _ = _xp(x).histogram(x.array, bins=bins, range=(lo, hi))
    return _constant(counts.astype(x.dtype))


HistogramResult = namedtuple("histogram", ["hist", "bin_edges"])


def histogram(input, bins=100, *, range=None, weight=None, density: bool = False):
    """(hist, bin_edges) as NumPy's histogram; bins is a count or a 1-D tensor of edges."""
    x = _floating(input)
    edges = bins.array if isinstance(bins, Tensor) else bins
    w = None if weight is None else _tensor(weight).array
    hist, edges = _xp(x).histogram(x.array, bins=edges, range=range, weights=w, density=density)
    return HistogramResult(_constant(hist.astype(x.dtype)), _constant(edges.astype(x.dtype)))


def searchsorted(sorted_sequence, input, *, out_int32: bool = False, right: bool = False, side=None, sorter=None):
    """Where each value would go in sorted_sequence (its last dim, one row per leading index) to keep it sorted."""
    seq = _tensor(sorted_sequence)
    values = _tensor(input, seq)
    side = side or ("right" if right else "left")
    xp = _xp(seq)
    s = seq.array
    if sorter is not None:
        s = xp.take_along_axis(s, _index_array(sorter, seq, "searchsorted"), -1)
    if s.ndim <= 1:
        out = xp.searchsorted(s, values.array, side=side)
    else:
        if values.shape[:-1] != s.shape[:-1]:
            raise ShapeError(
                f"searchsorted: sorted_sequence {tuple(seq.shape)} and input {tuple(values.shape)} must share all "
                "dims but the last"
            )
        rows_s, rows_v = s.reshape(-1, s.shape[-1]), values.array.reshape(-1, values.shape[-1])
        out = xp.stack([xp.searchsorted(r, v, side=side) for r, v in zip(rows_s, rows_v)]).reshape(values.shape)
    return _constant(xp.asarray(out).astype(np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32: bool = False, right: bool = False) -> Tensor:
    """The bucket index of each value: boundaries[i-1] < x <= boundaries[i] (< and >= with right=True)."""
    b = _tensor(boundaries)
    if b.ndim != 1:
        raise ShapeError(f"bucketize: boundaries must be 1-D, got shape {tuple(b.shape)}")
    return searchsorted(b, input, out_int32=out_int32, right=right)


# ---------------------------------------------------------------------------------------------
# Indexing along a dim: gather, scatter, index_select ... as advanced indexes, so GetItem and SetItem
# (and IndexAdd, the adjoint of GetItem) carry the gradients


def _along(index, dim: int) -> tuple:
    """The advanced index that picks index[..., i, ...] along dim, and the position itself along the others."""
    xp = array_module(index)
    out = []
    for k, n in enumerate(index.shape):
        if k == dim:
            out.append(index)
        else:
            shape = [1] * index.ndim
            shape[k] = n
            out.append(xp.arange(n).reshape(shape))
    return tuple(out)


def _check_along(op: str, x: Tensor, d: int, idx, src: Tensor | None = None) -> None:
    if idx.ndim != x.ndim:
        raise ShapeError(
            f"{op}: index has {idx.ndim} dims (shape {tuple(idx.shape)}) but input has {x.ndim} "
            f"(shape {tuple(x.shape)})"
        )
    for k, (i, n) in enumerate(zip(idx.shape, x.shape)):
        if k != d and i > n:
            raise ShapeError(
                f"{op}: index has shape {tuple(idx.shape)} but input has shape {tuple(x.shape)}: index.size({k}) "
                f"must be at most input.size({k}) for every dim but dim={d}"
            )
    if src is not None and (src.ndim != idx.ndim or builtins.any(i > s for i, s in zip(idx.shape, src.shape))):
        raise ShapeError(
            f"{op}: index has shape {tuple(idx.shape)} but src has shape {tuple(src.shape)}; "
            "src must be at least as large"
        )
    if idx.size and (int(idx.min()) < -x.shape[d] or int(idx.max()) >= x.shape[d]):
        raise IndexError(f"{op}: index out of range for dim {d} of size {x.shape[d]} (input shape {tuple(x.shape)})")


def gather(input, dim: int, index, *, sparse_grad: bool = False) -> Tensor:
    """out[i][j][k] = input[index[i][j][k]][j][k] for dim=0 (and so on): values picked along dim."""
    x = _tensor(input)
    d = _dim(dim, builtins.max(x.ndim, 1), "gather")
    idx = _index_array(index, x, "gather")
    idx = idx.reshape(1) if idx.ndim == 0 and x.ndim <= 1 else idx  # PyTorch: a 0-d index is 1-d there
    _check_along("gather", x, d, idx)
    return GetItem.apply(x, index=_along(idx, d))


def take_along_dim(input, indices, dim=None) -> Tensor:
    """input's values at indices along dim (the shapes broadcast except along dim); dim=None flattens first."""
    x = _tensor(input)
    idx = _index_array(indices, x, "take_along_dim")
    if dim is None:
        return GetItem.apply(reshape(x, -1), index=idx.reshape(-1))
    d = _dim(dim, x.ndim, "take_along_dim")
    if idx.ndim != x.ndim:
        raise ShapeError(
            f"take_along_dim: input {tuple(x.shape)} and indices {tuple(idx.shape)} must have the same number of dims"
        )
    common = list(np.broadcast_shapes(x.shape[:d] + (1,) + x.shape[d + 1 :], idx.shape[:d] + (1,) + idx.shape[d + 1 :]))
    xs, is_ = list(common), list(common)
    xs[d], is_[d] = x.shape[d], idx.shape[d]
    x = broadcast_to(x, tuple(xs)) if tuple(xs) != x.shape else x
    idx = _xp(x).broadcast_to(idx, tuple(is_))
    return GetItem.apply(x, index=_along(idx, d))


def _source(op: str, src, x: Tensor, idx):
    """scatter's src as x's dtype, cut to index's shape (PyTorch reads only that corner); a number fills it."""
    if isinstance(src, Tensor) or isinstance(src, (list, np.ndarray)) or hasattr(src, "__cuda_array_interface__"):
        s = _tensor(src)
        if s.ndim != idx.ndim or builtins.any(i > n for i, n in zip(idx.shape, s.shape)):
            raise ShapeError(
                f"{op}: index has shape {tuple(idx.shape)} but src has shape {tuple(s.shape)}; src must be as large"
            )
        if s.shape != idx.shape:
            s = getitem(s, tuple(slice(0, n) for n in idx.shape))
    else:
        s = broadcast_to(_tensor(src, x), idx.shape)
    return s if s.dtype == x.dtype else s.to(x.dtype)


def scatter(input, dim: int, index, src=None, *, value=None, reduce=None) -> Tensor:
    """A copy of input with src (or value) written at index along dim: the inverse placement of gather."""
    x = _tensor(input)
    d = _dim(dim, builtins.max(x.ndim, 1), "scatter")
    idx = _index_array(index, x, "scatter")
    idx = idx.reshape(1) if idx.ndim == 0 and x.ndim <= 1 else idx  # PyTorch: a 0-d index is 1-d there
    _check_along("scatter", x, d, idx)
    s = _source("scatter", value if src is None else src, x, idx)
    if reduce == "add":
        return IndexAdd.apply(x, s, index=_along(idx, d))
    if reduce is not None:
        raise NotImplementedError(f"scatter: reduce={reduce!r} is not implemented; only 'add' (or None)")
    return SetItem.apply(x, s, index=_along(idx, d))


class IndexAdd(Function):
    """x with v added at index, repeated positions adding up: the adjoint of GetItem's gather."""

    def forward(self, x, v, *, index):
        self.index = index
        y = x.copy()
        _scatter_add_at(array_module(x), y, index, v)
        return y

    def backward(self, g):
        return g, (g[self.index] if self.needs_input_grad[1] else None)

    def jvp(self, dx, dv):
        y = dx.copy()
        _scatter_add_at(array_module(dx), y, self.index, dv)
        return y


def scatter_add(input, dim: int, index, src) -> Tensor:
    """A copy of input with src added at index along dim (repeated indices add up)."""
    x = _tensor(input)
    d = _dim(dim, builtins.max(x.ndim, 1), "scatter_add")
    idx = _index_array(index, x, "scatter_add")
    idx = idx.reshape(1) if idx.ndim == 0 and x.ndim <= 1 else idx  # PyTorch: a 0-d index is 1-d there
    _check_along("scatter_add", x, d, idx)
    return IndexAdd.apply(x, _source("scatter_add", src, x, idx), index=_along(idx, d))


def _dim_index(op: str, x: Tensor, dim, index) -> tuple:
    """(slice(None), ..., index) putting a 1-D index at dim."""
    d = _dim(dim, builtins.max(x.ndim, 1), op)
    idx = _index_array(index, x, op)
    if idx.ndim > 1:
        raise ShapeError(f"{op}: index must be 1-D, got shape {tuple(idx.shape)}")
    if idx.size and (int(idx.min()) < -x.shape[d] or int(idx.max()) >= x.shape[d]):
        raise IndexError(f"{op}: index out of range for dim {d} of size {x.shape[d]} (input shape {tuple(x.shape)})")
    return (slice(None),) * d + (idx.reshape(-1),)


def index_select(input, dim: int, index) -> Tensor:
    """The slices of input along dim at the (1-D) index."""
    x = _tensor(input)
    return GetItem.apply(x, index=_dim_index("index_select", x, dim, index))


def index_add(input, dim: int, index, source, *, alpha=1) -> Tensor:
    """A copy of input with alpha * source[i] added to slice index[i] along dim."""
    x = _tensor(input)
    at = _dim_index("index_add", x, dim, index)
    s = _tensor(source, x)
    s = s if alpha == 1 else mul(s, alpha)
    return IndexAdd.apply(x, s if s.dtype == x.dtype else s.to(x.dtype), index=at)


def index_copy(input, dim: int, index, source) -> Tensor:
    """A copy of input with slice index[i] along dim replaced by source[i]."""
    x = _tensor(input)
    s = _tensor(source, x)
    return SetItem.apply(x, s if s.dtype == x.dtype else s.to(x.dtype), index=_dim_index("index_copy", x, dim, index))


def index_fill(input, dim: int, index, value) -> Tensor:
    """A copy of input with the slices at index along dim set to value."""
    x = _tensor(input)
    at = _dim_index("index_fill", x, dim, index)
    v = _tensor(value, x)
    return SetItem.apply(x, v if v.dtype == x.dtype else v.to(x.dtype), index=at)


def index_put(input, indices, values, accumulate: bool = False) -> Tensor:
    """A copy of input with input[indices] = values (+= with accumulate, repeated indices adding up)."""
    x = _tensor(input)
    at = normalize_index(tuple(indices))
    at = tuple(_xp(x).asarray(i) if isinstance(i, np.ndarray) and _xp(x) is not np else i for i in at)
    v = _tensor(values, x)
    v = v if v.dtype == x.dtype else v.to(x.dtype)
    return (IndexAdd if accumulate else SetItem).apply(x, v, index=at)


def masked_fill(input, mask, value) -> Tensor:
    """input with value where mask is True (mask broadcasts); input's dtype is kept."""
    x = _tensor(input)
    m = _mask_array(mask, x, "masked_fill")
    v = _tensor(value, x)
    if v.ndim:
        raise ShapeError(f"masked_fill: value must be a number or a 0-d tensor, got shape {tuple(v.shape)}")
    return where(m, v if v.dtype == x.dtype else v.to(x.dtype), x)


def masked_select(input, mask) -> Tensor:
    """The elements of input where mask is True, as a 1-D tensor (mask and input broadcast)."""
    x = _tensor(input)
    m = _mask_array(mask, x, "masked_select")
    shape = np.broadcast_shapes(x.shape, m.shape)
    if x.shape != shape:
        x = broadcast_to(x, shape)
    return GetItem.apply(x, index=_xp(x).broadcast_to(m, shape))


def masked_scatter(input, mask, source) -> Tensor:
    """input with the positions where mask is True filled, in order, by source's first elements."""
    x = _tensor(input)
    m = _xp(x).broadcast_to(_mask_array(mask, x, "masked_scatter"), x.shape)
    n = int(m.sum())
    s = reshape(_tensor(source, x), -1)
    if s.shape[0] < n:
        raise ShapeError(f"masked_scatter: source has {s.shape[0]} elements but mask selects {n}")
    return SetItem.apply(x, getitem(s, slice(0, n)).to(x.dtype), index=m)


def take(input, index) -> Tensor:
    """input, flattened, at index (of any shape)."""
    x = _tensor(input)
    idx = _index_array(index, x, "take")
    n = x.array.size
    if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
        raise IndexError(f"take: index out of range for a tensor of {n} elements (shape {tuple(x.shape)})")
    return GetItem.apply(reshape(x, -1), index=idx)


def nonzero(input, *, as_tuple: bool = False):
    """The indices of nonzero elements: an (n, ndim) int64 tensor, or one 1-D tensor per dim with as_tuple."""
    x = _tensor(input)
    xp = _xp(x)
    if as_tuple:
        return tuple(_constant(i.astype(np.int64)) for i in xp.nonzero(xp.atleast_1d(x.array)))
    return _constant(xp.argwhere(x.array).astype(np.int64))


def argwhere(input) -> Tensor:
    return nonzero(input)


def narrow(input, dim: int, start: int, length: int) -> Tensor:
    """input[..., start:start + length, ...] along dim (a view)."""
    x = _tensor(input)
    d = _dim(dim, x.ndim, "narrow")
    n = x.shape[d]
    start = int(start)
    if not -n <= start <= n or length < 0 or (start % n if n else 0) + length > n:
        raise IndexError(
            f"narrow: start {start} and length {length} exceed dim {dim} of size {n} (shape {tuple(x.shape)})"
        )
    start = start % n if n else 0
    return getitem(x, (slice(None),) * d + (slice(start, start + length),))


def select(input, dim: int, index: int) -> Tensor:
    """input[..., index, ...] along dim: that dim removed."""
    x = _tensor(input)
    d = _dim(dim, x.ndim, "select")
    if not -x.shape[d] <= index < x.shape[d]:
        raise IndexError(
            f"select: index {index} is out of range for dim {dim} of size {x.shape[d]} (shape {tuple(x.shape)})"
        )
    return getitem(x, (slice(None),) * d + (int(index),))


def unbind(input, dim: int = 0) -> tuple:
    """The slices along dim, as a tuple."""
    x = _tensor(input)
    d = _dim(dim, x.ndim, "unbind")
    return tuple(select(x, d, i) for i in range(x.shape[d]))


def movedim(input, source, destination) -> Tensor:
    """Dims source moved to positions destination; the others keep their order."""
    x = _tensor(input)
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim: source {source} and destination {destination} must have the same length")
    src = [_dim(s, x.ndim, "movedim") for s in src]
    dst = [_dim(s, x.ndim, "movedim") for s in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated dims in source {source} or destination {destination}")
    order = [k for k in range(x.ndim) if k not in src]
    for s, t in sorted(zip(dst, src)):
        order.insert(s, t)
    return Permute.apply(x, dims=tuple(order)) if x.ndim else x


moveaxis = movedim


def swapaxes(input, axis0: int, axis1: int) -> Tensor:
    return transpose(_tensor(input), axis0, axis1)


swapdims = swapaxes


def t(input) -> Tensor:
    """The transpose of a matrix; a vector or a number as it is."""
    x = _tensor(input)
    if x.ndim > 2:
        raise ShapeError(
            f"t: expects a tensor with <= 2 dimensions, but the input has {x.ndim} (shape {tuple(x.shape)})"
        )
    return transpose(x, 0, 1) if x.ndim == 2 else x


def adjoint(input) -> Tensor:
    """The transpose of the last two dims (the conjugate too, which a real tensor does not need)."""
    return transpose(_tensor(input), -2, -1)


# ---------------------------------------------------------------------------------------------
# Splitting, joining, repeating


def _pieces(x: Tensor, d: int, sizes) -> tuple:
    out, start = [], 0
    for n in sizes:
        out.append(narrow(x, d, start, n))
        start += n
    return tuple(out)


def split(tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces of split_size along dim (the last smaller), or of the sizes given in a list."""
    x = _tensor(tensor)
    d = _dim(dim, x.ndim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if builtins.sum(sizes) != n:
            raise ValueError(f"split: sizes {sizes} sum to {builtins.sum(sizes)}, not to the size {n} of dim {dim}")
    else:
        size = int(split_size_or_sections)
        if size <= 0 and n:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [builtins.min(size, n - s) for s in range(0, n, size)] if n else [0]
    return _pieces(x, d, sizes)


def chunk(input, chunks: int, dim: int = 0) -> tuple:
    """Up to `chunks` pieces of ceil(n / chunks) along dim (fewer when that covers the dim sooner)."""
    x = _tensor(input)
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[_dim(dim, x.ndim, "chunk")]
    return split(x, builtins.max(-(-n // chunks), 1), dim)


def tensor_split(input, indices_or_sections, dim: int = 0) -> tuple:
    """NumPy's array_split: k near-equal pieces (the first n % k one longer), or pieces cut at the indices."""
    x = _tensor(input)
    d = _dim(dim, x.ndim, "tensor_split")
    n = x.shape[d]
    if isinstance(indices_or_sections, Tensor) and indices_or_sections.ndim == 0:
        indices_or_sections = int(indices_or_sections.item())
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        if k <= 0:
            raise ValueError(f"tensor_split: the number of sections must be positive, got {k}")
        sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
        return _pieces(x, d, sizes)
    cuts = [builtins.min(builtins.max(int(i) if i >= 0 else int(i) + n, 0), n) for i in indices_or_sections]
    bounds = [0, *cuts, n]
    return tuple(narrow(x, d, builtins.min(a, n), builtins.max(b - a, 0)) for a, b in zip(bounds[:-1], bounds[1:]))


def _split_dim(op: str, x: Tensor, sections, d: int, min_ndim: int) -> tuple:
    if x.ndim < min_ndim:
        raise ShapeError(f"{op}: expects a tensor with at least {min_ndim} dims, got shape {tuple(x.shape)}")
    if isinstance(sections, int) and x.shape[d] % sections:
        raise ValueError(f"{op}: dim {d} of size {x.shape[d]} cannot be split into {sections} equal pieces")
    return tensor_split(x, sections, d)


def hsplit(input, sections) -> tuple:
    x = _tensor(input)
    return _split_dim("hsplit", x, sections, 1 if x.ndim > 1 else 0, 1)


def vsplit(input, sections) -> tuple:
    return _split_dim("vsplit", _tensor(input), sections, 0, 2)


def dsplit(input, sections) -> tuple:
    return _split_dim("dsplit", _tensor(input), sections, 2, 3)


def _atleast(tensors, n: int):
    """NumPy's placement of the new dims: (k,) -> (1, k) and (1, k, 1); (m, k) -> (m, k, 1)."""
    listed = len(tensors) == 1 and isinstance(tensors[0], (list, tuple))
    out = []
    for x in tensors[0] if listed else tensors:
        x = _tensor(x)
        if x.ndim < n:
            if x.ndim == 0:
                x = reshape(x, *(1,) * n)
            elif x.ndim == 1:
                x = reshape(x, *(1, x.shape[0], 1)[:n])
            else:
                x = reshape(x, *x.shape, 1)
        out.append(x)
    return out[0] if len(tensors) == 1 and not listed else tuple(out)


def atleast_1d(*tensors):
    return _atleast(tensors, 1)


def atleast_2d(*tensors):
    return _atleast(tensors, 2)


def atleast_3d(*tensors):
    return _atleast(tensors, 3)


def hstack(tensors) -> Tensor:
    """Concatenated along dim 1 (dim 0 for vectors)."""
    ts = [atleast_1d(t) for t in tensors]
    return cat(ts, 0 if ts and ts[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Concatenated along dim 0, vectors as rows."""
    return cat([atleast_2d(t) for t in tensors], 0)


row_stack = vstack


def dstack(tensors) -> Tensor:
    """Concatenated along dim 2 (depth)."""
    return cat([atleast_3d(t) for t in tensors], 2)


def column_stack(tensors) -> Tensor:
    """Vectors as columns, concatenated along dim 1."""
    ts = [_tensor(t) for t in tensors]
    return cat([reshape(t, -1, 1) if t.ndim < 2 else t for t in ts], 1)


def repeat(input, *sizes) -> Tensor:
    """Tensor.repeat: input tiled sizes[i] times along each dim (leading new dims for extra sizes)."""
    x = _tensor(input)
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise ShapeError(
            f"repeat: the number of repeat sizes ({len(sizes)}) cannot be smaller than the number of dims of the "
            f"tensor ({x.ndim}, shape {tuple(x.shape)})"
        )
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    inter = builtins.sum(((1, n) for n in shape), ())  # (1, s0, 1, s1, ...)
    grown = builtins.sum(((r, n) for r, n in zip(sizes, shape)), ())  # (r0, s0, r1, s1, ...)
    out = expand(reshape(x, *inter), *grown)
    return reshape(out, *[r * n for r, n in zip(sizes, shape)])


def tile(input, dims) -> Tensor:
    """NumPy's tile: input repeated dims[i] times along each dim (dims padded with 1s at the front)."""
    x = _tensor(input)
    dims = tuple(dims)
    return repeat(x, *((1,) * (x.ndim - len(dims)) + dims))


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None) -> Tensor:
    """Each element (or slice along dim) repeated `repeats` times in place; repeats may differ per element."""
    x = _tensor(input)
    if repeats is None:  # repeat_interleave(counts): 0 counts[0] times, 1 counts[1] times ...
        xp = _xp(x)
        return _constant(xp.repeat(xp.arange(x.shape[0]), x.array).astype(np.int64))
    if dim is None:
        x, dim = reshape(x, -1), 0
    d = _dim(dim, x.ndim, "repeat_interleave")
    xp = _xp(x)
    reps = repeats.array if isinstance(repeats, Tensor) else repeats
    if not isinstance(reps, int):
        reps = xp.asarray(reps) if isinstance(reps, xp.ndarray) else xp.asarray(np.asarray(reps))
        if reps.size == 1:
            reps = int(reps.reshape(()))
        elif reps.shape != (x.shape[d],):
            raise ShapeError(
                f"repeat_interleave: repeats has shape {tuple(reps.shape)} but dim {dim} has size {x.shape[d]}"
            )
    idx = xp.repeat(xp.arange(x.shape[d]), reps)
    return GetItem.apply(x, index=(slice(None),) * d + (idx,))


def flip(input, dims) -> Tensor:
    """The order along each of dims reversed."""
    x = _tensor(input)
    dims = [dims] if isinstance(dims, int) else list(dims)
    index = [slice(None)] * x.ndim
    for d in dims:
        index[_dim(d, x.ndim, "flip")] = slice(None, None, -1)
    return getitem(x, tuple(index))


def fliplr(input) -> Tensor:
    x = _tensor(input)
    if x.ndim < 2:
        raise ShapeError(f"fliplr: expects a tensor with at least 2 dims, got shape {tuple(x.shape)}")
    return flip(x, 1)


def flipud(input) -> Tensor:
    x = _tensor(input)
    if x.ndim < 1:
        raise ShapeError(f"flipud: expects a tensor with at least 1 dim, got shape {tuple(x.shape)}")
    return flip(x, 0)


def rot90(input, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotated by 90 degrees k times in the plane of dims, from the first towards the second (NumPy's rot90)."""
    x = _tensor(input)
    if len(dims) != 2 or x.ndim < 2:
        raise ShapeError(
            f"rot90: needs two dims of a tensor with at least 2 dims; got dims {dims}, shape {tuple(x.shape)}"
        )
    d0, d1 = _dim(dims[0], x.ndim, "rot90"), _dim(dims[1], x.ndim, "rot90")
    if d0 == d1:
        raise ValueError(f"rot90: the two dims must differ, got {dims}")
    k %= 4
    if k == 0:
        return x
    if k == 2:
        return flip(x, [d0, d1])
    if k == 1:
        return transpose(flip(x, d1), d0, d1)
    return flip(transpose(x, d0, d1), d1)


def roll(input, shifts, dims=None) -> Tensor:
    """Elements shifted along dims, wrapping around; dims=None shifts the flattened tensor."""
    x = _tensor(input)
    if dims is None:
        return reshape(roll(reshape(x, -1), shifts, 0), *x.shape)
    shifts = [shifts] if isinstance(shifts, int) else list(shifts)
    dims = [dims] if isinstance(dims, int) else list(dims)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    for s, d in zip(shifts, dims):
        d = _dim(d, x.ndim, "roll")
        n = x.shape[d]
        s = s % n if n else 0
        if s:
            x = cat([narrow(x, d, n - s, s), narrow(x, d, 0, n - s)], d)
    return x


# ---------------------------------------------------------------------------------------------
# Diagonals and triangles


def _diag_positions(xp, n1: int, n2: int, offset: int):
    """Row and column indices of the offset diagonal of an (n1, n2) matrix."""
    length = builtins.max(0, builtins.min(n1 - builtins.max(-offset, 0), n2 - builtins.max(offset, 0)))
    rows = xp.arange(length) + builtins.max(-offset, 0)
    return rows, rows + offset


def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The offset diagonal of the (dim1, dim2) planes, as a new last dim."""
    x = _tensor(input)
    d1, d2 = _dim(dim1, x.ndim, "diagonal"), _dim(dim2, x.ndim, "diagonal")
    if d1 == d2:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, got {dim1} and {dim2}")
    x = movedim(x, (d1, d2), (-2, -1))  # (..., n1, n2)
    rows, cols = _diag_positions(_xp(x), x.shape[-2], x.shape[-1], offset)
    return GetItem.apply(x, index=(Ellipsis, rows, cols))


def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Each last-dim vector of input placed on the offset diagonal of a new (dim1, dim2) plane of zeros."""
    x = _tensor(input)
    n = x.shape[-1] + builtins.abs(offset)
    xp = _xp(x)
    zeros = Tensor._wrap(xp.zeros(x.shape[:-1] + (n, n), dtype=x.dtype))
    rows, cols = _diag_positions(xp, n, n, offset)
    out = SetItem.apply(zeros, x, index=(Ellipsis, rows, cols))  # (..., n, n)
    return movedim(out, (-2, -1), (_dim(dim1, out.ndim, "diag_embed"), _dim(dim2, out.ndim, "diag_embed")))


def diag(input, diagonal: int = 0) -> Tensor:
    """A vector on the diagonal of a square matrix, or a matrix's diagonal as a vector."""
    x = _tensor(input)
    if x.ndim == 1:
        return diag_embed(x, diagonal)
    if x.ndim == 2:
        return globals()["diagonal"](x, diagonal)
    raise ShapeError(f"diag: expects a 1-D or 2-D tensor, got shape {tuple(x.shape)}")


def diagflat(input, offset: int = 0) -> Tensor:
    return diag_embed(reshape(_tensor(input), -1), offset)


def _triangle(op: str, x, diagonal: int, lower: bool) -> Tensor:
    x = _tensor(x)
    if x.ndim < 2:
        raise ShapeError(f"{op}: expects a tensor with at least 2 dims, got shape {tuple(x.shape)}")
    xp = _xp(x)
    n, m = x.shape[-2:]
    keep = xp.tri(n, m, diagonal, dtype=bool) if lower else ~xp.tri(n, m, diagonal - 1, dtype=bool)
    return where(keep, x, 0)


def tril(input, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (on and below the diagonal-th diagonal); zeros above."""
    return _triangle("tril", input, diagonal, lower=True)


def triu(input, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (on and above the diagonal-th diagonal); zeros below."""
    return _triangle("triu", input, diagonal, lower=False)


def trace(input) -> Tensor:
    """The sum of a matrix's diagonal."""
    x = _tensor(input)
    if x.ndim != 2:
        raise ShapeError(f"trace: expects a matrix, got shape {tuple(x.shape)}")
    return sum(diagonal(x))


# ---------------------------------------------------------------------------------------------
# Products: einsum (one Function) and the named products built on matmul and einsum


class Einsum(Function):
    """einsum with explicit labels. Operand i's gradient is the same contraction with g in its place, read
    back in i's labels: a repeated label (a diagonal) gets a fresh label tied to it by an identity matrix, and a
    label summed in operand i alone gets a vector of ones (its gradient is constant along it)."""

    def forward(self, *xs, ins, out):
        self.xs, self.ins, self.out = xs, ins, out
        return array_module(*xs).einsum(f"{','.join(ins)}->{out}", *xs, optimize=len(xs) > 2)

    def _grad_of(self, i, g):
        xp = array_module(g)
        sizes = {}
        for term, x in zip(self.ins, self.xs):
            for c, n in zip(term, x.shape):
                sizes[c] = builtins.max(sizes.get(c, 1), n)
        others = [(term, x) for j, (term, x) in enumerate(zip(self.ins, self.xs)) if j != i]
        fresh = (c for c in _LETTERS if c not in sizes)
        target, extra, seen = "", [], set()
        for c in self.ins[i]:
            if c in seen:
                f = next(fresh)
                extra.append((c + f, xp.eye(sizes[c], dtype=g.dtype)))
                target += f
            else:
                seen.add(c)
                target += c
        reachable = set(self.out).union(*[set(term) for term, _ in others])
        extra += [(c, xp.ones(sizes[c], dtype=g.dtype)) for c in sorted(seen - reachable)]
        terms = [self.out] + [term for term, _ in others + extra]
        arrays = [g] + [a for _, a in others + extra]
        return xp.einsum(f"{','.join(terms)}->{target}", *arrays, optimize=len(arrays) > 2)

    def backward(self, g):
        return tuple(self._grad_of(i, g) if need else None for i, need in enumerate(self.needs_input_grad))

    def jvp(self, *dxs):  # multilinear: one term per operand that carries a tangent
        xp = array_module(*dxs)
        equation = f"{','.join(self.ins)}->{self.out}"
        total = 0
        for i, dx in enumerate(dxs):
            if self.has_tangent[i]:
                total = total + xp.einsum(equation, *self.xs[:i], dx, *self.xs[i + 1 :], optimize=len(dxs) > 2)
        return total


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, as torch.einsum: 'ij,jk->ik', '...ij->...ji', 'ii->i', implicit output, lists."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    xs = [_tensor(x) for x in operands]
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(xs):
        raise ValueError(f"einsum: the equation {equation!r} has {len(ins)} operands but {len(xs)} tensors were given")
    used = [c for c in eq if c.isalpha()]
    free = [c for c in _LETTERS if c not in used]
    ell = builtins.max([x.ndim - len(t.replace("...", "")) for t, x in zip(ins, xs) if "..." in t], default=0)
    ell_labels = "".join(free[:ell])
    spelled = []
    for i, (term, x) in enumerate(zip(ins, xs)):
        if "..." in term:
            k = x.ndim - len(term.replace("...", ""))
            term = term.replace("...", ell_labels[ell - k :] if k else "")
        if len(term) != x.ndim or not builtins.all(c.isalpha() for c in term):
            raise ShapeError(f"einsum: operand {i} has shape {tuple(x.shape)} but its subscripts are {ins[i]!r}")
        spelled.append(term)
    if arrow:
        out = out.replace("...", ell_labels)
    else:  # implicit output: the broadcast dims, then the labels used once, in alphabetical order
        once = sorted(c for c in set(used) if used.count(c) == 1)
        out = ell_labels + "".join(once)
    for c in out:
        if c not in "".join(spelled):
            raise ValueError(f"einsum: output subscript {c!r} of {equation!r} appears in no operand")
    dtype = np.result_type(*[x.dtype for x in xs])
    xs = [x if x.dtype == dtype else x.to(dtype) for x in xs]
    return Einsum.apply(*xs, ins=tuple(spelled), out=out)


def tensordot(a, b, dims=2) -> Tensor:
    """Sum over the last `dims` dims of a and the first of b, or over the pairs of dims given as two lists."""
    a, b = _operands(a, b)
    if isinstance(dims, int):
        if dims < 0 or dims > builtins.min(a.ndim, b.ndim):
            raise ValueError(f"tensordot: dims={dims} must be in [0, {builtins.min(a.ndim, b.ndim)}]")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
        da, db = [_dim(d, a.ndim, "tensordot") for d in da], [_dim(d, b.ndim, "tensordot") for d in db]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise ShapeError(
                f"tensordot: dim {i} of a {tuple(a.shape)} and dim {j} of b {tuple(b.shape)} differ in size"
            )
    la, lb = _LETTERS[: a.ndim], list(_LETTERS[a.ndim : a.ndim + b.ndim])
    for i, j in zip(da, db):
        lb[j] = la[i]
    out = "".join(c for k, c in enumerate(la) if k not in da) + "".join(c for k, c in enumerate(lb) if k not in db)
    return einsum(f"{la},{''.join(lb)}->{out}", a, b)


def outer(input, vec2) -> Tensor:
    """The outer product of two vectors: (n,) and (m,) -> (n, m)."""
    a, b = _operands(input, vec2)
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer: expects two 1-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return mul(unsqueeze(a, 1), unsqueeze(b, 0))


ger = outer


def dot(input, other) -> Tensor:
    """The dot product of two 1-D tensors of the same length."""
    a, b = _operands(input, other)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ShapeError(
            f"dot: expects two 1-D tensors of the same length, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return matmul(a, b)


vdot = dot


def inner(input, other) -> Tensor:
    """Sum over the last dims of both (a number times a tensor when one is 0-d)."""
    a, b = _operands(input, other)
    if a.ndim == 0 or b.ndim == 0:
        return mul(a, b)
    return tensordot(a, b, ([-1], [-1]))


def mm(input, mat2) -> Tensor:
    """The product of two matrices: (n, k) @ (k, m)."""
    a, b = _operands(input, mat2)
    if a.ndim != 2 or b.ndim != 2:
        raise ShapeError(f"mm: expects two 2-D tensors, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def bmm(input, mat2) -> Tensor:
    """Batched matrix products: (b, n, k) @ (b, k, m)."""
    a, b = _operands(input, mat2)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise ShapeError(
            f"bmm: expects two 3-D tensors with the same batch size, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return matmul(a, b)


def mv(input, vec) -> Tensor:
    """A matrix times a vector: (n, m) @ (m,)."""
    a, b = _operands(input, vec)
    if a.ndim != 2 or b.ndim != 1:
        raise ShapeError(f"mv: expects a 2-D and a 1-D tensor, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def _scaled_sum(input, product: Tensor, beta, alpha) -> Tensor:
    """beta * input + alpha * product (input is ignored when beta is 0, as in PyTorch: nan does not leak)."""
    product = product if alpha == 1 else mul(product, alpha)
    if beta == 0:
        return product
    return add(input if beta == 1 else mul(input, beta), product)


def addmm(input, mat1, mat2, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2)."""
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (mat @ vec)."""
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * sum over the batch of batch1[i] @ batch2[i]."""
    return _scaled_sum(input, sum(bmm(batch1, batch2), 0), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * (batch1 @ batch2), batch by batch."""
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1) -> Tensor:
    """beta * input + alpha * outer(vec1, vec2)."""
    return _scaled_sum(input, outer(vec1, vec2), beta, alpha)


def chain_matmul(*matrices) -> Tensor:
    """The product of the matrices, left to right."""
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    if not matrices:
        raise ValueError("chain_matmul: expected at least one matrix")
    out = _tensor(matrices[0])
    for m in matrices[1:]:
        out = mm(out, m)
    return out


def kron(input, other) -> Tensor:
    """The Kronecker product: every element of input times a block of other."""
    a, b = _operands(input, other)
    n = builtins.max(a.ndim, b.ndim)
    sa, sb = (1,) * (n - a.ndim) + a.shape, (1,) * (n - b.ndim) + b.shape
    a = reshape(a, *builtins.sum(((s, 1) for s in sa), ()))  # (a0, 1, a1, 1, ...)
    b = reshape(b, *builtins.sum(((1, s) for s in sb), ()))  # (1, b0, 1, b1, ...)
    return reshape(mul(a, b), *[x * y for x, y in zip(sa, sb)])


def cross(input, other, dim=None) -> Tensor:
    """The cross product of 3-vectors along dim (the first dim of size 3 when None); shapes broadcast."""
    a, b = _operands(input, other)
    shape = np.broadcast_shapes(a.shape, b.shape)
    a = broadcast_to(a, shape) if a.shape != shape else a
    b = broadcast_to(b, shape) if b.shape != shape else b
    if dim is None:
        dims = [k for k, n in enumerate(shape) if n == 3]
        if not dims:
            raise ShapeError(f"cross: no dim of size 3 in shape {tuple(shape)}")
        dim = dims[0]
    d = _dim(dim, len(shape), "cross")
    if shape[d] != 3:
        raise ShapeError(f"cross: dim {dim} must have size 3, got shape {tuple(shape)}")
    a0, a1, a2 = unbind(a, d)
    b0, b1, b2 = unbind(b, d)
    return stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], d)


def cdist(x1, x2, p: float = 2.0, compute_mode=None) -> Tensor:
    """The p-norm distance between each row of x1 (..., P, M) and each row of x2 (..., R, M): (..., P, R)."""
    a, b = _operands(x1, x2)
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-1]:
        raise ShapeError(
            f"cdist: expects (..., P, M) and (..., R, M) with the same M, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return _vector_norm(sub(unsqueeze(a, -2), unsqueeze(b, -3)), p, -1, False)


# ---------------------------------------------------------------------------------------------
# Other operations


def broadcast_shapes(*shapes) -> tuple:
    """The shape all the shapes broadcast to."""
    try:
        return tuple(np.broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s) for s in shapes]))
    except ValueError:
        raise ShapeError(f"broadcast_shapes: shapes {list(shapes)} cannot be broadcast together") from None


def broadcast_tensors(*tensors) -> tuple:
    """The tensors broadcast to their common shape."""
    ts = [_tensor(t) for t in (tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors)]
    shape = broadcast_shapes(*[t.shape for t in ts])
    return tuple(t if t.shape == shape else broadcast_to(t, shape) for t in ts)


def meshgrid(*tensors, indexing: str = "ij") -> tuple:
    """Coordinate grids from 1-D tensors: 'ij' (matrix, PyTorch's default) or 'xy' (Cartesian) indexing."""
    ts = [_tensor(t) for t in (tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors)]
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    ts = [reshape(t, -1) for t in ts]
    shape = [t.shape[0] for t in ts]
    swap = indexing == "xy" and len(ts) > 1
    if swap:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for k, t in enumerate(ts):
        pos = {0: 1, 1: 0}.get(k, k) if swap else k
        view = [1] * len(ts)
        view[pos] = t.shape[0]
        out.append(expand(reshape(t, *view), *shape))
    return tuple(out)


def cartesian_prod(*tensors) -> Tensor:
    """All combinations of one element from each 1-D tensor, as rows."""
    if len(tensors) == 1:
        return _tensor(tensors[0])
    return stack([reshape(g, -1) for g in meshgrid(*tensors, indexing="ij")], 1)


def combinations(input, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-r combinations of a 1-D tensor's elements, as rows (itertools' order)."""
    import itertools

    x = _tensor(input)
    if x.ndim != 1:
        raise ShapeError(f"combinations: expects a 1-D tensor, got shape {tuple(x.shape)}")
    pick = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    rows = list(pick(range(x.shape[0]), r))
    if not rows:
        return Tensor._wrap(_xp(x).zeros((0, r), dtype=x.dtype))
    return GetItem.apply(x, index=_xp(x).asarray(np.array(rows, dtype=np.int64)))


def block_diag(*tensors) -> Tensor:
    """The tensors (numbers, vectors as rows, matrices) along the diagonal of one matrix of zeros."""
    ts = [_tensor(t) for t in tensors]
    ts = [reshape(t, 1, -1) if t.ndim < 2 else t for t in ts]
    for t in ts:
        if t.ndim != 2:
            raise ShapeError(f"block_diag: expects tensors of at most 2 dims, got shape {tuple(t.shape)}")
    dtype = np.result_type(*[t.dtype for t in ts]) if ts else get_default_dtype()
    xp = _xp(ts[0]) if ts else np
    rows, cols = builtins.sum(t.shape[0] for t in ts), builtins.sum(t.shape[1] for t in ts)
    out = Tensor._wrap(xp.zeros((rows, cols), dtype=dtype))
    r = c = 0
    for t in ts:
        out = SetItem.apply(out, t.to(dtype), index=(slice(r, r + t.shape[0]), slice(c, c + t.shape[1])))
        r, c = r + t.shape[0], c + t.shape[1]
    return out


def diff(input, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """The n-th forward difference along dim (prepend and append joined first); bools give xor."""
    x = _tensor(input)
    d = _dim(dim, x.ndim, "diff")
    parts = [_tensor(p, x) for p in (prepend, x, append) if p is not None]
    x = cat(parts, d) if len(parts) > 1 else x
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        hi, lo = narrow(x, d, 1, m - 1), narrow(x, d, 0, m - 1)
        x = compare(hi, lo, "ne") if x.dtype == np.bool_ else sub(hi, lo)
    return x


def vander(x, N=None, increasing: bool = False) -> Tensor:
    """The Vandermonde matrix: columns x**(N-1) ... x**0 (x**0 ... x**(N-1) when increasing)."""
    x = _tensor(x)
    if x.ndim != 1:
        raise ShapeError(f"vander: expects a 1-D tensor, got shape {tuple(x.shape)}")
    N = x.shape[0] if N is None else int(N)
    x = x if x.dtype.kind in "fc" else x.to(np.int64)
    cols = [Tensor._wrap(_xp(x).ones_like(x.array)) if k == 0 else pow(x, k) for k in range(N)]
    if not increasing:
        cols = cols[::-1]
    return stack(cols, 1) if cols else Tensor._wrap(_xp(x).zeros((x.shape[0], 0), dtype=x.dtype))


def cov(input, *, correction: int = 1, fweights=None, aweights=None) -> Tensor:
    """The covariance of the variables in input's rows (observations in its columns), NumPy's formula."""
    x = _floating(input)
    if x.ndim > 2:
        raise ShapeError(f"cov: expects a 1-D or 2-D tensor, got shape {tuple(x.shape)}")
    x = reshape(x, 1, -1) if x.ndim < 2 else x  # (variables, observations)
    w = None
    if fweights is not None:
        w = _tensor(fweights).to(x.dtype)
    if aweights is not None:
        aw = _tensor(aweights).to(x.dtype)
        w = aw if w is None else mul(w, aw)
    if w is None:
        n = x.shape[1]
        xc = sub(x, mean(x, 1, keepdim=True))
        c = div(matmul(xc, t(xc)), builtins.max(n - correction, 0))
    else:
        v1 = sum(w)
        avg = div(sum(mul(x, w), 1, keepdim=True), v1)
        fact = v1 - correction * (div(sum(mul(w, aw)), v1) if aweights is not None else 1)
        xc = sub(x, avg)
        c = div(matmul(mul(xc, w), t(xc)), fact)
    return squeeze(c) if _tensor(input).ndim < 2 else c


def corrcoef(input) -> Tensor:
    """Pearson's correlation coefficients of the variables in input's rows, clipped to [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return div(c, c)
    s = sqrt(diagonal(c))
    return clamp(div(div(c, unsqueeze(s, 1)), unsqueeze(s, 0)), -1, 1)


def as_strided(input, size, stride, storage_offset: int = 0) -> Tensor:
    """The elements at storage_offset + sum(i_k * stride[k]) of input's elements in order, in shape size."""
    x = _tensor(input)
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise ShapeError(f"as_strided: size {size} and stride {stride} must have the same length")
    xp = _xp(x)
    flat = xp.asarray(storage_offset, dtype=np.int64)
    for k, (n, s) in enumerate(zip(size, stride)):
        shape = [1] * len(size)
        shape[k] = n
        flat = flat + xp.arange(n).reshape(shape) * s
    flat = xp.broadcast_to(flat, size)
    if flat.size and int(flat.max()) >= x.array.size:
        raise IndexError(f"as_strided: size {size}, stride {stride} and offset reach past the {x.array.size} elements")
    return GetItem.apply(reshape(x, -1), index=flat)


def gradient(input, *, spacing=1, dim=None, edge_order: int = 1) -> tuple:
    """Central differences inside, one-sided (edge_order 1) at the ends, for each dim; spacing a number per dim."""
    x = _floating(input)
    dims = list(range(x.ndim)) if dim is None else ([dim] if isinstance(dim, int) else list(dim))
    dims = [_dim(d, x.ndim, "gradient") for d in dims]
    spacings = list(spacing) if isinstance(spacing, (list, tuple)) else [spacing] * len(dims)
    if edge_order != 1:
        raise NotImplementedError("gradient: only edge_order=1 is implemented")
    out = []
    for d, h in zip(dims, spacings):
        h = float(h.item() if isinstance(h, Tensor) else h)
        n = x.shape[d]
        if n < 2:
            raise ShapeError(f"gradient: dim {d} needs at least 2 points, got shape {tuple(x.shape)}")
        first = div(sub(narrow(x, d, 1, 1), narrow(x, d, 0, 1)), h)
        last = div(sub(narrow(x, d, n - 1, 1), narrow(x, d, n - 2, 1)), h)
        inner_ = div(sub(narrow(x, d, 2, n - 2), narrow(x, d, 0, n - 2)), 2 * h)
        out.append(cat([first, inner_, last], d))
    return tuple(out)


def ravel(input) -> Tensor:
    return reshape(_tensor(input), -1)
