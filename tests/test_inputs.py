"""Issue 15, item 4: every public functional of toynn.nn.functional (and so of toynn.conv) takes NumPy arrays,
lists and Python numbers where PyTorch takes a Tensor, as constants, and gives what the call with Tensors gives.

The one rule lives in toynn.conv.arithmetic.tensors: Tensors and None pass through; arrays keep their dtype, lists
take torch.tensor's (floats in the default dtype, ints int64), numbers the dtype of the Tensor beside them; all land
on that Tensor's device.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import toynn
import toynn.nn.functional as F
from toynn.conv.arithmetic import tensors

from .devices import host


def r(*shape, lo=None, seed=0):
    """A float64 array; positive (in [lo, lo + 1)) when lo is given."""
    rng = np.random.default_rng(seed + sum(shape))
    return rng.uniform(lo, lo + 1, shape) if lo is not None else rng.standard_normal(shape)


def signs(n):
    return np.where(np.arange(n) % 2, -1.0, 1.0)


_, _POOL_IDX = F.max_pool2d(toynn.tensor(np.arange(32.0).reshape(1, 2, 4, 4)), 2, return_indices=True)
_, _POOL_IDX_1D = F.max_pool1d(toynn.tensor(np.arange(16.0).reshape(1, 2, 8)), 2, return_indices=True)

# name -> (call(*args), args as NumPy arrays); every name of F.__all__ has an entry (checked below)
CALLS = {
    "adaptive_avg_pool1d": (lambda x: F.adaptive_avg_pool1d(x, 3), [r(1, 2, 7)]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (2, 3)), [r(1, 2, 5, 7)]),
    "adaptive_max_pool1d": (lambda x: F.adaptive_max_pool1d(x, 3), [r(1, 2, 7)]),
    "adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, 2), [r(1, 2, 5, 4)]),
    "alpha_dropout": (lambda x: F.alpha_dropout(x, 0.3, training=True), [r(3, 4)]),
    "avg_pool1d": (lambda x: F.avg_pool1d(x, 3, 2, 1), [r(1, 2, 7)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 2), [r(1, 2, 4, 4)]),
    "batch_norm": (
        lambda x, m, v, w, b: F.batch_norm(x, m, v, w, b, training=False),
        [r(3, 2, 4), r(2), r(2, lo=0.5), r(2), r(2)],
    ),
    "binary_cross_entropy": (lambda x, t, w: F.binary_cross_entropy(x, t, w), [r(3, 4, lo=0), r(3, 4, lo=0), r(4)]),
    "binary_cross_entropy_with_logits": (
        lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, w, pos_weight=pw),
        [r(3, 4), r(3, 4, lo=0), r(3, 4, lo=0.5), r(4, lo=0.5)],
    ),
    "celu": (lambda x: F.celu(x, 1.5), [r(3, 4)]),
    "conv1d": (lambda x, w, b: F.conv1d(x, w, b, padding=1), [r(2, 3, 6), r(4, 3, 3), r(4)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2), [r(2, 3, 5, 5), r(4, 3, 3, 3), r(4)]),
    "conv_transpose1d": (lambda x, w: F.conv_transpose1d(x, w, stride=2), [r(2, 3, 4), r(3, 2, 3)]),
    "conv_transpose2d": (lambda x, w, b: F.conv_transpose2d(x, w, b), [r(1, 3, 3, 3), r(3, 2, 2, 2), r(2)]),
    "cosine_embedding_loss": (lambda a, b, y: F.cosine_embedding_loss(a, b, y), [r(4, 3), r(4, 3, seed=1), signs(4)]),
    "cosine_similarity": (lambda a, b: F.cosine_similarity(a, b), [r(4, 3), r(4, 3, seed=1)]),
    "cross_entropy": (lambda x, t, w: F.cross_entropy(x, t, w), [r(4, 5), np.array([0, 4, 2, 2]), r(5, lo=0.5)]),
    "dropout": (lambda x: F.dropout(x, 0.4), [r(3, 4)]),
    "dropout1d": (lambda x: F.dropout1d(x, 0.4), [r(3, 4, 2)]),
    "dropout2d": (lambda x: F.dropout2d(x, 0.4), [r(3, 4, 2, 2)]),
    "dropout3d": (lambda x: F.dropout3d(x, 0.4), [r(3, 4, 2, 2, 2)]),
    "elu": (lambda x: F.elu(x), [r(3, 4)]),
    "embedding": (lambda i, w: F.embedding(i, w, padding_idx=0), [np.array([[0, 2], [3, 3]]), r(4, 3)]),
    "flatten": (lambda x: F.flatten(x, 1), [r(2, 3, 4)]),
    "gaussian_nll_loss": (lambda x, t, v: F.gaussian_nll_loss(x, t, v), [r(3, 4), r(3, 4, seed=1), r(3, 4, lo=0.5)]),
    "gelu": (lambda x: F.gelu(x), [r(3, 4)]),
    "glu": (lambda x: F.glu(x), [r(3, 4)]),
    "group_norm": (lambda x, w, b: F.group_norm(x, 2, w, b), [r(2, 4, 3), r(4), r(4)]),
    "hardshrink": (lambda x: F.hardshrink(x), [r(3, 4)]),
    "hardsigmoid": (lambda x: F.hardsigmoid(x), [r(3, 4)]),
    "hardswish": (lambda x: F.hardswish(x), [r(3, 4)]),
    "hardtanh": (lambda x: F.hardtanh(x), [r(3, 4)]),
    "heaviside": (lambda x, v: F.heaviside(x, v), [np.array([-1.0, 0.0, 2.0]), np.array([0.5, 0.25, 0.5])]),
    "hinge_embedding_loss": (lambda x, y: F.hinge_embedding_loss(x, y), [r(4), signs(4)]),
    "huber_loss": (lambda x, t: F.huber_loss(x, t), [r(3, 4), r(3, 4, seed=1)]),
    "instance_norm": (lambda x, w, b: F.instance_norm(x, weight=w, bias=b), [r(2, 3, 4), r(3), r(3)]),
    "interpolate": (lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"), [r(1, 2, 3, 3)]),
    "kl_div": (lambda x, t: F.kl_div(x, t, reduction="batchmean"), [r(3, 4), r(3, 4, lo=0)]),
    "l1_loss": (lambda x, t: F.l1_loss(x, t), [r(3, 4), r(3, 4, seed=1)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, [4], w, b), [r(3, 4), r(4), r(4)]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), [r(3, 4)]),
    "linear": (lambda x, w, b: F.linear(x, w, b), [r(3, 4), r(2, 4), r(2)]),
    "local_response_norm": (lambda x: F.local_response_norm(x, 3), [r(2, 4, 3)]),
    "log_softmax": (lambda x: F.log_softmax(x, dim=1), [r(3, 4)]),
    "logsigmoid": (lambda x: F.logsigmoid(x), [r(3, 4)]),
    "margin_ranking_loss": (lambda a, b, y: F.margin_ranking_loss(a, b, y), [r(4), r(4, seed=1), signs(4)]),
    "max_pool1d": (lambda x: F.max_pool1d(x, 2), [r(1, 2, 6)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), [r(1, 2, 4, 4)]),
    "max_unpool1d": (lambda x, i: F.max_unpool1d(x, i, 2), [r(1, 2, 4), _POOL_IDX_1D.numpy()]),
    "max_unpool2d": (lambda x, i: F.max_unpool2d(x, i, 2), [r(1, 2, 2, 2), _POOL_IDX.numpy()]),
    "mish": (lambda x: F.mish(x), [r(3, 4)]),
    "mse_loss": (lambda x, t: F.mse_loss(x, t), [r(3, 4), r(3, 4, seed=1)]),
    "multilabel_soft_margin_loss": (
        lambda x, t: F.multilabel_soft_margin_loss(x, t),
        [r(3, 4), (r(3, 4, seed=1) > 0).astype(np.float64)],
    ),
    "nll_loss": (lambda x, t: F.nll_loss(x, t), [r(4, 5), np.array([1, 0, 4, 4])]),
    "normalize": (lambda x: F.normalize(x), [r(3, 4)]),
    "one_hot": (lambda t: F.one_hot(t, 5), [np.array([0, 3, 1])]),
    "pad": (lambda x: F.pad(x, (1, 2), mode="reflect"), [r(2, 3, 4)]),
    "pairwise_distance": (lambda a, b: F.pairwise_distance(a, b), [r(4, 3), r(4, 3, seed=1)]),
    "pixel_shuffle": (lambda x: F.pixel_shuffle(x, 2), [r(1, 4, 2, 2)]),
    "pixel_unshuffle": (lambda x: F.pixel_unshuffle(x, 2), [r(1, 1, 4, 4)]),
    "poisson_nll_loss": (lambda x, t: F.poisson_nll_loss(x, t), [r(3, 4), np.abs(r(3, 4, seed=1)).round()]),
    "prelu": (lambda x, w: F.prelu(x, w), [r(2, 3, 4), r(3, lo=0)]),
    "relu": (lambda x: F.relu(x), [r(3, 4)]),
    "relu6": (lambda x: F.relu6(x), [r(3, 4) * 4]),
    "rms_norm": (lambda x, w: F.rms_norm(x, [4], w), [r(3, 4), r(4)]),
    "rrelu": (lambda x: F.rrelu(x, training=True), [r(3, 4)]),
    "selu": (lambda x: F.selu(x), [r(3, 4)]),
    "sigmoid": (lambda x: F.sigmoid(x), [r(3, 4)]),
    "silu": (lambda x: F.silu(x), [r(3, 4)]),
    "smooth_l1_loss": (lambda x, t: F.smooth_l1_loss(x, t), [r(3, 4), r(3, 4, seed=1)]),
    "soft_margin_loss": (lambda x, y: F.soft_margin_loss(x, y), [r(4), signs(4)]),
    "softmax": (lambda x: F.softmax(x, dim=0), [r(3, 4)]),
    "softmin": (lambda x: F.softmin(x, dim=1), [r(3, 4)]),
    "softplus": (lambda x: F.softplus(x), [r(3, 4)]),
    "softshrink": (lambda x: F.softshrink(x), [r(3, 4)]),
    "softsign": (lambda x: F.softsign(x), [r(3, 4)]),
    "step": (lambda x: F.step(x), [r(3, 4)]),
    "tanh": (lambda x: F.tanh(x), [r(3, 4)]),
    "tanhshrink": (lambda x: F.tanhshrink(x), [r(3, 4)]),
    "threshold": (lambda x: F.threshold(x, 0.1, 20.0), [r(3, 4)]),
    "triplet_margin_loss": (
        lambda a, p, n: F.triplet_margin_loss(a, p, n),
        [r(4, 3), r(4, 3, seed=1), r(4, 3, seed=2)],
    ),
}


def test_every_public_functional_is_swept():
    assert set(CALLS) == set(F.__all__)


def _call(name, args):
    call, _ = CALLS[name]
    toynn.manual_seed(3)  # the random ones draw the same masks each time
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's and the size warnings: the same for every form
        out = call(*args)
    return out[0] if isinstance(out, tuple) else out


def _same(out, ref):
    assert isinstance(out, toynn.Tensor)
    assert out.shape == ref.shape and out.dtype == ref.dtype
    # equal, up to an ulp where a device array takes another erf than SciPy's (gelu under --backend fake)
    np.testing.assert_allclose(host(out.detach()), host(ref.detach()), rtol=1e-15, atol=0)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_numpy_arrays_give_what_tensors_give(name):
    arrays = CALLS[name][1]
    _same(_call(name, arrays), _call(name, [toynn.tensor(a) for a in arrays]))


@pytest.mark.parametrize("name", sorted(CALLS))
def test_lists_give_what_tensors_made_from_them_give(name):
    arrays = CALLS[name][1]
    _same(_call(name, [a.tolist() for a in arrays]), _call(name, [toynn.tensor(a.tolist()) for a in arrays]))


@pytest.mark.parametrize("name", sorted(n for n in CALLS if len(CALLS[n][1]) > 1))
def test_a_tensor_with_numpy_constants_and_its_gradient(name):
    """The first argument a Tensor that requires grad (when it can), the rest NumPy: the constants join it on its
    device, the result and its gradient equal the all-Tensor call's."""
    arrays = CALLS[name][1]
    grad = arrays[0].dtype.kind == "f"
    first = toynn.tensor(arrays[0], requires_grad=grad)
    out = _call(name, [first, *arrays[1:]])
    ref_first = toynn.tensor(arrays[0], requires_grad=grad)
    ref = _call(name, [ref_first, *[toynn.tensor(a) for a in arrays[1:]]])
    _same(out, ref)
    if grad and ref.requires_grad:
        out.sum().backward()
        ref.sum().backward()
        np.testing.assert_array_equal(host(first.grad), host(ref_first.grad))


def test_the_calls_of_the_issue(torch):
    """conv2d, max_pool2d, interpolate and linear refused NumPy with a TypeError; cross_entropy, mse_loss and
    nll_loss crashed on a NumPy or list target with AttributeError: 'memoryview' object has no attribute 'size'."""
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((5, 3, 3, 3)).astype(np.float32)
    tx, tw = torch.tensor(x), torch.tensor(w)
    np.testing.assert_allclose(host(F.conv2d(x, w)), torch.nn.functional.conv2d(tx, tw).numpy(), rtol=1e-5, atol=1e-6)
    assert F.max_pool2d(x, 2).shape == (2, 3, 2, 2) and F.interpolate(x, scale_factor=2).shape == (2, 3, 8, 8)
    assert F.linear(x, np.ones((2, 4), np.float32)).shape == (2, 3, 4, 2)
    logits = toynn.tensor(np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    ref = torch.tensor(host(logits.detach()), requires_grad=True)
    for target in ([0, 2, 1, 1], np.array([0, 2, 1, 1])):
        loss = F.cross_entropy(logits, target)
        assert loss.dtype == np.float32
        assert float(loss) == pytest.approx(
            float(torch.nn.functional.cross_entropy(ref, torch.tensor([0, 2, 1, 1])).detach())
        )
        assert float(F.nll_loss(logits.log_softmax(1), target)) == pytest.approx(float(loss))
    assert F.mse_loss(logits, np.zeros((4, 3), np.float32)).dtype == np.float32
    assert float(F.mse_loss(logits, [[0.0] * 3] * 4)) == pytest.approx(float((ref**2).mean().detach()))


def test_numbers_take_the_dtype_of_the_tensor_beside_them():
    x = toynn.tensor(np.array([-1.0, 0.0, 2.0], np.float32), requires_grad=True)
    with pytest.warns(UserWarning, match="target size"):
        loss = F.mse_loss(x, 0.5)  # broadcasts, and warns as PyTorch does
    assert loss.dtype == np.float32 and float(loss) == pytest.approx((1.5**2 + 0.5**2 + 1.5**2) / 3)
    assert F.heaviside(x, 0.25).tolist() == [0.0, 0.25, 1.0]
    assert F.gaussian_nll_loss(x, x.detach(), 2.0).dtype == np.float32
    a, n, f, lst, none = tensors(x, np.ones(2), 3, [1, 2], None)
    assert a is x and none is None
    assert n.dtype == np.float64 and f.dtype == np.float32 and lst.dtype == np.int64 and not n.requires_grad
    assert tensors([0.5, 1.0])[0].dtype == toynn.get_default_dtype()
    with pytest.raises(TypeError, match="expected a Tensor, a NumPy array, a list or a number; got str"):
        F.relu("x")


def test_the_tensor_call_refusals_still_hold():
    """A NumPy weight of another dtype is refused as the Tensor would be: the rule converts, it does not cast."""
    x = toynn.tensor(np.ones((1, 3, 4, 4), np.float32))
    with pytest.raises(TypeError, match="conv2d: weight is float64 but input is float32"):
        F.conv2d(x, np.ones((2, 3, 3, 3)))
    with pytest.raises(TypeError, match="conv2d: weight is float64 but input is float32"):
        F.conv2d(x, toynn.tensor(np.ones((2, 3, 3, 3))))
