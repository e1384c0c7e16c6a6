"""Run folders: what `toynn train` writes (config.json, checkpoint.safetensors, metrics.json) read back and checked."""

from __future__ import annotations

import json
from pathlib import Path

from ..models import build_model, model_names
from . import checkpoint

CONFIG = "config.json"
CHECKPOINT = "checkpoint.safetensors"
# the files a save replaces atomically: a run killed inside a save leaves .NAME.*.tmp beside them
WRITTEN = (CONFIG, CHECKPOINT, "checkpoint.json", "metrics.json")


def read_config(run_dir) -> dict:
    """config.json of a run folder, checked; a broken one raises a ValueError naming the file and the problem."""
    run_dir = Path(run_dir)
    path = run_dir / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is not a toynn run folder (no {CONFIG})")
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ValueError(f"{path} is not readable JSON ({' '.join(str(err).split())[:200]})") from None
    problem = _config_problem(config)
    if problem:
        raise ValueError(f"{path} is damaged: {problem}")
    config.setdefault("args", {})
    return config


def _config_problem(config) -> str | None:
    if not isinstance(config, dict):
        return f"it holds a {type(config).__name__}, not an object"
    for key in ("model", "data"):
        if not isinstance(config.get(key), str):
            return f"{key!r} should be a name; got {config.get(key)!r}"
    if config["model"] not in model_names():
        return f"unknown model {config['model']!r}"
    shape = config.get("input_shape")
    if not (isinstance(shape, list) and shape and all(type(n) is int and n > 0 for n in shape)):
        return f"'input_shape' should be a list of positive sizes; got {shape!r}"
    classes = config.get("classes")
    if not (isinstance(classes, list) and len(classes) >= 2 and all(isinstance(c, str) for c in classes)):
        return f"'classes' should be a list of at least two names; got {str(classes)[:80]}"
    if not isinstance(config.get("args", {}), dict):
        return f"'args' should be an object; got {type(config['args']).__name__}"
    return None


def write_config(run_dir, config: dict) -> Path:
    """Write config.json atomically (a reader, or a run killed meanwhile, sees the old file or the new one)."""
    return checkpoint.write_atomic(Path(run_dir) / CONFIG, (json.dumps(config, indent=1) + "\n").encode())


def remove_temp_files(run_dir) -> list[Path]:
    """Delete what saves killed half-way left in a run folder (temporary copies, each as big as the file) -> paths."""
    run_dir = Path(run_dir)
    stale = [p for name in WRITTEN for p in checkpoint.remove_temp_files(run_dir / name)]
    legacy = run_dir / "metrics.json.tmp"  # the fixed name that fit used before
    if legacy.is_file():
        legacy.unlink()
        stale.append(legacy)
    return stale


def load_run(run_dir):
    """(model with the run's weights, config) from a folder written by `toynn train`."""
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    model = build_model(config["model"], tuple(config["input_shape"]), len(config["classes"]))
    try:
        model.load_state_dict(checkpoint.load(run_dir / CHECKPOINT)["model"])
    except (KeyError, TypeError, AttributeError, RuntimeError) as err:
        why = " ".join((str(err) if isinstance(err, RuntimeError) else f"{type(err).__name__}: {err}").split())
        raise ValueError(f"{run_dir / CHECKPOINT} does not fit the model in {run_dir / CONFIG} ({why})") from None
    model.eval()
    return model, config
