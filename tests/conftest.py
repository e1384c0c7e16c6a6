"""Fixtures shared by the tests: seeded randomness and the optional PyTorch reference."""

from __future__ import annotations

import os

import numpy as np
import pytest


def pytest_configure(config):
    # CI sets TOYNN_REQUIRE_TORCH=1: there the PyTorch comparisons must run, never skip
    if os.environ.get("TOYNN_REQUIRE_TORCH") == "1":
        import torch  # noqa: F401  fails loudly when the reference is missing


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def torch():
    torch = pytest.importorskip("torch", reason="PyTorch is the test reference: pip install torch==2.13.0")
    torch.set_num_threads(2)
    return torch
