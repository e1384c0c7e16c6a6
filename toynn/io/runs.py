"""Run folders: what `toynn train` writes (config.json, checkpoint.safetensors, metrics.json) read back."""

from __future__ import annotations

import json
from pathlib import Path

from ..models import build_model
from . import checkpoint


def load_run(run_dir):
    """(model with the run's weights, config) from a folder written by `toynn train`."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a toynn run folder (no config.json)")
    config = json.loads((run_dir / "config.json").read_text())
    model = build_model(config["model"], tuple(config["input_shape"]), len(config["classes"]))
    model.load_state_dict(checkpoint.load(run_dir / "checkpoint.safetensors")["model"])
    model.eval()
    return model, config
