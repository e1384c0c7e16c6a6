"""Where the real data for tests lives (../shared/data beside the repository, or $TOYNN_DATA)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(os.environ.get("TOYNN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
MNIST_DIR = DATA / "mnist"


def need_mnist():
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {MNIST_DIR} (set TOYNN_DATA to the shared data folder)")
    return MNIST_DIR
