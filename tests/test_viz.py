"""toynn.viz: DOT text of the computation graph (no package needed) and rendering through Graphviz's `dot`."""

from __future__ import annotations

import os
import re
import shutil
import sys

import numpy as np
import pytest

import toynn
from toynn.autodiff import trace_backward
from toynn.lecture import derivations as lec
from toynn.lecture import viz


def _labels(dot: str) -> dict[str, str]:
    """node id -> label, with \\n as real newlines."""
    return {m[0]: m[1].replace("\\n", "\n") for m in re.findall(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"', dot, re.M)}


def _edges(dot: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) -> (\w+);", dot, re.M)


def test_the_lecture_j_graph_names_ops_values_and_gradients():
    J, names = lec.lecture_j_graph(1.5)
    steps = trace_backward(J, retain_graph=True)
    dot = viz.graph(J, names=names, increments=steps)
    labels = _labels(dot)
    by_name = {label.split(" (")[0]: label for label in labels.values() if " (" in label}
    assert set(by_name) >= {"x", "t", "u1", "u2", "u", "J"}
    assert "u1 (Sin)" in by_name["u1"] and "t (PowScalar)" in by_name["t"] and "x (leaf)" in by_name["x"]
    assert "value 2.25" in by_name["t"] and "value 6.75" in by_name["u2"]
    assert f"grad {lec.lecture_j_closed_form(1.5):.6g}" in by_name["x"]
    assert "grad 1" in by_name["J"] and "grad -0.94736" in by_name["u1"]
    assert sorted(v for v in labels.values() if "\n" not in v) == sorted(["Cos", "Add", "Sin", "Mul", "PowScalar"])
    assert "constant" in "".join(labels.values())  # the 3 of 3t
    # edges run tensor -> op -> tensor; t feeds two ops (sin and 3t)
    ids = {v.split(" (")[0]: k for k, v in labels.items() if " (" in v}
    assert sum(1 for a, _ in _edges(dot) if a == ids["t"]) == 2


def test_show_grad_false_and_names_as_ids_or_pairs():
    x = toynn.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    for names in ({id(x): "input", id(y): "loss"}, [(x, "input"), (y, "loss")], {"input": x, "loss": y}):
        dot = viz.graph(y, names=names)
        assert "input (leaf)" in dot and "loss (Sum)" in dot and "shape (2,)" in dot
    assert "grad" in viz.graph(y) and "grad" not in viz.graph(y, show_grad=False)
    with pytest.raises(TypeError, match="names"):
        viz.graph(y, names={"input": 3})


def test_backward_without_retain_graph_shows_the_freed_node():
    J, names = lec.lecture_j_graph(0.5)
    J.backward()
    dot = viz.graph(J, names=names)
    assert "Cos (freed by backward)" in dot and "u1" not in dot


def test_dot_text_needs_no_graphviz_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz would fail
    J, _ = lec.lecture_j_graph(1.0)
    assert viz.graph(J).startswith("digraph toynn {")


def test_deep_graph_without_recursion_error():
    x = toynn.tensor(0.5, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    assert viz.graph(y).count('label="Mul", shape=box') == 5000


def test_the_lecture_derivations_render_with_their_names():
    J, names = lec.one_hidden_layer_graph(np.ones((2, 3)) * 0.1, [0.5, -0.5], [1.0, 2.0, 3.0], 1.0)
    J.backward(retain_graph=True)
    dot = viz.graph(J, names=names)
    for name in ("alpha", "beta", "x", "a", "z", "b", "y", "J"):
        assert f'"{name} (' in dot, name
    assert "MatMul" in dot and "Sigmoid" in dot and "Log" in dot


def test_render_writes_dot_text_always_and_images_with_graphviz(tmp_path):
    J, names = lec.lecture_j_graph(1.5)
    dot = viz.graph(J, names=names)
    assert viz.render(dot, tmp_path / "j.dot").read_text() == dot
    if shutil.which("dot") is None:
        if os.environ.get("TOYNN_REQUIRE_GRAPHVIZ") == "1":
            pytest.fail("TOYNN_REQUIRE_GRAPHVIZ=1 but Graphviz's dot is not on PATH (apt-get install graphviz)")
        pytest.skip("Graphviz's dot program is not installed; set TOYNN_REQUIRE_GRAPHVIZ=1 to require it")
    assert "<svg" in viz.render(dot, tmp_path / "j.svg").read_text()
    assert viz.render(dot, tmp_path / "j.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(RuntimeError, match="dot -Tnosuchformat failed"):
        viz.render(dot, tmp_path / "j.nosuchformat")


def test_render_without_dot_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        viz.render("digraph { a -> b }", tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()
