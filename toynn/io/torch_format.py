"""Reading a file that torch.save wrote (PyTorch's zip format) without PyTorch and without running its pickle.

The archive holds PREFIX/data.pkl (a pickle of the object's structure), PREFIX/data/KEY (one raw storage each) and
PREFIX/byteorder. data.pkl is interpreted here by a small stack machine over pickletools.genops, never by the
pickle module: the only globals it resolves are a fixed table (OrderedDict, PyTorch's tensor and parameter rebuild
functions, the storage and dtype names, torch.Size, torch.device), each mapped to a function of this module, as
PyTorch's own weights_only loader does. Any other global, and any opcode that could build an object of the file's
choosing, is an error that names it.
"""

from __future__ import annotations

import _compat_pickle  # the stdlib's tables of Python 2 names, which protocol-2 pickles (torch.save's) use
import math
import pickletools
import zipfile
from collections import OrderedDict

import numpy as np

from ..backend import array_module
from ..backend import device as _device
from ..nn.module import Parameter
from ..tensor import Size, Tensor

MAX_PICKLE_DEPTH = 1000  # nested MARKs; a state dict nests a few levels


class UnsafeFileError(ValueError):
    """The file asks for something toynn.load never does: a global outside the table, or code-building opcode."""


class CorruptFileError(ValueError):
    """The file is damaged or truncated, or its parts do not fit together."""


# storages: PyTorch's legacy storage class names and the NumPy dtype of their elements
_STORAGES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",  # NumPy has none: widened to float32 exactly (the 16 bits are float32's upper half)
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "UntypedStorage": "uint8",
}
_DTYPES = {  # torch.float32 etc., as they appear in a pickle (GLOBAL 'torch float32')
    **{name: name for name in ("float16", "float32", "float64", "bfloat16", "complex64", "complex128", "bool")},
    **{name: name for name in ("uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64")},
    "half": "float16",
    "float": "float32",
    "double": "float64",
    "long": "int64",
    "int": "int32",
    "short": "int16",
}


class _StorageType:
    """What GLOBAL 'torch FloatStorage' (or a dtype in newer files) stands for: the element dtype of a storage."""

    def __init__(self, dtype: str):
        self.dtype = dtype


class _Dtype(_StorageType):
    """A torch dtype as a value (torch.float32): loaded as the NumPy dtype, bfloat16 as float32."""


class _Storage:
    """One storage: its elements as a flat array (NumPy, or CuPy after map_location), and where it was saved."""

    def __init__(self, array, location: str):
        self.array, self.location = array, location


class _Allowed:
    """A global from the table: calling it (REDUCE) runs the function of this module that stands for it."""

    def __init__(self, name: str, fn):
        self.name, self.fn = name, fn

    def __repr__(self):
        return f"<{self.name}>"


def _numpy_dtype(dtype: str) -> np.dtype:
    return np.dtype("float32" if dtype == "bfloat16" else dtype)


def _ints(value, what: str) -> tuple:
    if not isinstance(value, (tuple, list)) or not all(type(v) is int and v >= 0 for v in value):
        raise CorruptFileError(f"a tensor's {what} is not a tuple of non-negative ints: {value!r}")
    return tuple(value)


def _rebuild_tensor(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    """torch._utils._rebuild_tensor_v2: a view of `storage` with PyTorch's offset, size and stride (in elements)."""
    if not isinstance(storage, _Storage):
        raise CorruptFileError(f"a tensor is rebuilt from {type(storage).__name__}, not from a storage")
    size, stride = _ints(size, "size"), _ints(stride, "stride")
    if type(storage_offset) is not int or storage_offset < 0 or len(size) != len(stride):
        raise CorruptFileError(f"a tensor has offset {storage_offset!r}, size {size} and stride {stride}")
    if metadata:
        raise CorruptFileError(f"a tensor has metadata {metadata!r} (conjugate or negative bits), which toynn lacks")
    flat = storage.array
    xp = array_module(flat)
    if math.prod(size) == 0:
        array = xp.zeros(size, dtype=flat.dtype)
    else:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= flat.size:  # NOTE: checked before as_strided, which would read memory outside the storage
            raise CorruptFileError(
                f"a tensor of size {size}, stride {stride} and offset {storage_offset} reaches element {last} of a "
                f"storage of {flat.size}"
            )
        strides = tuple(s * flat.itemsize for s in stride)
        array = xp.lib.stride_tricks.as_strided(flat[storage_offset:], shape=size, strides=strides)
    t = Tensor._wrap(array)
    if requires_grad is True and array.dtype.kind == "f":
        t.requires_grad_(True)
    return t


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    """torch._utils._rebuild_tensor_v3: as v2, with the dtype given apart from an untyped storage."""
    if not isinstance(dtype, _Dtype) or not isinstance(storage, _Storage):
        raise CorruptFileError(f"_rebuild_tensor_v3 got dtype {dtype!r} and storage {storage!r}")
    want = _numpy_dtype(dtype.dtype)
    if storage.array.dtype != want:
        flat = storage.array
        if flat.dtype != np.uint8 or dtype.dtype == "bfloat16":
            raise CorruptFileError(f"a {dtype.dtype} tensor is rebuilt from a {flat.dtype} storage")
        storage = _Storage(flat[: flat.size - flat.size % want.itemsize].view(want), storage.location)
    return _rebuild_tensor(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata)


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    """torch._utils._rebuild_parameter(_with_state): an nn.Parameter holding data."""
    if not isinstance(data, Tensor):
        raise CorruptFileError(f"a Parameter is rebuilt from {type(data).__name__}, not from a tensor")
    if state:
        raise CorruptFileError(f"a Parameter carries Python attributes {sorted(state)!r}, which toynn does not load")
    return Parameter(data.array, requires_grad=requires_grad is True and data.dtype.kind == "f")


def _rebuild_from_type_v2(func, new_type, args, state):
    """torch._tensor._rebuild_from_type_v2: a tensor (or Parameter) rebuilt by func(*args), with no extra state."""
    if not isinstance(func, _Allowed) or func.fn not in (_rebuild_tensor, _rebuild_tensor_v3, _rebuild_parameter):
        raise UnsafeFileError(f"_rebuild_from_type_v2 calls {func!r}, which is not a tensor rebuild function")
    if state:
        raise CorruptFileError(f"a tensor carries Python attributes {sorted(state)!r}, which toynn does not load")
    t = func.fn(*args)
    if isinstance(new_type, _Allowed) and new_type.fn is _parameter_class and not isinstance(t, Parameter):
        t = _rebuild_parameter(t, t.requires_grad, None)
    return t


def _parameter_class(*args):
    raise UnsafeFileError("torch.nn.Parameter is only allowed as the type of a rebuilt tensor")


def _tensor_class(*args):
    raise UnsafeFileError("torch.Tensor is only allowed as the type of a rebuilt tensor")


def _size(dims=()):
    return Size(_ints(dims, "torch.Size"))


def _make_device(*args):
    if not all(isinstance(a, (str, int)) for a in args):
        raise CorruptFileError(f"torch.device{args!r}")
    return _device(*args)


def _encode(text, encoding="latin1"):
    """_codecs.encode: how protocol-2 pickles write bytes."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafeFileError(f"_codecs.encode{(text, encoding)!r} is only allowed for bytes written as latin1 text")
    return text.encode("latin1")


def _ordered_dict(items=()):
    if not isinstance(items, (list, tuple)):
        raise CorruptFileError(f"OrderedDict of {type(items).__name__}")
    return OrderedDict(items)


def _container(kind):
    def make(items=()):
        if not isinstance(items, (list, tuple, set, frozenset, str, bytes, int)):
            raise CorruptFileError(f"{kind.__name__} of {type(items).__name__}")
        return kind(items)

    return make


def _complex(real=0.0, imag=0.0):
    if not all(isinstance(v, (int, float)) for v in (real, imag)):
        raise CorruptFileError(f"complex{(real, imag)!r}")
    return complex(real, imag)


_TABLE = {
    "collections.OrderedDict": _ordered_dict,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "torch.nn.parameter.Parameter": _parameter_class,
    "torch.Tensor": _tensor_class,
    "torch.Size": _size,
    "torch.device": _make_device,
    "_codecs.encode": _encode,
    "builtins.set": _container(set),
    "builtins.frozenset": _container(frozenset),
    "builtins.bytearray": _container(bytearray),
    "builtins.complex": _complex,
}


def _resolve(module: str, name: str):
    """The table's stand-in for the global module.name, or UnsafeFileError naming it."""
    # NOTE: Python 2 names back to Python 3's (__builtin__.set -> builtins.set), as pickle's fix_imports does
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[module, name]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    full = f"{module}.{name}"
    if full in _TABLE:
        return _Allowed(full, _TABLE[full])
    if module in ("torch", "torch.storage") and name in _STORAGES:
        return _StorageType(_STORAGES[name])
    if module == "torch" and name in _DTYPES:
        return _Dtype(_DTYPES[name])
    hint = ""
    if module.startswith("torch.nn.modules") or module.startswith("torch.optim"):
        hint = (
            f" ({full} is a pickled {'model' if 'nn' in module else 'optimizer'}: toynn loads state dicts only. In "
            "PyTorch, re-save with torch.save(model.state_dict(), PATH) and load into a toynn model with "
            "model.load_state_dict(toynn.load(PATH)))"
        )
    raise UnsafeFileError(
        f"calls {full}, which is not allowed; toynn.load only rebuilds tensors and plain containers{hint}"
    )


# ---------------------------------------------------------------------------------------------
# the pickle interpreter


def _interpret(data: bytes, persistent_load):
    """The object that the pickle `data` describes, built by the table's functions only. Raises UnsafeFileError or
    CorruptFileError."""
    stack: list = []
    marks: list[list] = []
    memo: dict = {}

    def pop_mark() -> list:
        nonlocal stack
        if not marks:
            raise CorruptFileError("a pickle opcode needs a MARK that is not there")
        items, stack = stack, marks.pop()
        return items

    def pop():
        if not stack:
            raise CorruptFileError("the pickle pops an empty stack")
        return stack.pop()

    def top():
        if not stack:
            raise CorruptFileError("the pickle reads an empty stack")
        return stack[-1]

    def set_items(target, pairs):
        if not isinstance(target, dict):
            raise CorruptFileError(f"the pickle sets items on a {type(target).__name__}")
        for k, v in pairs:
            if not _hashable(k):
                raise CorruptFileError(f"the pickle uses a {type(k).__name__} as a dict key")
            target[k] = v

    try:
        for op, arg, _pos in pickletools.genops(data):
            name = op.name
            if name in ("PROTO", "FRAME"):
                continue
            if name == "STOP":
                if marks or len(stack) != 1:
                    raise CorruptFileError("the pickle stops with an unbalanced stack")
                return stack[0]
            if name == "MARK":
                if len(marks) >= MAX_PICKLE_DEPTH:
                    raise CorruptFileError(f"the pickle nests more than {MAX_PICKLE_DEPTH} levels")
                marks.append(stack)
                stack = []
            elif name == "POP":
                pop() if stack else pop_mark()
            elif name == "POP_MARK":
                pop_mark()
            elif name == "DUP":
                stack.append(top())
            elif name in _LITERALS:
                stack.append(arg)
            elif name in ("STRING", "BINSTRING", "SHORT_BINSTRING"):
                stack.append(arg if isinstance(arg, str) else bytes(arg).decode("latin1"))
            elif name == "BYTEARRAY8":
                stack.append(bytearray(arg))
            elif name == "NONE":
                stack.append(None)
            elif name in ("NEWTRUE", "NEWFALSE"):
                stack.append(name == "NEWTRUE")
            elif name == "EMPTY_LIST":
                stack.append([])
            elif name == "APPEND":
                value = pop()
                _list(top()).append(value)
            elif name == "APPENDS":
                items = pop_mark()
                _list(top()).extend(items)
            elif name == "LIST":
                items = pop_mark()  # NOTE: before naming `stack`, which pop_mark rebinds
                stack.append(items)
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name == "TUPLE":
                items = pop_mark()
                stack.append(tuple(items))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                if len(stack) < n:
                    raise CorruptFileError(f"{name} on a stack of {len(stack)}")
                items = tuple(stack[-n:])
                del stack[-n:]
                stack.append(items)
            elif name == "EMPTY_DICT":
                stack.append({})
            elif name == "DICT":
                items = pop_mark()
                d: dict = {}
                set_items(d, zip(items[::2], items[1::2]))
                stack.append(d)
            elif name == "SETITEM":
                value, key = pop(), pop()
                set_items(top(), [(key, value)])
            elif name == "SETITEMS":
                items = pop_mark()
                set_items(top(), zip(items[::2], items[1::2]))
            elif name == "EMPTY_SET":
                stack.append(set())
            elif name == "ADDITEMS":
                items = pop_mark()
                target = top()
                if not isinstance(target, set) or not all(_hashable(i) for i in items):
                    raise CorruptFileError("ADDITEMS on something that is not a set, or of unhashable items")
                target.update(items)
            elif name == "FROZENSET":
                items = pop_mark()
                if not all(_hashable(i) for i in items):
                    raise CorruptFileError("a frozenset of unhashable items")
                stack.append(frozenset(items))
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                if arg not in memo:
                    raise CorruptFileError(f"the pickle reads memo entry {arg}, which was never written")
                stack.append(memo[arg])
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = top()
            elif name == "MEMOIZE":
                memo[len(memo)] = top()
            elif name == "GLOBAL":
                module, _, attr = arg.partition(" ")
                stack.append(_resolve(module, attr))
            elif name == "STACK_GLOBAL":
                attr, module = pop(), pop()
                if not isinstance(module, str) or not isinstance(attr, str):
                    raise CorruptFileError("STACK_GLOBAL of names that are not strings")
                stack.append(_resolve(module, attr))
            elif name in ("REDUCE", "NEWOBJ"):
                args, fn = pop(), pop()
                if not isinstance(fn, _Allowed):
                    raise UnsafeFileError(
                        f"calls {_what(fn)}, which is not allowed; toynn.load only calls the "
                        "tensor rebuild functions of its table"
                    )
                if not isinstance(args, tuple):
                    raise CorruptFileError(f"{fn.name} is called with {type(args).__name__} arguments")
                try:
                    stack.append(fn.fn(*args))
                except TypeError as err:  # wrong number of arguments: a damaged or hand-made file
                    raise CorruptFileError(f"{fn.name}{_short_args(args)}: {err}") from None
            elif name == "BUILD":
                state = pop()
                _build(top(), state)
            elif name == "INST":  # a global and a call in one opcode: name the global if it is not allowed
                module, _, attr = arg.partition(" ")
                _resolve(module, attr)
                raise UnsafeFileError(f"uses the pickle opcode INST ({module}.{attr}), which is not allowed")
            elif name == "BINPERSID":
                stack.append(persistent_load(pop()))
            else:  # INST, OBJ, EXT1/2/4, NEWOBJ_EX, PERSID, buffers: they build objects of the file's choosing
                raise UnsafeFileError(
                    f"uses the pickle opcode {name}, which is not allowed; toynn.load only "
                    "rebuilds tensors and plain containers"
                )
    except (ValueError, EOFError) as err:
        if isinstance(err, (UnsafeFileError, CorruptFileError)):
            raise
        raise CorruptFileError(f"its data.pkl is damaged ({err})") from None
    raise CorruptFileError("its data.pkl ends without STOP")


_LITERALS = {
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
    "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8",
}  # fmt: skip


def _hashable(key) -> bool:
    if isinstance(key, tuple):
        return all(_hashable(k) for k in key)
    return key is None or isinstance(key, (bool, int, float, complex, str, bytes, frozenset, _device, Size))


def _list(target) -> list:
    if not isinstance(target, list):
        raise CorruptFileError(f"the pickle appends to a {type(target).__name__}")
    return target


def _what(obj) -> str:
    return obj.name if isinstance(obj, _Allowed) else f"a {type(obj).__name__.lstrip('_')}"


def _short_args(args) -> str:
    text = repr(args)
    return text if len(text) < 120 else text[:117] + "..."


def _build(obj, state) -> None:
    """BUILD: only an OrderedDict's attributes (a state_dict's _metadata); anything else is refused."""
    if not isinstance(obj, OrderedDict) or not isinstance(state, dict):
        raise UnsafeFileError(f"sets the state of a {type(obj).__name__}, which is not allowed")
    for key, value in state.items():
        if not isinstance(key, str) or key.startswith("__"):
            raise UnsafeFileError(f"sets the attribute {key!r} of an OrderedDict, which is not allowed")
        setattr(obj, key, value)


# ---------------------------------------------------------------------------------------------
# the archive


def is_torch_zip(names: list[str]) -> bool:
    return any(n.endswith("/data.pkl") and n.count("/") == 1 for n in names)


def read(archive: zipfile.ZipFile, place) -> object:
    """The object in a torch.save zip archive. place(storage_array, location) -> the array where it should live
    (map_location); storages are read once each, so tensors that shared one share it again."""
    names = archive.namelist()
    pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise CorruptFileError(f"it holds {len(pickles)} data.pkl records; a torch.save archive holds one")
    prefix = pickles[0][: -len("data.pkl")]
    if f"{prefix}constants.pkl" in names or any(n.startswith(f"{prefix}code/") for n in names):
        raise CorruptFileError("it is a TorchScript archive (torch.jit.save); toynn reads torch.save files only")
    order = archive.read(f"{prefix}byteorder").decode() if f"{prefix}byteorder" in names else "little"
    if order not in ("little", "big"):
        raise CorruptFileError(f"its byteorder record says {order!r}")
    storages: dict[str, _Storage] = {}

    def persistent_load(pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise CorruptFileError(f"a persistent id is {_short_args(pid)}, not ('storage', type, key, location, n)")
        _, kind, key, location, numel = pid
        if not isinstance(kind, _StorageType) or not isinstance(key, str) or not isinstance(location, str):
            raise CorruptFileError(f"a storage record is {_short_args(pid)}")
        if key not in storages:
            storages[key] = _read_storage(archive, f"{prefix}data/{key}", kind.dtype, numel, order, location, place)
        return storages[key]

    return _values(_interpret(archive.read(pickles[0]), persistent_load), set())


def _values(obj, seen: set):
    """The loaded object with the dtype markers left in it (a torch dtype kept as a value) made NumPy dtypes."""
    if isinstance(obj, _Dtype):
        return _numpy_dtype(obj.dtype)
    if isinstance(obj, _StorageType | _Allowed | _Storage):
        raise CorruptFileError(f"it holds {_what(obj)} as a value, not a tensor")
    if id(obj) in seen:
        return obj
    if isinstance(obj, list):
        seen.add(id(obj))
        obj[:] = [_values(v, seen) for v in obj]
    elif isinstance(obj, dict):
        seen.add(id(obj))
        for key in obj:
            obj[key] = _values(obj[key], seen)
    elif isinstance(obj, tuple) and not isinstance(obj, Size):
        return tuple(_values(v, seen) for v in obj)
    return obj


def _read_storage(archive, name: str, dtype: str, numel, order: str, location: str, place) -> _Storage:
    """One storage's elements as a writable flat array, its dtype made NumPy's (bfloat16 widened to float32)."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise CorruptFileError(f"its storage {name} is missing") from None
    raw_dtype = np.dtype("uint16" if dtype == "bfloat16" else dtype).newbyteorder("<" if order == "little" else ">")
    if type(numel) is not int or numel < 0 or info.file_size != numel * raw_dtype.itemsize:
        raise CorruptFileError(
            f"its storage {name} holds {info.file_size} bytes; {numel!r} {dtype} elements need "
            f"{numel * raw_dtype.itemsize if type(numel) is int else '?'}"
        )
    flat = np.frombuffer(bytearray(archive.read(name)), dtype=raw_dtype)
    if dtype == "bfloat16":  # the upper 16 bits of a float32: exact
        flat = (flat.astype(np.uint32) << 16).view(np.float32)
    elif not raw_dtype.isnative:
        flat = flat.astype(raw_dtype.newbyteorder("="))
    return _Storage(place(flat, location), location)
