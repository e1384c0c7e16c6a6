"""Checkpoints: round trip of nested state, atomic replacement, damaged files named in errors, no pickle."""

from __future__ import annotations

import os

import numpy as np
import pytest

import toynn
from toynn.io import checkpoint


def _state():
    return {
        "model": {"0.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "0.bias": toynn.zeros(2)},
        "optimizer": {
            "state": {0: {"step": 3, "exp_avg": np.ones(3)}},
            "param_groups": [{"lr": 0.1, "betas": (0.9, 0.99)}],
        },
        "rng": np.random.default_rng(5).bit_generator.state,
        "epoch": 2,
        "name": "mlp",
        "nothing": None,
    }


def test_round_trip_keeps_structure_types_and_values(tmp_path):
    path = checkpoint.save(_state(), tmp_path / "ckpt", sidecar={"epoch": 2})
    assert path.suffix == ".safetensors" and (tmp_path / "ckpt.json").exists()
    out = checkpoint.load(path)
    np.testing.assert_array_equal(out["model"]["0.weight"], np.arange(6).reshape(2, 3))
    assert out["model"]["0.weight"].dtype == np.float32
    assert out["optimizer"]["state"][0]["step"] == 3  # int keys and ints survive
    assert out["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.99)  # tuples survive
    assert out["rng"] == np.random.default_rng(5).bit_generator.state
    assert out["epoch"] == 2 and out["name"] == "mlp" and out["nothing"] is None


def test_interrupted_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = checkpoint.save(_state(), tmp_path / "ckpt")
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the run is killed while the new file is being written

    monkeypatch.setattr(os, "fsync", crash)
    new = _state()
    new["epoch"] = 3
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(new, tmp_path / "ckpt")
    assert path.read_bytes() == before
    assert checkpoint.load(path)["epoch"] == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_damaged_or_missing_files_raise_naming_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        checkpoint.load(tmp_path / "missing")
    path = checkpoint.save(_state(), tmp_path / "ckpt")
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match="ckpt.safetensors"):
        checkpoint.load(path)


def test_objects_that_are_not_data_are_refused(tmp_path):
    with pytest.raises(TypeError, match="cannot store"):
        checkpoint.save({"f": lambda: 0}, tmp_path / "bad")


def test_loading_uses_no_pickle(tmp_path, monkeypatch):
    import pickle

    path = checkpoint.save(_state(), tmp_path / "ckpt")

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle must never be used to load")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    assert checkpoint.load(path)["epoch"] == 2


def _with_metadata(path, **metadata):
    """A safetensors file at path holding one array and the given metadata (as a tampered checkpoint would)."""
    from safetensors.numpy import save_file

    save_file({"model.w": np.zeros(2, np.float32)}, str(path), metadata=metadata)
    return path


@pytest.mark.parametrize(
    "state, problem",
    [
        (None, "its metadata has no 'state' text"),
        ("{not json", "Expecting property name"),
        ('{"__dict__": [["model", {"__array__": "model.nope"}]]}', "refers to an array 'model.nope'"),
        ('{"__dict__": [["model", {"__array__": 5}]]}', "refers to an array 5"),
        ('{"__dict__": {"model": 1}}', "__dict__ holds a dict, not a list"),
        ('{"__dict__": [["model"]]}', "a __dict__ entry is not a [key, value] pair"),
        ('{"__tuple__": 3}', "__tuple__ holds a int"),
        ('{"no": "marker"}', "__dict__ holds a NoneType"),
        ("[" * 100 + "]" * 100, "nested more than 64 levels"),
        ("[" * 100_000 + "]" * 100_000, "maximum recursion depth"),
    ],
    ids=[
        "missing",
        "not-json",
        "unknown-array",
        "array-key-type",
        "dict-type",
        "pair",
        "tuple",
        "marker",
        "deep",
        "deeper-than-python",
    ],
)
def test_a_tampered_header_gives_one_line_naming_the_file(tmp_path, state, problem):
    # issue 19, Why 6: a tampered checkpoint header gave a raw KeyError or RecursionError
    metadata = {"format": checkpoint.FORMAT} if state is None else {"format": checkpoint.FORMAT, "state": state}
    path = _with_metadata(tmp_path / "ckpt.safetensors", **metadata)
    with pytest.raises(ValueError) as info:
        checkpoint.load(path)
    message = str(info.value)
    assert message.startswith(f"checkpoint: {path} has a damaged header: ") and problem in message, message
    assert "\n" not in message and len(message) < 400


def test_a_header_without_metadata_is_named(tmp_path):
    path = _with_metadata(tmp_path / "ckpt.safetensors", other="x")
    with pytest.raises(ValueError, match=f"checkpoint: {path} has format None"):
        checkpoint.load(path)


def test_temporary_files_of_a_killed_save_are_removed_by_the_next_save(tmp_path):
    # issue 19, Why 6: a kill during save left .checkpoint.safetensors.*.tmp files, full copies, never cleaned
    stale = [tmp_path / ".ckpt.safetensors.k1l_d.tmp", tmp_path / ".ckpt.json.x9.tmp"]
    for p in stale:
        p.write_bytes(b"half a checkpoint")
    other = tmp_path / ".other.safetensors.a.tmp"  # not this checkpoint's: left alone
    other.write_bytes(b"")
    checkpoint.save(_state(), tmp_path / "ckpt", sidecar={"epoch": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.safetensors.a.tmp", "ckpt.json", "ckpt.safetensors"]
    assert checkpoint.remove_temp_files(tmp_path / "ckpt.safetensors") == []
