"""toynn.save and toynn.load, with PyTorch's signatures: state dicts, Tensors and plain Python containers in a file
that loading never executes (docs/serialization.md). toynn.load also reads the zip files torch.save writes.

toynn's own file is a zip: toynn/skeleton.json holds the object's structure as JSON, with {"tensor": i}-style
placeholders, and the list of arrays (dtype, shape, device); toynn/data/i holds array i's bytes (C order, little
endian). It is written atomically when saved to a path.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..backend import array_module, cuda_device_count, to_device
from ..backend import device as _device
from ..nn.module import Module, Parameter
from ..optim.lr_scheduler import LRScheduler
from ..optim.optimizer import Optimizer
from ..tensor import Size, Tensor
from . import torch_format
from .checkpoint import write_atomic
from .torch_format import CorruptFileError, UnsafeFileError

FORMAT = "toynn.save/1"
SKELETON = "toynn/skeleton.json"
MAX_DEPTH = 100  # a state dict nests a few levels (optimizer state, param groups); deeper is a loop or a tampered file
# what an array may hold: NumPy's numbers and bool, never Python objects
DTYPES = {
    "bool", "uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
}  # fmt: skip
_TAGS = ("tuple", "dict", "ordered_dict", "tensor", "ndarray", "numpy_scalar", "float", "size", "device", "dtype")

__all__ = ["save", "load", "UnsafeFileError", "CorruptFileError"]


# ---------------------------------------------------------------------------------------------
# save


def save(obj, f, pickle_module=None, pickle_protocol: int = 2, _use_new_zipfile_serialization: bool = True,
         _disable_byteorder_record: bool = False) -> None:  # fmt: skip
    """Write obj (a state dict, Tensors, NumPy arrays, and dict/list/tuple/str/int/float/bool/None nested) to f, a
    path (replaced atomically) or a binary file object. A Module or an optimizer itself is refused: save its
    state_dict(). pickle_module and the protocol arguments are PyTorch's; toynn pickles nothing."""
    if pickle_module is not None:
        raise TypeError("toynn.save: pickle_module is not supported: toynn writes no pickle, only data")
    encoder = _Encoder()
    skeleton = {"format": FORMAT, "object": encoder.encode(obj, "obj", 0), "arrays": encoder.meta}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        _write(archive, SKELETON, json.dumps(skeleton, separators=(",", ":")).encode())
        for i, array in enumerate(encoder.arrays):
            _write(archive, f"toynn/data/{i}", array.tobytes())
    blob = buffer.getvalue()
    if isinstance(f, (str, os.PathLike)):
        write_atomic(Path(f), blob)
    elif hasattr(f, "write"):
        f.write(blob)
    else:
        raise TypeError(f"toynn.save: f must be a path or a binary file object; got {type(f).__name__}")


def _write(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # a fixed time: the same object, the same bytes
    archive.writestr(info, data)


_STATE_DICT_HINT = (
    "toynn.save(model.state_dict(), PATH), and load it into a new model with model.load_state_dict(toynn.load(PATH))"
)


class _Encoder:
    """obj as JSON with placeholders; the arrays it holds, each once (shared arrays stay shared)."""

    def __init__(self):
        self.arrays: list = []  # host arrays, C order, little endian
        self.meta: list[dict] = []  # {"dtype", "shape", "location"} of each
        self._index: dict[int, int] = {}  # id(original array) -> its index
        self._alive: list = []  # the originals, so that their ids stay theirs while saving

    def array(self, array) -> int:
        key = id(array)
        if key not in self._index:
            dtype = np.dtype(array.dtype)
            if dtype.name not in DTYPES:
                raise TypeError(f"toynn.save: cannot store an array of dtype {dtype} (numbers and bool only)")
            location = "cpu" if array_module(array) is np else "cuda:0"
            host = np.ascontiguousarray(to_device(array, "cpu")).astype(dtype.newbyteorder("<"), copy=False)
            self._index[key] = len(self.arrays)
            self._alive.append(array)
            self.arrays.append(host)
            self.meta.append({"dtype": dtype.name, "shape": list(array.shape), "location": location})
        return self._index[key]

    def encode(self, value, where: str, depth: int):
        if depth > MAX_DEPTH:
            raise TypeError(f"toynn.save: {where} is nested more than {MAX_DEPTH} levels deep (or contains itself)")
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value) if math.isfinite(value) else {"float": repr(float(value))}
        if isinstance(value, Tensor):
            node = {"tensor": self.array(value.array)}
            if isinstance(value, Parameter):
                node["parameter"] = True
            if value.requires_grad:
                node["requires_grad"] = True
            return node
        if isinstance(value, np.generic):
            return {"numpy_scalar": self.array(np.asarray(value))}
        if isinstance(value, np.ndarray) or (hasattr(value, "__cuda_array_interface__") and hasattr(value, "get")):
            return {"ndarray": self.array(value)}
        if isinstance(value, Size):
            return {"size": list(value)}
        if isinstance(value, tuple):
            return {"tuple": [self.encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
        if isinstance(value, dict):
            pairs = [[self.key(k, where), self.encode(v, f"{where}[{k!r}]", depth + 1)] for k, v in value.items()]
            return {"ordered_dict" if isinstance(value, OrderedDict) else "dict": pairs}
        if isinstance(value, _device):
            return {"device": str(value)}
        if isinstance(value, np.dtype):
            return {"dtype": self.dtype_name(value, where)}
        raise TypeError(_refusal(value, where))

    def key(self, key, where: str):
        if not _plain_key(key):
            raise TypeError(
                f"toynn.save: {where} has a key of type {type(key).__name__}; keys must be str, int, float, bool, "
                "None or tuples of them"
            )
        return self.encode(key, where, 0)

    @staticmethod
    def dtype_name(dtype: np.dtype, where: str) -> str:
        if dtype.name not in DTYPES:
            raise TypeError(f"toynn.save: {where} is the dtype {dtype}, which toynn does not store")
        return dtype.name


def _plain_key(key) -> bool:
    if isinstance(key, tuple):
        return all(_plain_key(k) for k in key)
    return key is None or isinstance(key, (bool, int, float, str))


def _refusal(value, where: str) -> str:
    kind = type(value).__name__
    if isinstance(value, Module):
        return (
            f"toynn.save: cannot save the {kind} (an nn.Module) at {where} itself: toynn stores data, never code. "
            f"Save its state_dict instead: {_STATE_DICT_HINT}"
        )
    if isinstance(value, (Optimizer, LRScheduler)):
        return (
            f"toynn.save: cannot save the {kind} at {where} itself: save its state_dict() instead and restore it "
            f"with .load_state_dict(toynn.load(PATH)); for the model: {_STATE_DICT_HINT}"
        )
    return (
        f"toynn.save: cannot store a {kind} at {where}: toynn.save stores Tensors, NumPy arrays and plain containers "
        f"(dict, list, tuple, str, int, float, bool, None); for a model: {_STATE_DICT_HINT}"
    )


# ---------------------------------------------------------------------------------------------
# load


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """The object that toynn.save or torch.save wrote to f (a path or a binary file object). Nothing in the file is
    executed: torch.save's pickle is interpreted through a fixed table of tensor rebuild functions.

    map_location as PyTorch's: None (where each tensor was saved), a device ("cpu", toynn.device), a dict
    {"cuda:0": "cpu"} of saved location -> device, or a callable (storage, location) -> storage or None.
    weights_only and mmap are accepted; toynn always loads as weights_only=True does, and reads the file whole.
    """
    if pickle_module is not None or pickle_load_args:
        raise TypeError("toynn.load: pickle_module and pickle arguments are not supported: toynn never unpickles")
    name, data = _read_bytes(f)
    place = _placement(map_location, name)
    try:
        archive = _open(data)
        names = archive.namelist()
        if SKELETON in names:
            return _read_toynn(archive, place)
        if torch_format.is_torch_zip(names):
            return torch_format.read(archive, place)
        raise CorruptFileError("it is a zip archive but neither toynn.save's nor torch.save's")
    except UnsafeFileError as err:
        tail = (
            " (weights_only=False changes nothing: toynn never runs code from a file)" if weights_only is False else ""
        )
        raise UnsafeFileError(f"toynn.load: {name} {err}{tail}") from None
    except CorruptFileError as err:
        raise CorruptFileError(f"toynn.load: {name} cannot be read: {err}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, NotImplementedError) as err:
        raise CorruptFileError(f"toynn.load: {name} cannot be read: it is damaged or truncated ({err})") from None


def _read_bytes(f) -> tuple[str, bytes]:
    if isinstance(f, (str, os.PathLike)):
        return str(f), Path(f).read_bytes()
    if hasattr(f, "read"):
        data = f.read()
        if isinstance(data, str):
            raise TypeError("toynn.load: the file object is open in text mode; open it with 'rb'")
        return str(getattr(f, "name", "the file object")), bytes(data)
    raise TypeError(f"toynn.load: f must be a path or a binary file object; got {type(f).__name__}")


def _open(data: bytes) -> zipfile.ZipFile:
    """The zip archive in data, or CorruptFileError saying what the bytes look like instead."""
    if data[:4] == b"PK\x03\x04" or zipfile.is_zipfile(io.BytesIO(data)):
        return zipfile.ZipFile(io.BytesIO(data))
    if not data:
        raise CorruptFileError("it is empty")
    if data[:1] == b"\x80" or data[:1] in (b"(", b"}", b"]", b"c"):
        raise UnsafeFileError(
            "is a pickle file or PyTorch's legacy (pre-1.6) format, which toynn.load does not read: unpickling can "
            "run any code. In PyTorch, load it and re-save it in the zip format (torch.save's default since 1.6), "
            "holding tensors and plain containers such as a state_dict"
        )
    if len(data) > 8 and data[8:9] == b"{":
        raise CorruptFileError(
            "it looks like a safetensors file: read a toynn checkpoint with toynn.io.checkpoint.load"
        )
    raise CorruptFileError("it is not a toynn.save or torch.save file (no zip archive)")


def _placement(map_location, name: str):
    """place(host_array, saved_location) -> the array on the device map_location asks for."""
    if map_location is not None and not callable(map_location) and not isinstance(map_location, dict):
        map_location = str(_device(map_location))  # checks the name now, before any reading

    def place(array, location: str):
        target = location
        if callable(map_location):
            moved = map_location(Tensor._wrap(array), location)
            if moved is not None:
                if not isinstance(moved, Tensor) or moved.shape != array.shape:
                    raise TypeError(
                        f"toynn.load: map_location returned {type(moved).__name__}; it must return the storage it "
                        "was given (a 1-D Tensor), moved, or None"
                    )
                return moved.array
        elif isinstance(map_location, dict):
            target = str(map_location.get(location, location))
        elif map_location is not None:
            target = map_location
        if target.startswith("cuda") and cuda_device_count() == 0:
            raise RuntimeError(
                f"toynn.load: {name} holds tensors saved on {location}, but CUDA is not available here (toynn needs "
                "CuPy and a GPU). Load them on the CPU with toynn.load(..., map_location='cpu')"
            )
        return to_device(array, target)

    return place


def _read_toynn(archive: zipfile.ZipFile, place):
    try:
        skeleton = json.loads(archive.read(SKELETON))
    except (ValueError, RecursionError) as err:
        raise CorruptFileError(f"its skeleton is not JSON ({err})") from None
    if not isinstance(skeleton, dict) or skeleton.get("format") != FORMAT:
        got = skeleton.get("format") if isinstance(skeleton, dict) else type(skeleton).__name__
        raise CorruptFileError(f"its skeleton has format {got!r}; expected {FORMAT!r}")
    meta = skeleton.get("arrays")
    if not isinstance(meta, list):
        raise CorruptFileError("its skeleton lists no arrays")
    return _Decoder(archive, meta, place).decode(skeleton.get("object"), 0)


class _Decoder:
    """The skeleton's JSON back into the object; each array is read (and placed) once, on first use."""

    def __init__(self, archive, meta: list, place):
        self.archive, self.meta, self.place = archive, meta, place
        self.arrays: dict[int, object] = {}
        self.tensors: dict[tuple, Tensor] = {}

    def array(self, i):
        if type(i) is not int or not 0 <= i < len(self.meta):
            raise CorruptFileError(f"it refers to array {i!r}; it holds {len(self.meta)}")
        if i not in self.arrays:
            m = self.meta[i]
            ok = isinstance(m, dict) and m.get("dtype") in DTYPES and isinstance(m.get("location"), str)
            shape = m.get("shape") if ok else None
            if not ok or not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
                raise CorruptFileError(f"its array {i} is described as {m!r}")
            dtype = np.dtype(m["dtype"]).newbyteorder("<")
            name = f"toynn/data/{i}"
            try:
                size = self.archive.getinfo(name).file_size
            except KeyError:
                raise CorruptFileError(f"its array {i} ({name}) is missing") from None
            if size != math.prod(shape) * dtype.itemsize:
                raise CorruptFileError(f"its array {i} holds {size} bytes; {m['dtype']} {tuple(shape)} needs "
                                       f"{math.prod(shape) * dtype.itemsize}")  # fmt: skip
            flat = np.frombuffer(bytearray(self.archive.read(name)), dtype=dtype).astype(dtype.newbyteorder("="))
            self.arrays[i] = self.place(flat.reshape(shape), m["location"])
        return self.arrays[i]

    def decode(self, node, depth: int):
        if depth > MAX_DEPTH:
            raise CorruptFileError(f"its object is nested more than {MAX_DEPTH} levels deep")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v, depth + 1) for v in node]
        if not isinstance(node, dict):
            raise CorruptFileError(f"its skeleton holds a {type(node).__name__}")
        tags = [t for t in _TAGS if t in node]
        if len(tags) != 1:
            raise CorruptFileError(f"its skeleton holds an unknown node {_short(node)}")
        tag, value = tags[0], node[tags[0]]
        if tag == "tensor":
            flags = (value, node.get("parameter") is True, node.get("requires_grad") is True)
            if flags not in self.tensors:
                array = self.array(value)
                grad = flags[2] and array.dtype.kind == "f"
                self.tensors[flags] = Parameter(array, requires_grad=grad) if flags[1] else Tensor(array, grad)
            return self.tensors[flags]
        if tag == "ndarray":
            return self.array(value)
        if tag == "numpy_scalar":
            return self.array(value)[()]
        if tag == "float":
            if value not in ("nan", "inf", "-inf"):
                raise CorruptFileError(f"its skeleton holds the float {value!r}")
            return float(value)
        if tag == "size":
            return Size(self.ints(value))
        if tag == "device":
            try:
                return _device(self.text(value))
            except RuntimeError as err:
                raise CorruptFileError(f"its skeleton holds a bad device: {err}") from None
        if tag == "dtype":
            if value not in DTYPES:
                raise CorruptFileError(f"its skeleton holds the dtype {value!r}")
            return np.dtype(value)
        items = self.items(value)
        if tag == "tuple":
            return tuple(self.decode(v, depth + 1) for v in items)
        pairs = [self.pair(p, depth) for p in items]
        return OrderedDict(pairs) if tag == "ordered_dict" else dict(pairs)

    def pair(self, p, depth: int) -> tuple:
        if not isinstance(p, list) or len(p) != 2:
            raise CorruptFileError(f"a dict entry of its skeleton is {_short(p)}, not a [key, value] pair")
        key = self.decode(p[0], depth + 1)
        if not torch_format._hashable(key) or isinstance(key, (Size, _device)):
            raise CorruptFileError(f"its skeleton uses a {type(key).__name__} as a dict key")
        return key, self.decode(p[1], depth + 1)

    @staticmethod
    def items(value) -> list:
        if not isinstance(value, list):
            raise CorruptFileError(f"its skeleton holds {_short(value)} where a list belongs")
        return value

    @staticmethod
    def ints(value) -> list:
        if not isinstance(value, list) or not all(type(n) is int and n >= 0 for n in value):
            raise CorruptFileError(f"its skeleton holds the size {_short(value)}")
        return value

    @staticmethod
    def text(value) -> str:
        if not isinstance(value, str):
            raise CorruptFileError(f"its skeleton holds the device {_short(value)}")
        return value


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."
