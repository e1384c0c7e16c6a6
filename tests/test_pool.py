"""Pooling beyond the op table: switches (indices) as PyTorch returns them, unpooling, ties and NaN."""

from __future__ import annotations

import numpy as np
import pytest

import toynn
import toynn.conv as tc

from . import oracle
from .cases import distinct
from .devices import host

MAX_CONFIGS = [
    dict(kernel_size=2),
    dict(kernel_size=3, stride=2, padding=1),
    dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=(3, 2), stride=(2, 3), padding=1, dilation=2, ceil_mode=True),
    dict(kernel_size=2, stride=3),
    dict(kernel_size=3, stride=1, padding=1),
]


@pytest.mark.parametrize("kw", MAX_CONFIGS, ids=str)
def test_max_pool_indices_match_torch_and_oracle(kw, rng, torch):
    x = distinct(rng, (2, 3, 9, 8))
    y, idx = tc.max_pool2d(toynn.tensor(x), return_indices=True, **kw)
    ty, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.array, tidx.numpy())
    np.testing.assert_array_equal(idx.array, oracle.max_pool2d(x, return_indices=True, **kw)[1])
    np.testing.assert_array_equal(y.array, ty.numpy())


def test_indices_also_come_from_a_recording_node(rng, torch):
    """With grad on, the indices come from the node that backward will use; with it off, from a fresh run."""
    x = distinct(rng, (1, 2, 6, 7))
    a = toynn.tensor(x, requires_grad=True)
    _, with_graph = tc.max_pool2d(a, 3, 2, 1, return_indices=True)
    with toynn.no_grad():
        _, without = tc.max_pool2d(a, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(with_graph.array, without.array)


def test_pool1d_and_unbatched_indices(rng, torch):
    F = torch.nn.functional
    x = distinct(rng, (2, 3, 11))
    _, idx = tc.max_pool1d(toynn.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(idx.array, F.max_pool1d(torch.tensor(x), 3, 2, 1, return_indices=True)[1].numpy())
    x3 = distinct(rng, (3, 6, 5))
    y, idx = tc.max_pool2d(toynn.tensor(x3), 2, return_indices=True)
    ty, tidx = F.max_pool2d(torch.tensor(x3), 2, return_indices=True)
    assert y.shape == (3, 3, 2)
    np.testing.assert_array_equal(idx.array, tidx.numpy())
    back = tc.max_unpool1d(
        tc.max_pool1d(toynn.tensor(x), 2, return_indices=True)[0],
        tc.max_pool1d(toynn.tensor(x), 2, return_indices=True)[1],
        2,
        output_size=(11,),
    )
    tb = F.max_unpool1d(*F.max_pool1d(torch.tensor(x), 2, return_indices=True), 2, output_size=(11,))
    np.testing.assert_array_equal(back.array, tb.numpy())


def test_unpooling_puts_each_maximum_back_where_it_was(rng):
    """Zeiler & Fergus's switches: unpool(pool(x)) keeps each window's maximum in place, zeros elsewhere."""
    x = np.array([[1.0, 2, 0, 3], [4, 0, 1, 0], [0, 5, 6, 1], [2, 1, 0, 8]])
    y, idx = tc.max_pool2d(toynn.tensor(x[None, None]), 2, return_indices=True)
    np.testing.assert_array_equal(y.array[0, 0], [[4, 3], [5, 8]])
    np.testing.assert_array_equal(idx.array[0, 0], [[4, 3], [9, 15]])
    back = tc.max_unpool2d(y, idx, 2).array[0, 0]
    np.testing.assert_array_equal(back, [[0, 0, 0, 3], [4, 0, 0, 0], [0, 5, 0, 0], [0, 0, 0, 8]])
    xr = distinct(rng, (2, 3, 8, 6))
    yr, ir = tc.max_pool2d(toynn.tensor(xr), 2, return_indices=True)
    br = tc.max_unpool2d(yr, ir, 2).array
    is_max = xr == np.repeat(np.repeat(host(yr.array), 2, axis=2), 2, axis=3)
    np.testing.assert_array_equal(br, np.where(is_max, xr, 0))


def test_max_pool_backward_is_unpooling_of_the_gradient(rng):
    """The adjoint pair: for non-overlapping windows the gradient of max-pool is max-unpool with its switches."""
    x = toynn.tensor(distinct(rng, (2, 2, 6, 9)), requires_grad=True)
    y, idx = tc.max_pool2d(x, 3, return_indices=True)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_array_equal(x.grad.array, tc.max_unpool2d(toynn.tensor(g), idx, 3).array)


def test_ties_send_the_gradient_to_the_first_maximum(rng, torch):
    """After a ReLU, whole windows are 0: PyTorch routes the gradient to the first cell of the window."""
    x = np.maximum(rng.standard_normal((2, 3, 8, 8)), 0)
    x[:, :, :4, :4] = 0
    for kw in [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)]:
        a, t = toynn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = (
            tc.max_pool2d(a, return_indices=True, **kw),
            torch.nn.functional.max_pool2d(t, return_indices=True, **kw),
        )
        np.testing.assert_array_equal(y[1].array, ty[1].numpy())
        g = rng.standard_normal(ty[0].shape)
        y[0].backward(g)
        ty[0].backward(torch.tensor(g))
        np.testing.assert_allclose(a.grad.array, t.grad.numpy(), rtol=1e-14, atol=1e-15)  # zeros exactly where torch's


def test_nan_propagates_like_torch(torch):
    x = np.arange(32.0).reshape(1, 2, 4, 4)
    x[0, 0, 1, 0] = x[0, 0, 0, 1] = x[0, 1, 3, 3] = np.nan
    for fn, tfn in [
        (
            lambda a: tc.max_pool2d(a, 2, return_indices=True),
            lambda a: torch.nn.functional.max_pool2d(a, 2, return_indices=True),
        ),
        (lambda a: tc.adaptive_max_pool2d(a, 3, True), lambda a: torch.nn.functional.adaptive_max_pool2d(a, 3, True)),
    ]:
        (y, idx), (ty, tidx) = fn(toynn.tensor(x)), tfn(torch.tensor(x))
        np.testing.assert_array_equal(y.array, ty.numpy())  # NaN == NaN for assert_array_equal
        np.testing.assert_array_equal(idx.array, tidx.numpy())


@pytest.mark.parametrize("size", [(3, 4), (7, 3), 1, (None, 2), (4, 6), (5, 5)], ids=str)
def test_adaptive_pools_match_torch(size, rng, torch):
    F = torch.nn.functional
    x = distinct(rng, (2, 3, 7, 6))
    y, idx = tc.adaptive_max_pool2d(toynn.tensor(x), size, return_indices=True)
    ty, tidx = F.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
    np.testing.assert_array_equal(y.array, ty.numpy())
    np.testing.assert_array_equal(idx.array, tidx.numpy())
    np.testing.assert_allclose(
        tc.adaptive_avg_pool2d(toynn.tensor(x), size).array,
        F.adaptive_avg_pool2d(torch.tensor(x), size).numpy(),
        rtol=1e-12,
    )
    x1 = distinct(rng, (2, 3, 10))
    np.testing.assert_allclose(
        tc.adaptive_avg_pool1d(toynn.tensor(x1), 4).array,
        F.adaptive_avg_pool1d(torch.tensor(x1), 4).numpy(),
        rtol=1e-12,
    )
    y1, i1 = tc.adaptive_max_pool1d(toynn.tensor(x1), 3, return_indices=True)
    np.testing.assert_array_equal(i1.array, F.adaptive_max_pool1d(torch.tensor(x1), 3, return_indices=True)[1].numpy())


def test_global_average_pool_is_the_mean(rng):
    x = rng.standard_normal((2, 3, 5, 7))
    np.testing.assert_allclose(tc.adaptive_avg_pool2d(toynn.tensor(x), 1).array[..., 0, 0], x.mean((2, 3)), rtol=1e-12)


def test_avg_pool_stride_defaults_to_kernel(rng):
    x = toynn.tensor(rng.standard_normal((1, 1, 6, 6)))
    np.testing.assert_array_equal(tc.avg_pool2d(x, 3).array, tc.avg_pool2d(x, 3, 3).array)
    assert tc.max_pool2d(x, 3, stride=[]).shape == (1, 1, 2, 2)  # PyTorch's empty stride means kernel_size


def test_unpool_output_size_takes_the_full_shape(rng):
    x = toynn.tensor(distinct(rng, (1, 2, 7, 7)))
    y, idx = tc.max_pool2d(x, 2, return_indices=True)  # 3x3 windows of a 7x7 plane: the default would be 6x6
    assert tc.max_unpool2d(y, idx, 2, output_size=(1, 2, 7, 7)).shape == (1, 2, 7, 7)
    y6, idx6 = tc.max_pool2d(x[:, :, :6, :6], 2, return_indices=True)
    assert tc.max_unpool2d(y6, idx6, 2).shape == (1, 2, 6, 6)
