"""A run killed at random points survives: `toynn train` is SIGKILLed a bounded number of times, from outside at
random moments and from inside a save half-way (TOYNN_TEST_KILL), and resumed after each kill; the final weights
equal those of an uninterrupted run bit for bit, and no stray file is left in the run folder (issue 19)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from toynn.io import checkpoint

pytest.importorskip("sklearn", reason="the digits data set comes with scikit-learn")

EPOCHS = 12
ARGS = ["--model", "mlp", "--data", "digits", "--epochs", str(EPOCHS), "--seed", "7", "--quiet"]
FILES = ["checkpoint.json", "checkpoint.safetensors", "config.json", "curves.png", "metrics.json"]
SEED = 19  # the plan of kills; a failure message names each kill, so a failing plan can be replayed


def _train(out: Path, kill_at: str | None = None, kill_after: float | None = None) -> int:
    """Run `toynn train --out OUT --resume --fresh ARGS` in a fresh process -> its exit code.

    kill_at: "POINT:K", the K-th arrival at checkpoint.fault_point(POINT) kills the process itself (inside a save).
    kill_after: seconds after the process has begun training (it prints "training ...") to SIGKILL it from here.
    """
    env = {**os.environ, "TOYNN_TEST_KILL": kill_at or "", "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "toynn", "train", "--out", str(out), "--resume", "--fresh", *ARGS]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:  # up to the start of training (or the end, for a process killed earlier)
        lines.append(line)
        if line.startswith("training "):
            break
    if kill_after is not None:
        time.sleep(kill_after)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=120)
    if proc.returncode not in (0, -signal.SIGKILL):
        pytest.fail(f"toynn train failed (exit {proc.returncode}):\n{''.join(lines)}{rest}")
    return proc.returncode


def _intact(out: Path) -> None:
    """What a kill may leave: the last good checkpoint and config (never half a file), temporary files beside."""
    if (out / "config.json").exists():
        json.loads((out / "config.json").read_text())
    if (out / "checkpoint.safetensors").exists():
        assert 1 <= checkpoint.load(out / "checkpoint.safetensors")["epoch"] <= EPOCHS


def _state(out: Path) -> dict:
    state = checkpoint.load(out / "checkpoint.safetensors")
    return {"model": state["model"], "optimizer": state["optimizer"], "rng": state["rng"], "epoch": state["epoch"]}


def _assert_equal(a, b, where: str) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_equal(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)  # bit for bit: no tolerance
    else:
        assert a == b, where


def test_sigkill_at_random_points_then_resume_gives_the_uninterrupted_weights(tmp_path):
    reference, run = tmp_path / "reference", tmp_path / "run"
    assert _train(reference) == 0
    training = sum(e["seconds"] for e in json.loads((reference / "metrics.json").read_text())["epochs"])
    rng = random.Random(SEED)
    # inside a save: a complete temporary file not yet renamed ("written": config.json, then per epoch the
    # checkpoint, its sidecar and metrics.json), or the checkpoint published and its sidecar not yet ("saved")
    plan = [("written", 1), ("written", rng.randint(2, 4)), ("saved", rng.randint(1, 2)), ("written", 3)]
    plan += [("after", rng.uniform(0.0, 0.8 * training)) for _ in range(3)]  # from outside, at random moments
    rng.shuffle(plan)
    log, temp_files_seen = [], 0
    for how, when in plan:
        if how == "after":
            code = _train(run, kill_after=when)
        else:
            code = _train(run, kill_at=f"{how}:{when}")
        epoch = (
            checkpoint.load(run / "checkpoint.safetensors")["epoch"] if (run / "checkpoint.safetensors").exists() else 0
        )
        log.append(f"{how} {when:.3g}: exit {code}, checkpoint at epoch {epoch}")
        _intact(run)
        temp_files_seen += len([p for p in run.iterdir() if p.name.endswith(".tmp")]) if run.exists() else 0
    print("\n".join(log))  # shown with -s, and on failure
    assert sum("exit -9" in line for line in log) >= 4, log  # the kills happened
    assert temp_files_seen > 0, log  # and some left temporary files for the next start to remove
    assert _train(run) == 0, log
    _assert_equal(_state(run), _state(reference), "checkpoint")
    history = json.loads((run / "metrics.json").read_text())["epochs"]
    expected = json.loads((reference / "metrics.json").read_text())["epochs"]
    timing = ("seconds", "samples_per_s")
    assert [{k: v for k, v in e.items() if k not in timing} for e in history] == [
        {k: v for k, v in e.items() if k not in timing} for e in expected
    ], log
    assert sorted(p.name for p in run.iterdir()) == FILES, log
