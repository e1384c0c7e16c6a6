"""Checkpoints: one safetensors file, written atomically, never pickled; a JSON sidecar beside it for people.

A checkpoint is a pair `NAME.safetensors` + `NAME.json`. Nested state (model, optimizer,
scheduler, random generator, epoch) is flattened: each array becomes a safetensors entry and
the file's metadata keeps the structure as JSON with {"__array__": key} placeholders. Loading
executes no code, checks that structure, and never reads the sidecar.
"""

from __future__ import annotations

import glob
import json
import os
import signal
import tempfile
from pathlib import Path

import numpy as np

from ..backend import to_device
from ..tensor import Tensor

FORMAT = "toynn-checkpoint/1"


def _flatten(obj, prefix: str, arrays: dict):
    """obj with every array replaced by a placeholder; the arrays are collected under dotted keys."""
    if isinstance(obj, Tensor):
        obj = obj.array
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


MAX_DEPTH = 64  # a state tree nests a few levels (optimizer.state.0.exp_avg); deeper means a tampered header


class _BadTree(ValueError):
    """The state tree of a header does not have the shape save() writes (raised inside load only)."""


def _unflatten(obj, arrays: dict, depth: int = 0):
    """The tree written by _flatten back, checking each node: a tampered header raises _BadTree, not KeyError."""
    if depth > MAX_DEPTH:
        raise _BadTree(f"the state is nested more than {MAX_DEPTH} levels deep")
    if isinstance(obj, dict):
        if "__array__" in obj:
            key = obj["__array__"]
            if not isinstance(key, str) or key not in arrays:
                raise _BadTree(f"it refers to an array {key!r} that the file does not hold")
            return arrays[key]
        if "__tuple__" in obj:
            return tuple(_unflatten(v, arrays, depth + 1) for v in _list_of(obj["__tuple__"], "__tuple__"))
        pairs = _list_of(obj.get("__dict__"), "__dict__")
        if not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], (str, int)) for p in pairs):
            raise _BadTree("a __dict__ entry is not a [key, value] pair")
        return {k: _unflatten(v, arrays, depth + 1) for k, v in pairs}
    if isinstance(obj, list):
        return [_unflatten(v, arrays, depth + 1) for v in obj]
    return obj


def _list_of(value, name: str) -> list:
    if not isinstance(value, list):
        raise _BadTree(f"{name} holds a {type(value).__name__}, not a list")
    return value


def write_atomic(path, data: bytes) -> Path:
    """Replace the file `path` by `data` atomically: readers (and a run killed meanwhile) see old or new, never half.

    The bytes go to a temporary file in the same folder, are flushed to disk, then renamed over `path`. Temporary
    files that an earlier write to `path` left when its process was killed (full copies each) are removed first.
    """
    path = Path(path)
    remove_temp_files(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        fault_point("written")
        os.replace(tmp, path)  # NOTE: atomic on POSIX: readers see the old file or the new one, never half
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def remove_temp_files(path) -> list[Path]:
    """Delete the temporary files that a process killed inside write_atomic(path) left beside it -> their paths.

    NOTE: only one process writes a run folder; a second one saving to the same path at the same time would lose
    its temporary file here (and then its save, with an error), never the published file.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    stale = sorted(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    for tmp in stale:
        tmp.unlink(missing_ok=True)
    return stale


def fault_point(name: str) -> None:
    """Test-only: with TOYNN_TEST_KILL=NAME:K in the environment, the K-th arrival at point NAME in this process
    kills it with SIGKILL (tests/test_faults.py kills saves half-way this way). Points: "written" (a temporary
    file is complete, not yet renamed), "saved" (the .safetensors is published, its sidecar not yet)."""
    spec = os.environ.get("TOYNN_TEST_KILL")
    if not spec or spec.rpartition(":")[0] != name:
        return
    _arrivals[name] = _arrivals.get(name, 0) + 1
    if str(_arrivals[name]) == spec.rpartition(":")[2]:
        os.kill(os.getpid(), signal.SIGKILL)


_arrivals: dict[str, int] = {}


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
    write_atomic(path, blob)
    fault_point("saved")
    if sidecar is not None:
        write_atomic(path.with_suffix(".json"), json.dumps(sidecar, indent=1, default=float).encode())
    else:  # no sidecar to write, whose write would remove what a killed earlier save of it left
        remove_temp_files(path.with_suffix(".json"))
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
    except (SafetensorError, ValueError, UnicodeDecodeError, RecursionError) as err:
        raise ValueError(f"checkpoint: {path} is not a readable safetensors file ({_short(err)})") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    if meta.get("format") != FORMAT:
        raise ValueError(f"checkpoint: {path} has format {meta.get('format')!r}; expected {FORMAT!r}")
    try:
        if not isinstance(meta.get("state"), str):
            raise _BadTree("its metadata has no 'state' text")
        return _unflatten(json.loads(meta["state"]), arrays)
    except (_BadTree, ValueError, RecursionError) as err:  # json's errors are ValueErrors; deep nesting recurses
        raise ValueError(f"checkpoint: {path} has a damaged header: {_short(err)}") from None


def _short(err: BaseException) -> str:
    """An exception's message on one line, cut at 200 characters (a header's text can be long)."""
    text = " ".join(str(err).split())
    return text if len(text) <= 200 else text[:197] + "..."


def _path(path) -> Path:
    path = Path(path)
    return path if path.suffix == ".safetensors" else path.with_suffix(".safetensors")
