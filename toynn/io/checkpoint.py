"""Checkpoints: arrays in safetensors, everything else in a JSON sidecar; written atomically, never pickled.

A checkpoint is a pair `NAME.safetensors` + `NAME.json`. Nested state (model, optimizer,
scheduler, random generator, epoch) is flattened: each array becomes a safetensors entry and
the JSON keeps the structure with {"__array__": key} placeholders. Loading executes no code.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ..backend import to_device
from ..tensor import Tensor

FORMAT = "toynn-checkpoint/1"


def _flatten(obj, prefix: str, arrays: dict):
    """obj with every array replaced by a placeholder; the arrays are collected under dotted keys."""
    if isinstance(obj, Tensor):
        obj = obj.data
    if hasattr(obj, "__array__") and not isinstance(obj, (int, float, bool, str)) and obj is not None:
        # NOTE: asarray(order="C"), not ascontiguousarray, which turns a 0-d array (num_batches_tracked) into 1-d
        arr = np.asarray(to_device(np.asarray(obj) if isinstance(obj, np.generic) else obj, "cpu"), order="C")
        arrays[prefix] = arr
        return {"__array__": prefix}
    if isinstance(obj, dict):
        for key in obj:
            if not isinstance(key, (str, int)):
                raise TypeError(f"checkpoint: dict keys must be str or int; got {type(key).__name__} at {prefix!r}")
        return {"__dict__": [[k, _flatten(v, f"{prefix}.{k}" if prefix else str(k), arrays)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [_flatten(v, f"{prefix}.{i}", arrays) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"checkpoint: cannot store a {type(obj).__name__} at {prefix!r} (only arrays, numbers, str, ...)")


def _unflatten(obj, arrays: dict):
    if isinstance(obj, dict):
        if "__array__" in obj:
            return arrays[obj["__array__"]]
        if "__tuple__" in obj:
            return tuple(_unflatten(v, arrays) for v in obj["__tuple__"])
        return {k: _unflatten(v, arrays) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_unflatten(v, arrays) for v in obj]
    return obj


def _atomic_write(path: Path, write) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename over `path`."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # NOTE: atomic on POSIX: readers see the old file or the new one, never half
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(state: dict, path, sidecar: dict | None = None) -> Path:
    """Write `state` (nested dicts/lists of arrays, Tensors, numbers, str) to one .safetensors file.

    The structure travels in the file's own metadata, so one atomic rename publishes the whole
    checkpoint: a run killed mid-save leaves the previous file intact. `sidecar` (config,
    metrics) goes to a .json beside it for people and tools; loading does not need it.
    """
    from safetensors.numpy import save as st_save

    path = _path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict = {}
    tree = _flatten(state, "", arrays)
    blob = st_save(arrays, metadata={"format": FORMAT, "state": json.dumps(tree)})
    _atomic_write(path, lambda f: f.write(blob))
    if sidecar is not None:
        text = json.dumps(sidecar, indent=1, default=float).encode()
        _atomic_write(path.with_suffix(".json"), lambda f: f.write(text))
    return path


def load(path) -> dict:
    """Read a checkpoint written by save(); raises ValueError naming the file when it is damaged."""
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    path = _path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint: {path} does not exist")
    blob = path.read_bytes()
    try:
        arrays = st_load(blob)
        header = json.loads(blob[8 : 8 + int.from_bytes(blob[:8], "little")])
    except (SafetensorError, ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"checkpoint: {path} is not a readable safetensors file ({err})") from None
    meta = header.get("__metadata__", {})
    if meta.get("format") != FORMAT:
        raise ValueError(f"checkpoint: {path} has format {meta.get('format')!r}; expected {FORMAT!r}")
    return _unflatten(json.loads(meta["state"]), arrays)


def _path(path) -> Path:
    path = Path(path)
    return path if path.suffix == ".safetensors" else path.with_suffix(".safetensors")
