"""The lecture's worked example J = cos(sin(x^2) + 3x^2), forward values and backward increments."""

from __future__ import annotations

import math

import pytest

from toynn.lecture import backprop_example


@pytest.mark.parametrize("x", [-2.0, -0.3, 0.5, 1.5, 3.0])
def test_worked_example_matches_closed_form(x):
    lines = []
    grad = backprop_example(x, out=lines.append)
    closed = -math.sin(math.sin(x * x) + 3 * x * x) * (2 * x * math.cos(x * x) + 6 * x)
    assert grad == pytest.approx(closed, rel=1e-12, abs=1e-12)


def test_worked_example_prints_the_lecture_order():
    lines = []
    backprop_example(1.5, out=lines.append)
    forward = [line.split("=")[0].strip() for line in lines if line.startswith("  ") and "dJ/d" not in line]
    assert forward == ["t", "u1", "u2", "u", "J"]
    increments = [line.split("+=")[0].strip() for line in lines if "+=" in line and line.startswith("  ")]
    # the lecture: dJ/du, dJ/du1, dJ/du2, dJ/dt (from u1), dJ/dt (from u2), dJ/dx
    assert increments == ["dJ/du", "dJ/du1", "dJ/du2", "dJ/dt", "dJ/dt", "dJ/dx"]
    assert "cos(t)" in [line for line in lines if "+=" in line and line.startswith("  ")][3]
    values = {line.split("=")[0].strip(): float(line.rsplit("=", 1)[1]) for line in lines[2:7]}
    assert values["t"] == pytest.approx(2.25) and values["u2"] == pytest.approx(6.75)
    assert values["J"] == pytest.approx(math.cos(math.sin(2.25) + 6.75))
