"""The lecture's own layer API: manual forward/backward equals autograd; its code runs on real MNIST."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import toynn
from toynn import nn
from toynn.lecture import manual
from toynn.nn import functional as F

from .data_paths import need_mnist

ROOT = Path(__file__).resolve().parents[1]


def _batch(n=16):
    try:
        from toynn.data import MNIST

        x, y = MNIST(need_mnist()).arrays()
        return toynn.tensor(x[:n].reshape(n, 784)), toynn.tensor(y[:n])
    except pytest.skip.Exception:
        rng = np.random.default_rng(0)
        return toynn.tensor(rng.random((n, 784), dtype=np.float32)), toynn.tensor(rng.integers(0, 10, n))


def test_manual_backprop_equals_autograd_on_the_lecture_network():
    toynn.manual_seed(0)
    x, label = _batch()
    l1, relu, l2, loss_fn = manual.Linear(784, 512), manual.ReLU(), manual.Linear(512, 10), manual.CrossEntropyLoss()
    a = l1.forward(x)
    z = relu.forward(a)
    yhat = l2.forward(z)
    loss = loss_fn.forward(yhat, label)
    x_grads = l1.backward(x, relu.backward(a, l2.backward(z, loss_fn.backward(yhat, label))))

    auto1, auto2 = nn.Linear(784, 512), nn.Linear(512, 10)
    for auto, man in ((auto1, l1), (auto2, l2)):
        auto.weight.array[...] = man.weight.array
        auto.bias.array[...] = man.bias.array
    xa = toynn.tensor(x.array, requires_grad=True)
    auto_loss = F.cross_entropy(auto2(auto1(xa).relu()), label)
    auto_loss.backward()
    assert loss.item() == pytest.approx(auto_loss.item(), rel=1e-6)
    for auto, man in ((auto1, l1), (auto2, l2)):
        np.testing.assert_allclose(man.weight_grads.array, auto.weight.grad.array, atol=1e-6)
        np.testing.assert_allclose(man.bias_grads.array, auto.bias.grad.array, atol=1e-6)
    np.testing.assert_allclose(x_grads.array, xa.grad.array, atol=1e-6)
    assert np.abs(l1.weight_grads.array).max() > 1e-4  # the comparison is not between zeros


def test_manual_sigmoid_and_a_new_input_match_autograd():
    x = toynn.randn(5, 3, dtype=toynn.float64)
    sig = manual.Sigmoid()
    sig.forward(toynn.randn(5, 3, dtype=toynn.float64))  # backward with another x recomputes, not reuses
    g = toynn.randn(5, 3, dtype=toynn.float64)
    xa = toynn.tensor(x.array, requires_grad=True)
    xa.sigmoid().backward(g)
    np.testing.assert_allclose(sig.backward(x, g).array, xa.grad.array, rtol=1e-12)


def test_loss_accepts_an_int_label_for_one_example_and_checks_counts():
    loss_fn = manual.CrossEntropyLoss()
    yhat = toynn.tensor([[1.0, 2.0, 0.5]])
    assert loss_fn.forward(yhat, 1).item() == pytest.approx(-np.log(np.exp(2) / np.exp([1, 2, 0.5]).sum()), rel=1e-6)
    with pytest.raises(ValueError, match="3 labels for 1 predictions"):
        loss_fn.forward(yhat, [0, 1, 2])


def test_the_lecture_code_runs_on_real_mnist(capsys, monkeypatch):
    root = need_mnist()
    monkeypatch.setattr(sys, "argv", ["lecture_mnist_manual.py", str(root)])
    runpy.run_path(str(ROOT / "examples" / "lecture_mnist_manual.py"), run_name="__main__")
    out = capsys.readouterr().out
    before, after = map(float, re.search(r"loss ([\d.]+) before the SGD step, ([\d.]+) after", out).groups())
    assert "label 5" in out  # MNIST's first training image is a 5
    assert after < before  # one step of the lecture's SGD lowers the loss on that image
