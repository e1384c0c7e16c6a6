"""Batch norm, local response norm and channel dropout against PyTorch, gradchecked."""

from __future__ import annotations

import numpy as np
import pytest

import toynn
from toynn import nn
from toynn.autodiff import gradcheck

from .devices import host, like


def _rel(a, b):
    a, b = host(a), host(b)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize(
    "layer,shape", [("BatchNorm2d", (4, 3, 5, 6)), ("BatchNorm1d", (6, 3)), ("BatchNorm1d", (5, 3, 7))]
)
def test_batch_norm_matches_torch_in_train_and_eval(layer, shape, dtype, tol, rng, torch):
    ours, theirs = (
        getattr(nn, layer)(3, momentum=0.2),
        getattr(torch.nn, layer)(3, momentum=0.2).to(torch.float64 if dtype == np.float64 else torch.float32),
    )
    ours.to(dtype)
    w, b = rng.standard_normal(3).astype(dtype), rng.standard_normal(3).astype(dtype)
    ours.weight.array[...], ours.bias.array[...] = like(w, ours.weight), like(b, ours.bias)
    theirs.weight.data.copy_(torch.from_numpy(w))
    theirs.bias.data.copy_(torch.from_numpy(b))
    for step in range(3):  # running statistics accumulate over steps
        x = (rng.standard_normal(shape) * 2 + step).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        xo, xt = toynn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yo, yt = ours(xo), theirs(xt)
        assert _rel(yo.array, yt.detach().numpy()) < tol
        yo.backward(g)
        yt.backward(torch.from_numpy(g))
        assert _rel(xo.grad.array, xt.grad.numpy()) < tol
    assert _rel(ours.weight.grad.array, theirs.weight.grad.numpy()) < tol
    assert _rel(ours.bias.grad.array, theirs.bias.grad.numpy()) < tol
    assert _rel(ours.running_mean.array, theirs.running_mean.numpy()) < tol
    assert _rel(ours.running_var.array, theirs.running_var.numpy()) < tol
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape).astype(dtype)
    assert _rel(ours(toynn.tensor(x)).array, theirs(torch.from_numpy(x)).detach().numpy()) < tol
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.state_dict()["num_batches_tracked"].item() == theirs.num_batches_tracked.item() == 3


def test_batch_norm_gradcheck(rng):
    bn = nn.BatchNorm2d(2).double()
    x = toynn.tensor(rng.standard_normal((3, 2, 2, 3)), requires_grad=True)
    w = toynn.tensor(rng.standard_normal(2), requires_grad=True)
    b = toynn.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(lambda x, w, b: nn.functional.batch_norm(x, None, None, w, b, training=True), (x, w, b))
    bn.eval()
    assert gradcheck(lambda x: bn(x), (x,))


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="num_features=3"):
        nn.BatchNorm2d(3)(toynn.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match="4-D"):
        nn.BatchNorm2d(3)(toynn.randn(2, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(toynn.randn(1, 3))


@pytest.mark.parametrize("size", [1, 2, 3, 5])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_local_response_norm_matches_torch(size, dtype, tol, rng, torch):
    x = rng.standard_normal((2, 7, 4, 3)).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    ours, theirs = (
        nn.LocalResponseNorm(size, alpha=0.3, beta=0.75, k=2.0),
        torch.nn.LocalResponseNorm(size, 0.3, 0.75, 2.0),
    )
    xo, xt = toynn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    assert _rel(yo.array, yt.detach().numpy()) < tol
    yo.backward(g)
    yt.backward(torch.from_numpy(g))
    assert _rel(xo.grad.array, xt.grad.numpy()) < tol


def test_local_response_norm_gradcheck(rng):
    x = toynn.tensor(rng.standard_normal((2, 5, 2, 2)), requires_grad=True)
    assert gradcheck(lambda x: nn.functional.local_response_norm(x, 3, alpha=0.5, beta=0.75, k=1.5), (x,))


def test_dropout2d_zeros_whole_channels_and_scales():
    toynn.manual_seed(0)
    layer = nn.Dropout2d(0.5)
    x = toynn.ones(64, 16, 3, 3)
    y = layer(x).array
    per_channel = y.reshape(64, 16, 9)
    assert ((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1)).all()  # a channel is dropped whole
    assert 0.4 < (per_channel[..., 0] == 0).mean() < 0.6
    layer.eval()
    assert (layer(x).array == 1).all()
    with pytest.raises(ValueError, match="3-D or 4-D"):
        nn.functional.dropout2d(toynn.ones(4, 4))
