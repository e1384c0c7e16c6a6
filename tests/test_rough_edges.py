"""Issue 19's smaller rough edges, each as PyTorch behaves: requires_grad on an integer tensor, an unsupported
device, a shuffled DataLoader over nothing, the lecture example without its argument, and an empty batch through
the convolution and pooling ops."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import toynn
import toynn.nn.functional as F
from toynn import nn
from toynn.data import DataLoader, TensorDataset

ROOT = Path(__file__).resolve().parents[1]


def test_requires_grad_on_an_integer_tensor_raises_as_in_pytorch():
    x = toynn.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients"):
        x.requires_grad = True
    assert x.requires_grad is False
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require gradients"):
        x.requires_grad_()
    x.requires_grad = False  # allowed, as in PyTorch
    f = toynn.tensor([1.0, 2.0])
    f.requires_grad = True
    (f * f).sum().backward()
    np.testing.assert_allclose(f.grad.numpy(), [2, 4])
    y = f * 2
    with pytest.raises(RuntimeError, match="only allowed on leaves"):
        y.requires_grad = False


@pytest.mark.parametrize("device", ["mps", "xpu:0", "tpu"])
def test_an_unsupported_device_is_named(device):
    for move in (lambda: toynn.ones(2).to(device), lambda: nn.Linear(2, 2).to(device)):
        with pytest.raises(RuntimeError, match=rf"device '{device.split(':')[0]}(:0)?' is not supported: toynn runs"):
            move()
    with pytest.raises(RuntimeError, match="not supported"):
        toynn.zeros(2, device=device)


def test_a_shuffled_loader_over_an_empty_data_set_raises_as_in_pytorch():
    empty = TensorDataset(np.zeros((0, 3), np.float32), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="num_samples should be a positive integer value, but got num_samples=0"):
        DataLoader(empty, batch_size=4, shuffle=True)
    assert list(DataLoader(empty, batch_size=4)) == []  # in order, it is simply empty (as PyTorch)


@pytest.mark.parametrize("argv", [[], ["a", "b"], ["--help"]])
def test_lecture_example_without_its_argument_prints_usage_and_exits_2(argv, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["lecture_mnist_manual.py", *argv])
    with pytest.raises(SystemExit) as exit:
        runpy.run_path(str(ROOT / "examples" / "lecture_mnist_manual.py"), run_name="__main__")
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: python examples/lecture_mnist_manual.py MNIST_FOLDER")
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in err and "train-images-idx3-ubyte.gz" in err


def test_lecture_example_with_a_folder_without_mnist_says_what_to_put_there(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["lecture_mnist_manual.py", str(tmp_path)])
    with pytest.raises(SystemExit) as exit:
        runpy.run_path(str(ROOT / "examples" / "lecture_mnist_manual.py"), run_name="__main__")
    assert exit.value.code == 2
    assert "put the four IDX files" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# An empty batch (N = 0), as PyTorch: an empty output of the right shape, and a backward that works


CASES = {  # name: (op on a library, toynn or torch, and x; input shape; PyTorch's output shape)
    "Conv2d": (lambda t, x: t.nn.Conv2d(3, 4, 3, padding=1)(x), (0, 3, 8, 8), (0, 4, 8, 8)),
    "conv2d/s2": (lambda t, x: t.nn.functional.conv2d(x, t.ones(4, 3, 3, 3), stride=2), (0, 3, 9, 9), (0, 4, 4, 4)),
    "conv2d/g3": (lambda t, x: t.nn.functional.conv2d(x, t.ones(6, 1, 3, 3), groups=3), (0, 3, 8, 8), (0, 6, 6, 6)),
    "conv1d": (lambda t, x: t.nn.functional.conv1d(x, t.ones(4, 3, 3)), (0, 3, 8), (0, 4, 6)),
    "conv_transpose2d": (
        lambda t, x: t.nn.functional.conv_transpose2d(x, t.ones(3, 2, 3, 3), stride=2),
        (0, 3, 4, 4),
        (0, 2, 9, 9),
    ),
    "max_pool2d": (lambda t, x: t.nn.functional.max_pool2d(x, 2), (0, 3, 8, 8), (0, 3, 4, 4)),
    "MaxPool2d/k3s2p1": (lambda t, x: t.nn.MaxPool2d(3, 2, 1)(x), (0, 3, 8, 8), (0, 3, 4, 4)),
    "avg_pool2d": (lambda t, x: t.nn.functional.avg_pool2d(x, 2), (0, 3, 8, 8), (0, 3, 4, 4)),
}


@pytest.mark.parametrize("name", CASES)
def test_an_empty_batch_gives_an_empty_output_and_a_working_backward(name):
    op, shape, out_shape = CASES[name]
    x = toynn.zeros(*shape, requires_grad=True)
    y = op(toynn, x)
    assert y.shape == out_shape
    y.sum().backward()
    assert x.grad is not None and x.grad.shape == shape


def test_an_empty_batch_matches_pytorch_and_gives_zero_weight_gradients():
    torch = pytest.importorskip("torch", reason="compared with PyTorch")
    for name, (op, shape, out_shape) in CASES.items():
        assert tuple(op(torch, torch.zeros(*shape)).shape) == out_shape, name
    conv, reference = nn.Conv2d(3, 4, 3, padding=1), torch.nn.Conv2d(3, 4, 3, padding=1)
    conv(toynn.zeros(0, 3, 8, 8, requires_grad=True)).sum().backward()
    reference(torch.zeros(0, 3, 8, 8, requires_grad=True)).sum().backward()
    assert conv.weight.grad.shape == tuple(reference.weight.grad.shape) and not conv.weight.grad.numpy().any()
    assert conv.bias.grad.shape == (4,) and not conv.bias.grad.numpy().any()
    w = toynn.ones(3, 2, 3, 3, requires_grad=True)
    F.conv_transpose2d(toynn.zeros(0, 3, 4, 4), w, stride=2).sum().backward()
    assert w.grad.shape == (3, 2, 3, 3) and not w.grad.numpy().any()
