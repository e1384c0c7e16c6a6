"""A stand-in for CuPy that runs on the CPU, to test toynn's device dispatch without a GPU.

Its arrays wrap NumPy arrays but are *not* NumPy arrays, and they refuse to mix with them the way
CuPy's do: `np.asarray(device_array)` raises TypeError, a NumPy array (even 0-d) combined with a device
array in an operator, a ufunc or a module function raises TypeError, and moving data either way always
copies. So an op that creates an array with `np.*` where it needs `xp.*`, or pulls device data to the
host by accident, fails here as it would on a GPU. What CuPy accepts from the host is accepted too:
Python and NumPy scalars, NumPy/list index arrays, and NumPy values assigned through an advanced index.

Behaviours copied from CuPy (checked against its source): reductions and scalar indexing give 0-d
arrays, not NumPy scalars; `flags` has no `writeable`; `np.func(device_array)` dispatches to the
module's function of that name (__array_function__); `cupyx.scatter_add` is the scatter-add.

install(monkeypatch) registers it as `cupy` and `cupyx` in sys.modules for one test, which is all
toynn.backend looks at.
"""

from __future__ import annotations

import sys
import types

import numpy as np

__all__ = ["install", "ndarray", "asarray", "asnumpy"]

_HOST_OK = "a NumPy array cannot be combined with a (fake) CuPy array: move it with cupy.asarray or .get() first"


class ndarray:  # noqa: N801  the name CuPy uses
    """A device array: a NumPy array that only the fake module and its own methods may touch."""

    __slots__ = ("_a",)
    __array_priority__ = 100  # CuPy's: a Tensor (1000) wins `device_array + tensor`
    __hash__ = None

    def __init__(self, shape, dtype=float):  # CuPy's constructor: an uninitialised array
        self._a = np.empty(shape, dtype=dtype)

    @classmethod
    def _of(cls, a: np.ndarray) -> ndarray:
        out = cls.__new__(cls)
        out._a = a
        return out

    # -- what CuPy refuses ------------------------------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to construct a NumPy "
            "array explicitly. (fake cupy)"
        )

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "at":
            raise TypeError(f"fake cupy: {ufunc.__name__}.at is not portable to CuPy; use backend.scatter_add")
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_unwrap(o) for o in out)
        raw = getattr(ufunc, method)(*[_unwrap(x) for x in inputs], **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(raw)

    def __array_function__(self, func, types_, args, kwargs):
        impl = _function(func.__name__) if func.__module__ == "numpy" else None
        if impl is None:
            raise TypeError(f"fake cupy: {func.__module__}.{func.__name__} has no CuPy counterpart here")
        return impl(*args, **kwargs)

    # -- attributes -------------------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    T = property(lambda self: ndarray._of(self._a.T))
    flags = property(lambda self: _Flags(self._a.flags))
    base = property(lambda self: None if self._a.base is None else ndarray._of(np.asarray(self._a.base)))
    device = property(lambda self: _Device(0))

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (self._a.ctypes.data, False), "version": 3}

    def __getattr__(self, name):  # methods: sum, reshape, astype, transpose, copy, ...
        if name.startswith("__") or name == "_a":
            raise AttributeError(name)
        attr = getattr(self._a, name)
        if not callable(attr):
            return _wrap(attr)

        def method(*args, **kwargs):
            if name in ("take", "put") and args:  # CuPy converts host index arrays
                args = (_index(args[0]), *args[1:])
            return _wrap(attr(*_unwrap(args), **_unwrap(kwargs)))

        return method

    def get(self, stream=None, order="C", out=None) -> np.ndarray:
        """A NumPy copy on the host (the only way out, as in CuPy)."""
        return np.array(self._a, order=order, copy=True)

    def item(self):
        return self._a.item()

    def tolist(self):
        return self._a.tolist()

    def __reduce__(self):
        return ndarray._of, (self._a.copy(),)

    def __deepcopy__(self, memo):
        return ndarray._of(self._a.copy())

    # -- conversions that synchronise but are allowed ---------------------------------------------
    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(row) for row in self._a)

    def __bool__(self):
        return bool(self._a)

    def __float__(self):
        return float(self._a)

    def __int__(self):
        return int(self._a)

    def __complex__(self):
        return complex(self._a)

    def __format__(self, spec):
        return format(self._a.item() if self._a.ndim == 0 else self._a, spec)

    def __repr__(self):
        return repr(self._a).replace("array(", "fake_cupy.array(", 1)

    def __str__(self):
        return str(self._a)

    # -- indexing ---------------------------------------------------------------------------------
    def __getitem__(self, index):
        return _wrap(self._a[_index(index)])

    def __setitem__(self, index, value):
        index = _index(index)
        advanced = any(isinstance(i, np.ndarray) for i in (index if isinstance(index, tuple) else (index,)))
        if isinstance(value, np.ndarray) and not advanced and value.ndim:  # CuPy fills a basic slice from scalars only
            raise TypeError(_HOST_OK)
        self._a[index] = value if isinstance(value, np.ndarray) else _unwrap(value)

    # -- operators --------------------------------------------------------------------------------
    def __neg__(self):
        return _wrap(-self._a)

    def __pos__(self):
        return _wrap(+self._a)

    def __abs__(self):
        return _wrap(abs(self._a))

    def __invert__(self):
        return _wrap(~self._a)


def _operand(other):
    """The raw value of an operator's other side, or NotImplemented (a Tensor: let it handle the op)."""
    if isinstance(other, ndarray):
        return other._a
    if isinstance(other, np.ndarray):
        raise TypeError(_HOST_OK)
    if isinstance(other, (bool, int, float, complex, np.generic)):
        return other
    return NotImplemented


def _binary(name: str):
    op = getattr(np.ndarray, f"__{name}__")

    def forward(self, other):
        o = _operand(other)
        return NotImplemented if o is NotImplemented else _wrap(op(self._a, o))

    return forward


def _inplace(name: str):
    op = getattr(np.ndarray, f"__i{name}__")

    def inplace(self, other):
        o = _operand(other)
        if o is NotImplemented:
            return NotImplemented
        op(self._a, o)
        return self

    return inplace


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor"):
    setattr(ndarray, f"__{_name}__", _binary(_name))
    setattr(ndarray, f"__r{_name}__", _binary(f"r{_name}"))
    setattr(ndarray, f"__i{_name}__", _inplace(_name))
for _name in ("lshift", "rshift", "eq", "ne", "lt", "le", "gt", "ge"):
    setattr(ndarray, f"__{_name}__", _binary(_name))


class _Flags:
    """CuPy's flags: c_contiguous, f_contiguous and owndata only (no writeable)."""

    def __init__(self, flags):
        self.c_contiguous, self.f_contiguous, self.owndata = flags.c_contiguous, flags.f_contiguous, flags.owndata

    def __getitem__(self, name):
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous, "OWNDATA": self.owndata}[name]


def _wrap(x):
    """NumPy results as device arrays; NumPy scalars as 0-d device arrays, as CuPy returns them."""
    if isinstance(x, np.ndarray):
        return ndarray._of(x)
    if isinstance(x, np.generic):
        return ndarray._of(np.asarray(x))
    if isinstance(x, tuple):
        return tuple(_wrap(v) for v in x)
    if isinstance(x, list):
        return [_wrap(v) for v in x]
    return x


def _unwrap(x):
    """Device arrays to their raw NumPy arrays; a host NumPy array is an error, as in CuPy."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, np.ndarray):
        raise TypeError(_HOST_OK)
    if isinstance(x, (tuple, list)):
        return type(x)(_unwrap(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


def _index(index):
    """An index with device arrays unwrapped; NumPy arrays and lists are accepted, as CuPy converts them."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if isinstance(index, ndarray):
        return index._a
    if isinstance(index, list):
        return np.asarray(index)
    return index


# ---------------------------------------------------------------------------------------------
# The module's functions: NumPy's, with device arrays in and out


def asarray(a, dtype=None, order=None):
    """Host data to the device (always a copy, as a transfer is); device arrays pass through."""
    if isinstance(a, ndarray):
        return a if dtype is None or a.dtype == np.dtype(dtype) else a.astype(dtype)
    if isinstance(a, (list, tuple)):
        a = [v._a if isinstance(v, ndarray) else v for v in a]
    return ndarray._of(np.array(a, dtype=dtype, order=order or "K", copy=True))


def array(obj, dtype=None, copy=True, order="K", ndmin=0):
    if isinstance(obj, ndarray):
        return ndarray._of(np.array(obj._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    return ndarray._of(np.array(asarray(obj, dtype)._a, ndmin=ndmin, copy=False))


def asnumpy(a, stream=None):
    return a.get() if isinstance(a, ndarray) else np.asarray(a)


def _take(a, indices, axis=None, out=None):
    return _wrap(np.take(_unwrap(a), _index(indices), axis=axis, out=_unwrap(out)))


# NumPy names CuPy lacks (or that make host arrays); anything else delegates to NumPy
_MISSING = {"errstate", "add_docstring", "asmatrix", "matrix", "memmap", "fromfile", "frombuffer", "load", "save"}
_SPECIAL = {"asarray": asarray, "asanyarray": asarray, "array": array, "asnumpy": asnumpy, "take": _take}
_cache: dict = {}


def _function(name: str):
    """The fake module's function called name, or None when CuPy has none."""
    if name in _SPECIAL:
        return _SPECIAL[name]
    if name in _MISSING or name.startswith("_"):
        return None
    fn = _cache.get(name)
    if fn is None:
        target = getattr(np, name, None)
        if target is None or isinstance(target, (type, types.ModuleType)) or not callable(target):
            return None
        fn = _cache[name] = _UFunc(target) if isinstance(target, np.ufunc) else _wrapped(target)
    return fn


def _wrapped(target):
    def fn(*args, **kwargs):
        return _wrap(target(*_unwrap(args), **_unwrap(kwargs)))

    fn.__name__ = target.__name__
    return fn


class _UFunc:
    """A ufunc on device arrays; .at is refused (not portable: use backend.scatter_add)."""

    def __init__(self, ufunc):
        self._ufunc, self.__name__ = ufunc, ufunc.__name__

    def __call__(self, *args, **kwargs):
        out = kwargs.get("out")
        raw = self._ufunc(*_unwrap(args), **_unwrap(kwargs))
        if out is not None:
            return out[0] if isinstance(out, tuple) and len(out) == 1 else out
        return _wrap(raw)

    def reduce(self, *args, **kwargs):
        return _wrap(self._ufunc.reduce(*_unwrap(args), **_unwrap(kwargs)))

    def at(self, *args, **kwargs):
        raise TypeError(f"fake cupy: {self.__name__}.at; use toynn.backend.scatter_add")


def __getattr__(name: str):  # module attributes: NumPy's functions, wrapped; dtypes and constants as they are
    fn = _function(name)
    if fn is not None:
        return fn
    value = getattr(np, name, None)
    if value is None or name in _MISSING or isinstance(value, types.ModuleType):
        raise AttributeError(f"fake cupy has no attribute {name!r}")
    return value  # dtypes (float32, ...), constants (inf, nan, newaxis, pi)


# ---------------------------------------------------------------------------------------------
# cupy.cuda, cupy.lib.stride_tricks and cupyx: the few parts toynn and its scripts use


class _Device:
    def __init__(self, device_id=0):
        self.id = device_id

    def synchronize(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


cuda = types.SimpleNamespace(
    Device=_Device,
    runtime=types.SimpleNamespace(getDeviceCount=lambda: 1, runtimeGetVersion=lambda: 0),
    Stream=types.SimpleNamespace(null=_Device()),
)
lib = types.SimpleNamespace(
    stride_tricks=types.SimpleNamespace(
        as_strided=_wrapped(np.lib.stride_tricks.as_strided),
        sliding_window_view=_wrapped(np.lib.stride_tricks.sliding_window_view),
    )
)
__version__ = "0.0-fake"


def _scatter_add(a, slices, value):
    """cupyx.scatter_add: a[slices] += value, adding once per occurrence of a repeated index."""
    np.add.at(_unwrap(a), _index(slices), _unwrap(value))


cupyx = types.ModuleType("cupyx")
cupyx.scatter_add = _scatter_add


def install(monkeypatch) -> types.ModuleType:
    """Make this module `cupy` (and `cupyx`) for the rest of the test; returns it."""
    module = sys.modules[__name__]
    monkeypatch.setitem(sys.modules, "cupy", module)
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    return module
