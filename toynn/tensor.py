"""The core: Tensor, Function (one node of the computation graph), grad mode and the backward walk.

Forward runs each op on raw arrays and records a Function node; backward visits the nodes in
reverse topological order, as in the lecture's "Backward Computation".
"""

from __future__ import annotations

import copy
import functools
import weakref
from collections.abc import Callable

import numpy as np

from .backend import array_module, device_of, get_default_dtype, to_device
from .backend import device as _device  # the class; `device` is an argument name below
from .errors import ShapeError

# ---------------------------------------------------------------------------------------------
# Grad mode and forward mode


class _Mode:
    grad_enabled = True
    forward_level = 0  # > 0 while a jvp() is running: Function.apply then propagates tangents
    inference = False  # inside inference_mode(): grad is off, and is_inference_mode_enabled() says so


def is_grad_enabled() -> bool:
    return _Mode.grad_enabled


class set_grad_enabled:
    """Context manager (and decorator) that turns graph recording on or off."""

    def __init__(self, mode: bool):
        self.prev, self.mode = _Mode.grad_enabled, bool(mode)
        _Mode.grad_enabled = self.mode  # like PyTorch, it also works as a plain call

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _Mode.grad_enabled = self.prev

    def __call__(self, func):
        mode = self.mode
        _Mode.grad_enabled = self.prev

        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        wrapper.__name__, wrapper.__doc__ = func.__name__, func.__doc__
        return wrapper


class no_grad(set_grad_enabled):
    """Inside `with no_grad():` ops record no graph (evaluation, optimizer steps). Also a decorator."""

    def __new__(cls, func=None):
        if func is not None:  # bare @no_grad on a function
            return set_grad_enabled.__call__(cls(), func)
        return super().__new__(cls)

    def __init__(self, func=None):
        self.prev, self.mode = _Mode.grad_enabled, False

    def __enter__(self):
        self.prev = _Mode.grad_enabled
        _Mode.grad_enabled = False
        return self


class inference_mode:
    """PyTorch's inference_mode: no graph is recorded inside (as no_grad, which is all toynn needs for speed).

    A context manager and a decorator, with or without parentheses; inference_mode(False) leaves grad mode alone.
    """

    def __new__(cls, mode=True):
        if callable(mode):  # bare @inference_mode on a function
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = _Mode.grad_enabled, _Mode.inference
        _Mode.inference = self.mode
        if self.mode:
            _Mode.grad_enabled = False
        return self

    def __exit__(self, *exc):
        _Mode.grad_enabled, _Mode.inference = self.prev

    def __call__(self, func):
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return func(*args, **kwargs)

        return wrapper


def is_inference_mode_enabled() -> bool:
    return _Mode.inference


class enable_grad(set_grad_enabled):
    """Turn graph recording back on inside a no_grad block."""

    def __init__(self):
        self.prev, self.mode = _Mode.grad_enabled, True

    def __enter__(self):
        self.prev = _Mode.grad_enabled
        _Mode.grad_enabled = True
        return self


# ---------------------------------------------------------------------------------------------
# Function: one application of an op, a node of the graph


class Function:
    """One application of an op. forward/backward/jvp work on raw arrays; apply() wraps Tensors."""

    saves_output = False  # backward reads the output's array (exp, tanh, sigmoid, sqrt ...)
    is_view = False  # the output shares the input's memory in PyTorch (reshape, permute, basic index)
    once_differentiable = False  # True: backward runs on raw arrays only, so create_graph=True refuses it
    # True: the Jacobian J is constant wherever it is defined (pooling, padding, resampling, unpooling): backward
    # is g -> J^T g and jvp is dx -> J dx, each the other's adjoint, so create_graph needs no more (see _Transpose)
    piecewise_linear = False
    out_version = 0

    def forward(self, *arrays, **params):
        raise NotImplementedError

    def backward(self, g):
        raise NotImplementedError

    def jvp(self, *tangents):
        raise NotImplementedError(f"{type(self).__name__} has no forward-mode (jvp) rule")

    @classmethod
    def apply(cls, *inputs: Tensor, **params) -> Tensor:
        fn = cls.__new__(cls)
        fn.parents = inputs
        try:
            y = fn.forward(*[t.array for t in inputs], **params)
        except ShapeError:
            raise
        except ValueError as err:  # NumPy's own shape errors, named once here for every op
            shapes = ", ".join(str(tuple(t.shape)) for t in inputs)
            raise ShapeError(f"{cls.__name__}: {err} (input shapes {shapes})") from None
        if isinstance(y, np.generic):  # NumPy reductions return scalars; a Tensor holds an array
            scalar, y = y, np.asarray(y)
            for name, value in vars(fn).items():  # a saved output (sqrt's y) is that array too, as _on_tensors needs
                if value is scalar:
                    setattr(fn, name, y)
        out = Tensor._wrap(y)
        if _Mode.forward_level and any(t.tangent is not None for t in inputs):
            out.tangent = _forward_tangent(fn, inputs, y)
        if _Mode.grad_enabled:
            needs = tuple(t._requires_grad for t in inputs)
            if True in needs and y.dtype.kind == "f":
                fn.needs_input_grad = needs
                fn.versions = tuple(t._version for t in inputs)
                out._requires_grad, out._ctx = True, fn
        return out

    @classmethod
    def call(cls, *args, **params):
        """The op inside another op's backward rule: on raw arrays its forward alone (nothing recorded, the
        first-order path); on Tensors apply(), so that a backward run with create_graph=True records it."""
        if any(isinstance(a, Tensor) for a in args):
            return cls.apply(*[a if isinstance(a, Tensor) else Tensor._wrap(a) for a in args], **params)
        return cls.__new__(cls).forward(*args, **params)

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"

    @property
    def next_functions(self) -> tuple:
        """PyTorch's grad_fn.next_functions: one (node, 0) per input: the node that made it, an AccumulateGrad
        for a leaf that requires grad, or None for a constant."""
        return tuple((_node_of(p), 0) for p in self.parents)


class AccumulateGrad:
    """The node that writes a leaf's .grad, as PyTorch's: grad_fn.next_functions reaches it; .variable is the leaf."""

    next_functions = ()
    _of_leaf: weakref.WeakValueDictionary = weakref.WeakValueDictionary()  # id(leaf) -> its node, one per leaf

    def __init__(self, variable: Tensor):
        self.variable = variable

    def __repr__(self):
        return "<AccumulateGrad>"


def _node_of(t: Tensor):
    if t._ctx is not None:
        return t._ctx
    if not t._requires_grad:
        return None
    node = AccumulateGrad._of_leaf.get(id(t))
    if node is None or node.variable is not t:  # NOTE: the node holds its leaf, so a live node's id is its leaf's
        node = AccumulateGrad._of_leaf[id(t)] = AccumulateGrad(t)
    return node


def _forward_tangent(fn, inputs, y):
    """Forward mode: a missing tangent is a zero, so jvp rules never branch on None.

    has_tangent says which inputs carry one, so that a costly rule (a product, a conv) may skip the terms of the
    others; needs_input_grad stays reverse mode's own.
    """
    xp = array_module(y)
    fn.has_tangent = tuple(t.tangent is not None for t in inputs)
    # NOTE: a zero-strided, read-only view of one zero: no memory, no fill; jvp rules never write their tangents
    tangents = [
        t.tangent if t.tangent is not None else xp.broadcast_to(xp.zeros((), dtype=t.array.dtype), t.array.shape)
        for t in inputs
    ]
    dy = fn.jvp(*tangents)
    return dy if dy.shape == y.shape else xp.broadcast_to(dy, y.shape)


class _Freed(Function):
    """Stands in for a node whose saved arrays were freed by a previous backward()."""

    parents, versions = (), ()
    _by_op: dict = {}

    @classmethod
    def of(cls, fn: Function) -> _Freed:
        """One shared sentinel per op class, so that repr still names the op."""
        freed = cls._by_op.get(type(fn))
        if freed is None:
            freed = cls._by_op[type(fn)] = cls()
            freed.name = type(fn).__name__
        return freed

    def __repr__(self):
        return f"<{self.name}Backward>"

    def backward(self, g):
        raise RuntimeError(
            "Trying to backward through the graph a second time: its saved arrays were freed by the "
            "first backward(). Pass retain_graph=True to the first backward() to keep them."
        )


# ---------------------------------------------------------------------------------------------
# Tensor


class Size(tuple):
    """A tensor's shape, as PyTorch's torch.Size: a tuple of ints that prints as toynn.Size([2, 3])."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"toynn.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds (1 for ())."""
        n = 1
        for d in self:
            n *= d
        return n

    # slicing and concatenation stay a Size, as PyTorch's
    def __getitem__(self, index):
        out = tuple.__getitem__(self, index)
        return Size(out) if isinstance(index, slice) else out

    def __add__(self, other):
        return Size(tuple.__add__(self, other)) if isinstance(other, tuple) else NotImplemented

    def __radd__(self, other):
        return Size(tuple.__add__(other, self)) if isinstance(other, tuple) else NotImplemented

    def __mul__(self, n):
        return Size(tuple.__mul__(self, n))

    __rmul__ = __mul__


_PRINT = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": float("inf"), "edgeitems": 3, "linewidth": 80},
}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """How tensors print, as torch.set_printoptions: digits, the size above which they are summarised, the
    items kept at each end then, the line width; profile 'default', 'short' or 'full'; sci_mode forces or
    forbids scientific notation (None: NumPy decides)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be 'default', 'short' or 'full', got {profile!r}")
        _PRINT.update(_PROFILES[profile])
    given = {"precision": precision, "threshold": threshold, "edgeitems": edgeitems, "linewidth": linewidth}
    _PRINT.update({k: v for k, v in given.items() if v is not None})
    _PRINT["sci_mode"] = sci_mode


def _print_options() -> dict:
    """np.array2string's arguments for the options set_printoptions set."""
    threshold = _PRINT["threshold"]
    out = {
        "precision": _PRINT["precision"],
        "threshold": np.iinfo(np.int64).max if threshold == float("inf") else int(threshold),
        "edgeitems": _PRINT["edgeitems"],
        "max_line_width": _PRINT["linewidth"],
    }
    if _PRINT["sci_mode"] is not None:
        out["suppress_small"] = not _PRINT["sci_mode"]
        if _PRINT["sci_mode"]:
            out["formatter"] = {"float_kind": lambda v: f"{v:.{_PRINT['precision']}e}"}
    return out


class Tensor:
    """An n-dimensional array (NumPy or CuPy) that records the ops applied to it for backward."""

    __slots__ = ("array", "grad", "_requires_grad", "tangent", "_ctx", "_version", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.array
        xp = array_module(data)
        if not isinstance(data, xp.ndarray):
            numpy_scalar = isinstance(data, np.generic)
            data = np.asarray(data)
            if dtype is None and not numpy_scalar:
                dtype = get_default_dtype()  # torch.Tensor(list) is a float tensor, whatever the values
        if dtype is not None:
            data = data.astype(dtype, copy=False)
        self.array = data
        self.grad = None
        self.tangent = None
        self._ctx = None
        self._version = 0
        self._requires_grad = False
        self._retains_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data):
        """Fast constructor for arrays produced by ops (no conversion, no checks)."""
        t = cls.__new__(cls)
        t.array, t.grad, t.tangent, t._ctx, t._version, t._requires_grad = data, None, None, None, 0, False
        t._retains_grad = False
        return t

    # -- attributes ---------------------------------------------------------------------------
    # NOTE: `array` is the raw NumPy/CuPy array that ops compute on; `data` is PyTorch's: a Tensor
    @property
    def data(self) -> Tensor:
        """The same memory as a Tensor with no history (PyTorch's .data): ops on it are not recorded, and
        in-place ones (p.data -= lr * p.grad) write the values without autograd seeing them."""
        return Tensor._wrap(self.array)

    @data.setter
    def data(self, value) -> None:
        """p.data = t: p now holds t's memory (shape and dtype too), keeping its own requires_grad."""
        self.array = value.array if isinstance(value, Tensor) else array_module(value).asarray(value)

    def __xp__(self):
        """What array_module(t) gives: toynn.xp, NumPy's names on Tensors (how a backward rule runs on Tensors)."""
        from . import xp

        return xp

    def __array__(self, dtype=None, copy=None):
        """np.asarray(t): the values on the CPU, as NumPy sees a torch tensor."""
        arr = to_device(self.array, "cpu")
        return arr if dtype is None else arr.astype(dtype, copy=False)

    @property
    def shape(self) -> Size:
        return Size(self.array.shape)

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self) -> str:
        return device_of(self.array)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    @property
    def T(self) -> Tensor:
        return ops.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    def size(self, dim: int | None = None):
        return Size(self.array.shape) if dim is None else self.array.shape[dim]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return int(self.array.size)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        arr = to_device(self.array, "cpu")
        whole = arr.dtype.kind != "f" or not np.isfinite(arr).all() or bool((arr == np.round(arr)).all())
        body = np.array2string(
            arr, floatmode="maxprec" if whole else "fixed", separator=", ", prefix="tensor(", **_print_options()
        )
        extra = "" if self.device == "cpu" else f", device='{self.device}:0'"  # PyTorch's order and device index
        if self.dtype not in (get_default_dtype(), np.int64, np.bool_):
            extra += f", dtype={self.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"tensor({body}{extra})"

    def __format__(self, format_spec: str) -> str:
        """f"{loss:.4f}": a 0-d tensor formats as its number; others only with an empty spec, as in PyTorch."""
        if self.array.ndim == 0:
            return self.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {tuple(self.shape)} is ambiguous")
        return bool(self.array)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    # -- conversion -----------------------------------------------------------------------------
    def numpy(self):
        """The data as a NumPy array (shares memory on the CPU, like PyTorch)."""
        if self.requires_grad and _Mode.grad_enabled:
            raise RuntimeError("Can't call numpy() on a tensor that requires grad. Use tensor.detach().numpy()")
        return to_device(self.array, "cpu")

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted; got shape {tuple(self.shape)}")
        return self.array.reshape(()).item()

    def tolist(self):
        return to_device(self.array, "cpu").tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the graph."""
        return Tensor._wrap(self.array)

    def clone(self) -> Tensor:
        return ops.clone(self)

    def contiguous(self) -> Tensor:
        return self

    def to(self, *args, dtype=None, device=None) -> Tensor:
        """to(dtype), to(device) or to(device, dtype); returns self when nothing changes. A device is a str or a
        toynn.device."""
        for a in args:
            if isinstance(a, (str, _device)):
                device = a
            else:
                dtype = a
        out = self
        if device is not None and device_of(self.array) != str(device).split(":")[0]:
            out = ops.to_device(out, str(device))
        if dtype is not None and np.dtype(dtype) != out.dtype:
            out = ops.cast(out, dtype)
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self) -> Tensor:
        return self.to("cuda")

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    def long(self) -> Tensor:
        return self.to(np.int64)

    def int(self) -> Tensor:
        return self.to(np.int32)

    def bool(self) -> Tensor:
        return self.to(np.bool_)

    def type(self, dtype) -> Tensor:
        return self.to(dtype)

    # -- autograd -------------------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, requires_grad: bool) -> None:  # x.requires_grad = True checks as requires_grad_() does
        self.requires_grad_(requires_grad)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients; this one is {self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False) is only allowed on leaves; use detach()")
        self._requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False, *, grad=None):
        """Accumulate d(self)/d(leaf) into leaf.grad for every leaf that requires grad. With create_graph=True
        the backward pass is itself recorded, so the gradients can be differentiated again."""
        backward(self, gradient if gradient is not None else grad, retain_graph, create_graph=create_graph)

    def retain_grad(self) -> None:
        """Keep this non-leaf's gradient in .grad at the next backward (leaves keep theirs anyway)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a Tensor that has requires_grad=False")
        self._retains_grad = self._ctx is not None

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    # -- in-place ops -----------------------------------------------------------------------------
    def _inplace(self, make: Callable[[Tensor], Tensor], write: Callable[[], None], other=None) -> Tensor:
        """Run an in-place op: rebase the graph when it records, else mutate the array itself.

        make(old) computes the result out of place with ops, so it is differentiable; write()
        mutates self.array. Both bump the version counter, so a node that already used the old
        value refuses to run backward instead of giving wrong gradients.
        """
        other_requires = isinstance(other, Tensor) and other.requires_grad
        if _Mode.grad_enabled and self.requires_grad and self._ctx is None:
            raise RuntimeError(
                "a leaf tensor that requires grad is being used in an in-place operation; "
                "wrap the update in `with toynn.no_grad():`"
            )
        if _Mode.grad_enabled and (self.requires_grad or other_requires):
            if self._ctx is not None and self._ctx.is_view:
                raise RuntimeError(
                    f"in-place op on the output of {type(self._ctx).__name__}, a view of a tensor that requires "
                    "grad: toynn cannot write it through to the base. Compute the new value out of place, "
                    "e.g. y = toynn.where(mask, y * 10, y)"
                )
            old = Tensor._wrap(self.array)  # the old value keeps its node; self takes the new one
            old._requires_grad, old._ctx, old._version = self._requires_grad, self._ctx, self._version
            old.tangent = self.tangent
            result = make(old)
            # NOTE: the array is replaced, not mutated, so arrays saved by earlier nodes stay valid
            self.array, self._ctx, self._requires_grad = result.array, result._ctx, result._requires_grad
            if _Mode.forward_level:
                self.tangent = result.tangent
            self._version += 1
            if self._ctx is not None:
                self._ctx.out_version = self._version
            return self
        other_carries = isinstance(other, Tensor) and other.tangent is not None
        if _Mode.forward_level and (self.tangent is not None or other_carries):
            # forward mode: the new tangent comes from the op's jvp rule, through the same out-of-place op
            old = Tensor._wrap(self.array)  # make() computes out of place, as in the recording branch above
            old.tangent = self.tangent
            result = make(old)
            self.array[...] = result.array  # NOTE: written in place, as write() would: views of self see the change
            self.tangent = result.tangent
            self._version += 1
            return self
        write()
        self._version += 1
        return self

    def _binary_inplace(self, other, op: Callable) -> Tensor:
        def write():
            value = other.array if isinstance(other, Tensor) else other
            if op is ops.add:
                self.array += value
            elif op is ops.sub:
                self.array -= value
            elif op is ops.mul:
                self.array *= value
            elif op is ops.div:
                self.array /= value
            else:
                self.array[...] = value

        return self._inplace(lambda old: op(old, other), write, other)

    def add_(self, other, other_legacy=None, *, alpha=1) -> Tensor:
        """self += alpha * other. Also the legacy add_(alpha, other) that the lecture's code calls."""
        if other_legacy is not None:
            alpha, other = other, other_legacy
        return self._binary_inplace(other if alpha == 1 else other * alpha, ops.add)

    def sub_(self, other, *, alpha=1) -> Tensor:
        return self._binary_inplace(other if alpha == 1 else other * alpha, ops.sub)

    def mul_(self, other) -> Tensor:
        return self._binary_inplace(other, ops.mul)

    def div_(self, other) -> Tensor:
        return self._binary_inplace(other, ops.div)

    def copy_(self, src) -> Tensor:
        return self._binary_inplace(src, ops.replace)

    def fill_(self, value) -> Tensor:
        return self._binary_inplace(value, ops.replace)

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def clamp_(self, min=None, max=None) -> Tensor:
        def write():
            array_module(self.array).clip(self.array, min, max, out=self.array)

        return self._inplace(lambda old: ops.clamp(old, min, max), write)

    def __setitem__(self, index, value) -> None:
        def write():
            self.array[ops.normalize_index(index)] = value.array if isinstance(value, Tensor) else value

        self._inplace(lambda old: ops.setitem(old, index, value), write, value)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def _apply_(self, fn: Callable[[Tensor], Tensor], other=None) -> Tensor:
        """In place: self takes the values of fn(self), computed out of place by ops (so it is differentiable)."""

        def write():
            self.array[...] = fn(Tensor._wrap(self.array)).array

        return self._inplace(fn, write, other)

    def clip_(self, min=None, max=None) -> Tensor:
        return self.clamp_(min, max)

    def abs_(self) -> Tensor:
        return self._apply_(ops.abs)

    def neg_(self) -> Tensor:
        return self._apply_(ops.neg)

    def exp_(self) -> Tensor:
        return self._apply_(ops.exp)

    def log_(self) -> Tensor:
        return self._apply_(ops.log)

    def sqrt_(self) -> Tensor:
        return self._apply_(ops.sqrt)

    def sin_(self) -> Tensor:
        return self._apply_(ops.sin)

    def cos_(self) -> Tensor:
        return self._apply_(ops.cos)

    def tanh_(self) -> Tensor:
        return self._apply_(ops.tanh)

    def sigmoid_(self) -> Tensor:
        return self._apply_(ops.sigmoid)

    def relu_(self) -> Tensor:
        return self._apply_(ops.relu)

    def floor_(self) -> Tensor:
        return self._apply_(ops.floor)

    def ceil_(self) -> Tensor:
        return self._apply_(ops.ceil)

    def round_(self, *, decimals=0) -> Tensor:
        return self._apply_(lambda t: ops.round(t, decimals=decimals))

    def trunc_(self) -> Tensor:
        return self._apply_(ops.trunc)

    def frac_(self) -> Tensor:
        return self._apply_(ops.frac)

    def sign_(self) -> Tensor:
        return self._apply_(ops.sign)

    def square_(self) -> Tensor:
        return self._apply_(ops.square)

    def reciprocal_(self) -> Tensor:
        return self._apply_(ops.reciprocal)

    def pow_(self, exponent) -> Tensor:
        return self._apply_(lambda t: ops.pow(t, exponent), exponent)

    def fmod_(self, other) -> Tensor:
        return self._apply_(lambda t: ops.fmod(t, other), other)

    def remainder_(self, other) -> Tensor:
        return self._apply_(lambda t: ops.remainder(t, other), other)

    def lerp_(self, end, weight) -> Tensor:
        return self._apply_(lambda t: ops.lerp(t, end, weight), end)

    def addcmul_(self, tensor1, tensor2, *, value=1) -> Tensor:
        return self._apply_(lambda t: ops.addcmul(t, tensor1, tensor2, value=value), tensor1)

    def addcdiv_(self, tensor1, tensor2, *, value=1) -> Tensor:
        return self._apply_(lambda t: ops.addcdiv(t, tensor1, tensor2, value=value), tensor1)

    def masked_fill_(self, mask, value) -> Tensor:
        return self._apply_(lambda t: ops.masked_fill(t, mask, value), value)

    def masked_scatter_(self, mask, source) -> Tensor:
        return self._apply_(lambda t: ops.masked_scatter(t, mask, source), source)

    def scatter_(self, dim, index, src=None, *, value=None, reduce=None) -> Tensor:
        return self._apply_(lambda t: ops.scatter(t, dim, index, src, value=value, reduce=reduce), src)

    def scatter_add_(self, dim, index, src) -> Tensor:
        return self._apply_(lambda t: ops.scatter_add(t, dim, index, src), src)

    def index_add_(self, dim, index, source, *, alpha=1) -> Tensor:
        return self._apply_(lambda t: ops.index_add(t, dim, index, source, alpha=alpha), source)

    def index_copy_(self, dim, index, source) -> Tensor:
        return self._apply_(lambda t: ops.index_copy(t, dim, index, source), source)

    def index_fill_(self, dim, index, value) -> Tensor:
        return self._apply_(lambda t: ops.index_fill(t, dim, index, value), value)

    def index_put_(self, indices, values, accumulate=False) -> Tensor:
        return self._apply_(lambda t: ops.index_put(t, indices, values, accumulate), values)

    def tril_(self, diagonal=0) -> Tensor:
        return self._apply_(lambda t: ops.tril(t, diagonal))

    def triu_(self, diagonal=0) -> Tensor:
        return self._apply_(lambda t: ops.triu(t, diagonal))

    def nan_to_num_(self, nan=0.0, posinf=None, neginf=None) -> Tensor:
        return self._apply_(lambda t: ops.nan_to_num(t, nan, posinf, neginf))

    # -- arithmetic (each one line, calling ops) -----------------------------------------------
    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return ops.sub(self, other)

    def __rsub__(self, other):
        return ops.sub(other, self)

    def __mul__(self, other):
        return ops.mul(self, other)

    def __rmul__(self, other):
        return ops.mul(other, self)

    def __truediv__(self, other):
        return ops.div(self, other)

    def __rtruediv__(self, other):
        return ops.div(other, self)

    def __pow__(self, other):
        return ops.pow(self, other)

    def __rpow__(self, other):
        return ops.pow(other, self)

    def __neg__(self):
        return ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.abs(self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __getitem__(self, index):
        return ops.getitem(self, index)

    # comparisons give bool tensors and no gradient; == is elementwise, so tensors are not hashable
    def __eq__(self, other):
        return ops.compare(self, other, "eq")

    def __ne__(self, other):
        return ops.compare(self, other, "ne")

    def __lt__(self, other):
        return ops.compare(self, other, "lt")

    def __le__(self, other):
        return ops.compare(self, other, "le")

    def __gt__(self, other):
        return ops.compare(self, other, "gt")

    def __ge__(self, other):
        return ops.compare(self, other, "ge")

    __hash__ = None

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def logical_not(self):
        return Tensor._wrap(~self.array.astype(bool))

    def add(self, other, *, alpha=1):
        return ops.add(self, other if alpha == 1 else other * alpha)

    def sub(self, other, *, alpha=1):
        return ops.sub(self, other if alpha == 1 else other * alpha)

    def mul(self, other):
        return ops.mul(self, other)

    def div(self, other, *, rounding_mode=None):
        return ops.div(self, other, rounding_mode=rounding_mode)

    def pow(self, exponent):
        return ops.pow(self, exponent)

    def neg(self):
        return ops.neg(self)

    def matmul(self, other):
        return ops.matmul(self, other)

    def maximum(self, other):
        return ops.maximum(self, other)

    def minimum(self, other):
        return ops.minimum(self, other)

    def __floordiv__(self, other):
        return ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return ops.floor_divide(other, self)

    def __mod__(self, other):
        return ops.remainder(self, other)

    def __rmod__(self, other):
        return ops.remainder(other, self)

    def __and__(self, other):
        return ops.bitwise_and(self, other)

    def __rand__(self, other):
        return ops.bitwise_and(other, self)

    def __or__(self, other):
        return ops.bitwise_or(self, other)

    def __ror__(self, other):
        return ops.bitwise_or(other, self)

    def __xor__(self, other):
        return ops.bitwise_xor(self, other)

    def __rxor__(self, other):
        return ops.bitwise_xor(other, self)

    def __invert__(self):
        return ops.bitwise_not(self)

    def greater(self, other):
        return ops.gt(self, other)

    def greater_equal(self, other):
        return ops.ge(self, other)

    def less(self, other):
        return ops.lt(self, other)

    def less_equal(self, other):
        return ops.le(self, other)

    def not_equal(self, other):
        return ops.ne(self, other)

    def equal(self, other):
        return ops.equal(self, other)

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return ops.isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return ops.allclose(self, other, rtol, atol, equal_nan)

    def multiply(self, other):
        return ops.mul(self, other)

    def divide(self, other, *, rounding_mode=None):
        return ops.div(self, other, rounding_mode=rounding_mode)

    def true_divide(self, other):
        return ops.div(self, other)

    def floor_divide(self, other):
        return ops.floor_divide(self, other)

    def subtract(self, other, *, alpha=1):
        return ops.sub(self, other if alpha == 1 else other * alpha)

    def negative(self):
        return ops.neg(self)

    def positive(self):
        return self

    def fmod(self, other):
        return ops.fmod(self, other)

    def remainder(self, other):
        return ops.remainder(self, other)

    def atan2(self, other):
        return ops.atan2(self, other)

    def arctan2(self, other):
        return ops.atan2(self, other)

    def hypot(self, other):
        return ops.hypot(self, other)

    def logaddexp(self, other):
        return ops.logaddexp(self, other)

    def logaddexp2(self, other):
        return ops.logaddexp2(self, other)

    def xlogy(self, other):
        return ops.xlogy(self, other)

    def copysign(self, other):
        return ops.copysign(self, other)

    def float_power(self, exponent):
        return ops.float_power(self, exponent)

    def ldexp(self, other):
        return ops.ldexp(self, other)

    def lerp(self, end, weight):
        return ops.lerp(self, end, weight)

    def addcmul(self, tensor1, tensor2, *, value=1):
        return ops.addcmul(self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1, tensor2, *, value=1):
        return ops.addcdiv(self, tensor1, tensor2, value=value)

    def fmax(self, other):
        return ops.fmax(self, other)

    def fmin(self, other):
        return ops.fmin(self, other)

    def bitwise_and(self, other):
        return ops.bitwise_and(self, other)

    def bitwise_or(self, other):
        return ops.bitwise_or(self, other)

    def bitwise_xor(self, other):
        return ops.bitwise_xor(self, other)

    def bitwise_not(self):
        return ops.bitwise_not(self)

    def bitwise_left_shift(self, other):
        return ops.bitwise_left_shift(self, other)

    def bitwise_right_shift(self, other):
        return ops.bitwise_right_shift(self, other)

    def logical_and(self, other):
        return ops.logical_and(self, other)

    def logical_or(self, other):
        return ops.logical_or(self, other)

    def logical_xor(self, other):
        return ops.logical_xor(self, other)

    def gcd(self, other):
        return ops.gcd(self, other)

    def lcm(self, other):
        return ops.lcm(self, other)

    def nextafter(self, other):
        return ops.nextafter(self, other)

    def heaviside(self, values):
        return ops.heaviside(self, values)

    # -- elementwise functions -------------------------------------------------------------------
    def exp(self):
        return ops.exp(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return ops.sqrt(self)

    def abs(self):
        return ops.abs(self)

    def sin(self):
        return ops.sin(self)

    def cos(self):
        return ops.cos(self)

    def tanh(self):
        return ops.tanh(self)

    def sigmoid(self):
        return ops.sigmoid(self)

    def relu(self):
        return ops.relu(self)

    def clamp(self, min=None, max=None):
        return ops.clamp(self, min, max)

    clip = clamp

    def softmax(self, dim):
        return ops.softmax(self, dim)

    def log_softmax(self, dim):
        return ops.log_softmax(self, dim)

    def tan(self):
        return ops.tan(self)

    def asin(self):
        return ops.asin(self)

    def acos(self):
        return ops.acos(self)

    def atan(self):
        return ops.atan(self)

    def sinh(self):
        return ops.sinh(self)

    def cosh(self):
        return ops.cosh(self)

    def asinh(self):
        return ops.asinh(self)

    def acosh(self):
        return ops.acosh(self)

    def atanh(self):
        return ops.atanh(self)

    def arcsin(self):
        return ops.asin(self)

    def arccos(self):
        return ops.acos(self)

    def arctan(self):
        return ops.atan(self)

    def arcsinh(self):
        return ops.asinh(self)

    def arccosh(self):
        return ops.acosh(self)

    def arctanh(self):
        return ops.atanh(self)

    def log2(self):
        return ops.log2(self)

    def log10(self):
        return ops.log10(self)

    def log1p(self):
        return ops.log1p(self)

    def expm1(self):
        return ops.expm1(self)

    def exp2(self):
        return ops.exp2(self)

    def erf(self):
        return ops.erf(self)

    def erfc(self):
        return ops.erfc(self)

    def erfinv(self):
        return ops.erfinv(self)

    def square(self):
        return ops.square(self)

    def rsqrt(self):
        return ops.rsqrt(self)

    def reciprocal(self):
        return ops.reciprocal(self)

    def floor(self):
        return ops.floor(self)

    def ceil(self):
        return ops.ceil(self)

    def round(self, *, decimals=0):
        return ops.round(self, decimals=decimals)

    def trunc(self):
        return ops.trunc(self)

    def fix(self):
        return ops.trunc(self)

    def frac(self):
        return ops.frac(self)

    def sign(self):
        return ops.sign(self)

    def sgn(self):
        return ops.sign(self)

    def signbit(self):
        return ops.signbit(self)

    def absolute(self):
        return ops.abs(self)

    def deg2rad(self):
        return ops.deg2rad(self)

    def rad2deg(self):
        return ops.rad2deg(self)

    def logit(self, eps=None):
        return ops.logit(self, eps)

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        return ops.nan_to_num(self, nan, posinf, neginf)

    def sinc(self):
        return ops.sinc(self)

    def angle(self):
        return ops.angle(self)

    def conj(self):
        return self

    def resolve_conj(self):
        return self

    def resolve_neg(self):
        return self

    def isnan(self):
        return ops.isnan(self)

    def isinf(self):
        return ops.isinf(self)

    def isposinf(self):
        return ops.isposinf(self)

    def isneginf(self):
        return ops.isneginf(self)

    def isfinite(self):
        return ops.isfinite(self)

    def isreal(self):
        return ops.isreal(self)

    def frexp(self):
        return ops.frexp(self)

    def is_floating_point(self):
        return ops.is_floating_point(self)

    def is_complex(self):
        return ops.is_complex(self)

    def is_nonzero(self):
        return ops.is_nonzero(self)

    # -- reductions ------------------------------------------------------------------------------
    # axis= and keepdims= are PyTorch's NumPy-style aliases of dim= and keepdim=
    def sum(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return ops.sum(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)

    def mean(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return ops.mean(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        return ops.var(self, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        return ops.std(self, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.amax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.amin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.argmax(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.argmin(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def logsumexp(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.logsumexp(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def all(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.all(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def any(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return ops.any(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def count_nonzero(self, dim=None):
        return ops.count_nonzero(self, dim)

    def prod(self, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
        return ops.prod(self, dim, keepdim, dtype=dtype, axis=axis, keepdims=keepdims)

    def nansum(self, dim=None, keepdim=False, *, dtype=None):
        return ops.nansum(self, dim, keepdim, dtype=dtype)

    def cumsum(self, dim=None, *, dtype=None, axis=None):
        return ops.cumsum(self, dim, dtype=dtype, axis=axis)

    def cumprod(self, dim, *, dtype=None):
        return ops.cumprod(self, dim, dtype=dtype)

    def logcumsumexp(self, dim):
        return ops.logcumsumexp(self, dim)

    def cummax(self, dim):
        return ops.cummax(self, dim)

    def cummin(self, dim):
        return ops.cummin(self, dim)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        return ops.norm(self, p, dim, keepdim, dtype)

    def dist(self, other, p=2):
        return ops.dist(self, other, p)

    def renorm(self, p, dim, maxnorm):
        return ops.renorm(self, p, dim, maxnorm)

    def median(self, dim=None, keepdim=False):
        return ops.median(self, dim, keepdim)

    def nanmedian(self, dim=None, keepdim=False):
        return ops.nanmedian(self, dim, keepdim)

    def mode(self, dim=-1, keepdim=False):
        return ops.mode(self, dim, keepdim)

    def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        return ops.quantile(self, q, dim, keepdim, interpolation=interpolation)

    def nanquantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        return ops.nanquantile(self, q, dim, keepdim, interpolation=interpolation)

    def sort(self, dim=-1, descending=False, stable=False):
        return ops.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return ops.argsort(self, dim, descending, stable)

    def msort(self):
        return ops.msort(self)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return ops.topk(self, k, dim, largest, sorted)

    def kthvalue(self, k, dim=-1, keepdim=False):
        return ops.kthvalue(self, k, dim, keepdim)

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        return ops.unique(self, sorted, return_inverse, return_counts, dim)

    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
        return ops.unique_consecutive(self, return_inverse, return_counts, dim)

    def bincount(self, weights=None, minlength=0):
        return ops.bincount(self, weights, minlength)

    def histc(self, bins=100, min=0, max=0):
        return ops.histc(self, bins, min, max)

    def histogram(self, bins=100, *, range=None, weight=None, density=False):
        return ops.histogram(self, bins, range=range, weight=weight, density=density)

    # -- movement ----------------------------------------------------------------------------------
    def reshape(self, *shape):
        return ops.reshape(self, *shape)

    def view(self, *shape):
        return ops.reshape(self, *shape)

    def view_as(self, other):
        return ops.reshape(self, other.shape)

    def transpose(self, dim0, dim1):
        return ops.transpose(self, dim0, dim1)

    def permute(self, *dims):
        return ops.permute(self, *dims)

    def flatten(self, start_dim=0, end_dim=-1):
        return ops.flatten(self, start_dim, end_dim)

    def squeeze(self, dim=None):
        return ops.squeeze(self, dim)

    def unsqueeze(self, dim):
        return ops.unsqueeze(self, dim)

    def expand(self, *sizes):
        return ops.expand(self, *sizes)

    def expand_as(self, other):
        return ops.expand(self, other.shape)

    def broadcast_to(self, shape):
        return ops.broadcast_to(self, shape)

    @property
    def mT(self) -> Tensor:
        return ops.transpose(self, -2, -1)

    @property
    def real(self) -> Tensor:
        return self

    def nelement(self) -> int:
        return self.numel()

    def ndimension(self) -> int:
        return self.ndim

    def t(self):
        return ops.t(self)

    def adjoint(self):
        return ops.adjoint(self)

    def swapaxes(self, axis0, axis1):
        return ops.transpose(self, axis0, axis1)

    def swapdims(self, dim0, dim1):
        return ops.transpose(self, dim0, dim1)

    def movedim(self, source, destination):
        return ops.movedim(self, source, destination)

    def moveaxis(self, source, destination):
        return ops.movedim(self, source, destination)

    def ravel(self):
        return ops.ravel(self)

    def as_strided(self, size, stride, storage_offset=0):
        return ops.as_strided(self, size, stride, storage_offset)

    def type_as(self, other):
        return self.to(other.dtype)

    def gather(self, dim, index):
        return ops.gather(self, dim, index)

    def take(self, index):
        return ops.take(self, index)

    def take_along_dim(self, indices, dim=None):
        return ops.take_along_dim(self, indices, dim)

    def scatter(self, dim, index, src=None, *, value=None, reduce=None):
        return ops.scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_add(self, dim, index, src):
        return ops.scatter_add(self, dim, index, src)

    def index_select(self, dim, index):
        return ops.index_select(self, dim, index)

    def index_add(self, dim, index, source, *, alpha=1):
        return ops.index_add(self, dim, index, source, alpha=alpha)

    def index_copy(self, dim, index, source):
        return ops.index_copy(self, dim, index, source)

    def index_fill(self, dim, index, value):
        return ops.index_fill(self, dim, index, value)

    def index_put(self, indices, values, accumulate=False):
        return ops.index_put(self, indices, values, accumulate)

    def masked_fill(self, mask, value):
        return ops.masked_fill(self, mask, value)

    def masked_select(self, mask):
        return ops.masked_select(self, mask)

    def masked_scatter(self, mask, source):
        return ops.masked_scatter(self, mask, source)

    def nonzero(self, *, as_tuple=False):
        return ops.nonzero(self, as_tuple=as_tuple)

    def argwhere(self):
        return ops.argwhere(self)

    def narrow(self, dim, start, length):
        return ops.narrow(self, dim, start, length)

    def select(self, dim, index):
        return ops.select(self, dim, index)

    def unbind(self, dim=0):
        return ops.unbind(self, dim)

    def split(self, split_size, dim=0):
        return ops.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        return ops.chunk(self, chunks, dim)

    def tensor_split(self, indices_or_sections, dim=0):
        return ops.tensor_split(self, indices_or_sections, dim)

    def hsplit(self, sections):
        return ops.hsplit(self, sections)

    def vsplit(self, sections):
        return ops.vsplit(self, sections)

    def dsplit(self, sections):
        return ops.dsplit(self, sections)

    def repeat(self, *sizes):
        return ops.repeat(self, *sizes)

    def tile(self, dims):
        return ops.tile(self, dims)

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        return ops.repeat_interleave(self, repeats, dim)

    def flip(self, dims):
        return ops.flip(self, dims)

    def fliplr(self):
        return ops.fliplr(self)

    def flipud(self):
        return ops.flipud(self)

    def rot90(self, k=1, dims=(0, 1)):
        return ops.rot90(self, k, dims)

    def roll(self, shifts, dims=None):
        return ops.roll(self, shifts, dims)

    def diag(self, diagonal=0):
        return ops.diag(self, diagonal)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        return ops.diagonal(self, offset, dim1, dim2)

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        return ops.diag_embed(self, offset, dim1, dim2)

    def diagflat(self, offset=0):
        return ops.diagflat(self, offset)

    def tril(self, diagonal=0):
        return ops.tril(self, diagonal)

    def triu(self, diagonal=0):
        return ops.triu(self, diagonal)

    def trace(self):
        return ops.trace(self)

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        return ops.diff(self, n, dim, prepend, append)

    def outer(self, vec2):
        return ops.outer(self, vec2)

    def ger(self, vec2):
        return ops.outer(self, vec2)

    def dot(self, other):
        return ops.dot(self, other)

    def vdot(self, other):
        return ops.dot(self, other)

    def inner(self, other):
        return ops.inner(self, other)

    def mm(self, mat2):
        return ops.mm(self, mat2)

    def bmm(self, mat2):
        return ops.bmm(self, mat2)

    def mv(self, vec):
        return ops.mv(self, vec)

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        return ops.addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def addmv(self, mat, vec, *, beta=1, alpha=1):
        return ops.addmv(self, mat, vec, beta=beta, alpha=alpha)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return ops.addbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        return ops.baddbmm(self, batch1, batch2, beta=beta, alpha=alpha)

    def addr(self, vec1, vec2, *, beta=1, alpha=1):
        return ops.addr(self, vec1, vec2, beta=beta, alpha=alpha)

    def kron(self, other):
        return ops.kron(self, other)

    def cross(self, other, dim=None):
        return ops.cross(self, other, dim)


# ---------------------------------------------------------------------------------------------
# The backward walk (lecture: "Backward Computation")


def backward(
    root: Tensor, grad=None, retain_graph: bool | None = None, on_increment=None, create_graph: bool = False
) -> None:
    """Set d(root)/d(root) = grad (1 for a scalar), then visit nodes in reverse topological order.

    For each node u with inputs v_j, increment dy/dv_j by (dy/du)(du/dv_j): the op's backward.
    on_increment(node, parent, increment) is called for each increment (the lecture's trace).
    """
    if not root.requires_grad:
        raise RuntimeError("backward(): this tensor does not require grad and has no grad_fn")
    seed = _seed(root, grad, "backward()", create_graph)
    walk(
        [root], [seed], create_graph if retain_graph is None else retain_graph, create_graph, on_increment=on_increment
    )


def _seed(root: Tensor, grad, op: str, create_graph: bool):
    """The gradient the walk starts from: ones for a one-element root, else grad checked against root's shape."""
    xp = array_module(root.array)
    if grad is None:
        if root.array.size != 1:
            raise ShapeError(
                f"{op} on a tensor of shape {tuple(root.shape)} needs a gradient of that shape; "
                "or reduce it first with .sum() or .mean()"
            )
        seed = xp.ones_like(root.array)
    else:
        if isinstance(grad, Tensor) and create_graph:
            seed = grad  # d(grad)/d(whatever grad depends on) is recorded too
        else:
            seed = grad.array if isinstance(grad, Tensor) else xp.asarray(grad, dtype=root.dtype)
            seed = seed.copy()  # NOTE: it may reach a leaf's .grad, which must not alias the caller's array
        if seed.shape != root.shape:
            raise ShapeError(
                f"{op}: gradient has shape {tuple(seed.shape)} but the tensor has shape {tuple(root.shape)}"
            )
    return Tensor._wrap(seed) if create_graph and not isinstance(seed, Tensor) else seed


def walk(roots, seeds, retain_graph: bool, create_graph: bool, capture=None, on_increment=None):
    """The backward walk from several roots at once. Without capture, gradients accumulate into the leaves'
    .grad; with capture (a list of Tensors: autograd.grad's inputs), they are returned for those Tensors instead
    and no .grad is touched. With create_graph the gradients are Tensors and every rule runs on Tensors, so the
    walk records a graph of its own (the rules are the same code: see Function.call and _on_tensors)."""
    grads = {}
    for root, seed in zip(roots, seeds):
        prev = grads.get(id(root))
        grads[id(root)] = seed if prev is None else prev + seed
    wanted = None if capture is None else {id(t) for t in capture}
    captured = {}
    owned = set()  # ids of arrays that already became some leaf's .grad in this walk
    with set_grad_enabled(create_graph):  # as PyTorch: the walk records only when asked to
        for t in reversed(toposort(roots)):
            g = grads.pop(id(t), None)  # each gradient is used once, then dropped
            if g is None:  # nothing flowed here (an op returned None)
                continue
            if wanted is not None and id(t) in wanted:
                captured[id(t)] = g
            fn = t._ctx
            if fn is None or t._retains_grad:  # a leaf, or a tensor that asked to keep its .grad
                if wanted is None:  # NOTE: a non-leaf's g goes on to its node's backward: .grad gets a copy
                    _accumulate(t, g if fn is None or isinstance(g, Tensor) else g.copy(), owned)
                if fn is None:
                    continue
            _check_versions(fn, t)
            if create_graph and fn.piecewise_linear:
                gs = _Transpose.apply(g, node=fn)
            elif create_graph:
                from . import xp

                xp.DEVICE = device_of(g.array)  # where the rule's constants (ones, eye) go
                gs = _on_tensors(fn, t).backward(g)
            else:
                gs = fn.backward(g)
            if not isinstance(gs, tuple):
                gs = (gs,)
            for parent, gp in zip(fn.parents, gs):
                if gp is None or not parent.requires_grad:
                    continue
                if gp.shape != parent.array.shape:
                    gp = sum_to(gp, parent.array.shape)  # undo broadcasting, once, for every op
                if isinstance(gp, np.generic):  # NumPy's 0-d arithmetic gives scalars; a gradient is an array
                    gp = np.asarray(gp)
                assert tuple(gp.shape) == parent.array.shape, (
                    f"{type(fn).__name__}.backward gave grad {tuple(gp.shape)} for input {tuple(parent.shape)}"
                )
                if on_increment is not None:
                    on_increment(t, parent, gp)
                key = id(parent)
                prev = grads.get(key)
                grads[key] = gp if prev is None else prev + gp
            if not retain_graph:
                t._ctx = _Freed.of(fn)  # free the saved arrays; a second walk raises instead of going wrong
    return None if capture is None else [captured.get(id(t)) for t in capture]


def _on_tensors(fn: Function, out: Tensor) -> Function:
    """fn as its backward sees it when create_graph=True: a copy whose saved inputs and output are the graph's
    Tensors, not their raw arrays, so that the rule's arithmetic on them is recorded and differentiable. (Saved
    values derived from them, masks and indices, stay arrays: constants of the second derivative.)"""
    if fn.once_differentiable:
        raise RuntimeError(
            f"{type(fn).__name__} has no differentiable backward yet (it runs on raw arrays only), so "
            "create_graph=True cannot go through it"
        )
    tensors = {id(p.array): p for p in fn.parents}
    tensors.setdefault(id(out.array), out)
    view = copy.copy(fn)
    for name, value in vars(fn).items():
        t = tensors.get(id(value))
        if t is not None:
            setattr(view, name, t)
        elif isinstance(value, (tuple, list)) and any(id(v) in tensors for v in value):  # inputs kept together
            setattr(view, name, type(value)(tensors.get(id(v), v) for v in value))
    if hasattr(fn, "derived"):  # saved values computed from the inputs (softmax in a fused loss): as Tensors too
        for name, value in fn.derived(*fn.parents).items():
            setattr(view, name, value)
    return view


class _Transpose(Function):
    """g -> J^T g, the backward of a piecewise-linear node (its Jacobian J constant where defined), recorded so that
    create_graph can go on through it. Its own backward is h -> J h, the node's jvp, whose backward is J^T again:
    the pair closes, to any order, with no rule beyond the node's backward and jvp."""

    def forward(self, g, *, node, transposed=True):
        self.node, self.transposed = node, transposed
        return node.backward(g) if transposed else node.jvp(g)

    def backward(self, h):
        return _Transpose.call(h, node=self.node, transposed=not self.transposed)

    def jvp(self, dg):  # linear in g
        return self.node.backward(dg) if self.transposed else self.node.jvp(dg)


def _accumulate(leaf: Tensor, g, owned: set) -> None:
    if isinstance(g, Tensor):  # create_graph: .grad keeps its history, and adds out of place (as PyTorch)
        g = g if g.dtype == leaf.dtype else g.to(leaf.dtype)
        leaf.grad = g if leaf.grad is None else leaf.grad + g
        return
    if leaf.grad is None:
        # NOTE: take g without a copy only when nothing else can see it: not a view, not handed
        # to another leaf (ops such as add pass the same array to both inputs)
        if g.base is not None or not getattr(g.flags, "writeable", True) or id(g) in owned:  # CuPy: no writeable
            g = g.copy()
        if g.dtype != leaf.dtype:
            g = g.astype(leaf.dtype)
        owned.add(id(g))
        leaf.grad = Tensor._wrap(g)
    else:
        leaf.grad.array += g  # in place, as PyTorch accumulates


def _check_versions(fn: Function, out: Tensor) -> None:
    """Refuse to differentiate through values that were modified in place after they were used."""
    for i, (p, v) in enumerate(zip(fn.parents, fn.versions)):
        if p._version != v:
            raise RuntimeError(
                f"one of the tensors needed for gradient computation has been modified by an "
                f"in-place operation: input {i} of {type(fn).__name__} (shape {tuple(p.shape)}) is at "
                f"version {p._version}; expected version {v}. Compute the new value out of place instead"
            )
    if fn.saves_output and out._version != fn.out_version:
        raise RuntimeError(
            f"the output of {type(fn).__name__} (shape {tuple(out.shape)}) was modified by an in-place "
            "operation, but its backward needs it"
        )


def toposort(root, only_grad: bool = True) -> list[Tensor]:
    """Tensors reachable from root (a Tensor or a list of them), inputs before outputs, by an iterative depth-first
    walk: those that need grad (the backward walk's), or with only_grad=False the constants too (a symbolic
    trace's, a graph drawing's)."""
    roots = [root] if isinstance(root, Tensor) else list(root)
    order, seen, stack = [], set(), [(r, False) for r in reversed(roots)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
        elif id(t) not in seen:
            seen.add(id(t))
            stack.append((t, True))
            if t._ctx is not None:
                # NOTE: pushed in order, so the reversed order visits earlier inputs first (the lecture's)
                stack.extend((p, False) for p in t._ctx.parents if p.requires_grad or not only_grad)
    return order


def sum_to(g, shape: tuple):
    """Sum g over the dimensions that broadcasting added or stretched, so it has `shape`."""
    xp = array_module(g)
    lead = g.ndim - len(shape)
    stretched = tuple(i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1)
    if stretched:
        g = xp.sum(g, axis=stretched, keepdims=True)
    if lead:
        g = xp.sum(g, axis=tuple(range(lead)))  # NOTE: a fresh array, not a reshaped view: leaves can own it
    return g


from . import ops  # noqa: E402  ops subclasses Function, so it is imported last
