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
