"""interpolate beyond the op table: PyTorch's pixel conventions over a grid of sizes, the nearest-neighbour
float32 index arithmetic, block sums, and the one place where PyTorch's backward is not its forward's adjoint."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import toynn
import toynn.conv as tc
from toynn.autodiff import jvp
from toynn.conv.upsample import RepeatBlocks

from .devices import host, like

SIZES = [1, 2, 3, 5, 7, 8]
OUTS = [1, 2, 3, 4, 6, 9, 11, 16]


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nearest_indices_match_torch_exactly_over_a_grid(mode, dtype, torch):
    """floor(dst * in/out) with PyTorch's float32 ratio, and its shortcuts for out == in and out == 2 in."""
    F = torch.nn.functional
    for h, w in itertools.product(SIZES, SIZES):
        x = np.arange(h * w, dtype=dtype).reshape(1, 1, h, w)
        for ho, wo in [(o, p) for o in OUTS for p in OUTS[::3]]:
            ours = tc.interpolate(toynn.tensor(x), size=(ho, wo), mode=mode).array
            np.testing.assert_array_equal(ours, F.interpolate(torch.tensor(x), size=(ho, wo), mode=mode).numpy())
        for s in [0.5, 1.1, 1.7, 2.0, 2.0000001, 2.5, 3.0, 1 / 3]:
            if min(int(h * s), int(w * s)) < 1:
                continue
            ours = tc.interpolate(toynn.tensor(x), scale_factor=s, mode=mode).array
            np.testing.assert_array_equal(ours, F.interpolate(torch.tensor(x), scale_factor=s, mode=mode).numpy())


@pytest.mark.parametrize("mode,align", [("bilinear", False), ("bilinear", True), ("bicubic", False), ("bicubic", True)])
@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-6), (np.float64, 1e-12)])
def test_linear_modes_match_torch_over_a_grid(mode, align, dtype, tol, rng, torch):
    F = torch.nn.functional
    for h, w in [(1, 3), (3, 2), (5, 7), (8, 8)]:
        x = rng.standard_normal((1, 2, h, w)).astype(dtype)
        settings = [dict(size=(o, p)) for o, p in [(1, 1), (2, 5), (h, w), (2 * h, 3 * w), (7, 11), (16, 3)]]
        settings += [dict(scale_factor=s) for s in [0.5, 1.1, 1.5, 2.0, 2.7] if min(h * s, w * s) >= 1]
        for kw in settings:
            ours = tc.interpolate(toynn.tensor(x), mode=mode, align_corners=align, **kw).array
            theirs = F.interpolate(torch.tensor(x), mode=mode, align_corners=align, **kw).numpy()
            assert ours.dtype == dtype
            np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol * 10)


def test_nearest_integer_upsampling_is_a_block_repeat_whose_adjoint_is_the_block_sum(rng):
    x = toynn.tensor(rng.standard_normal((2, 3, 4, 5)), requires_grad=True)
    y = tc.interpolate(x, scale_factor=(2, 3))
    assert isinstance(y._ctx, RepeatBlocks)
    np.testing.assert_array_equal(y.array, x.array.repeat(2, axis=2).repeat(3, axis=3))
    g = rng.standard_normal(y.shape)
    y.backward(g)
    np.testing.assert_allclose(x.grad.array, g.reshape(2, 3, 4, 2, 5, 3).sum((3, 5)), rtol=1e-12)


def test_area_mode_is_adaptive_average_pooling(rng, torch):
    x = rng.standard_normal((1, 2, 7, 9))
    for kw in [dict(size=(3, 4)), dict(scale_factor=0.5)]:
        ours = tc.interpolate(toynn.tensor(x), mode="area", **kw).array
        np.testing.assert_allclose(ours, torch.nn.functional.interpolate(torch.tensor(x), mode="area", **kw).numpy())


@pytest.mark.parametrize("scale", [1.1, 2.0000001])
def test_1d_nearest_backward_is_the_adjoint_of_the_forward(scale, rng, torch):
    """PyTorch's 1-D nearest forward indexes floor(dst / scale), but its backward takes the 2-D shortcuts
    (copy when out == in, halve when out == 2 in), so there its gradient is not its forward's transpose.
    Here the forward matches PyTorch and the backward is the exact adjoint of that forward."""
    x = rng.standard_normal((1, 2, 5))
    y = tc.interpolate(toynn.tensor(x), scale_factor=scale)
    np.testing.assert_array_equal(y.array, torch.nn.functional.interpolate(torch.tensor(x), scale_factor=scale).numpy())
    u, v = rng.standard_normal(x.shape), rng.standard_normal(y.shape)
    primal = toynn.tensor(x)
    _, ju = jvp(lambda t: tc.interpolate(t, scale_factor=scale), [primal], [like(u, primal)])
    a = toynn.tensor(x, requires_grad=True)
    tc.interpolate(a, scale_factor=scale).backward(v)
    assert float((host(ju) * v).sum()) == pytest.approx(float((host(a.grad) * u).sum()), rel=1e-12)


def test_identity_size_still_makes_a_new_differentiable_tensor(rng):
    x = toynn.tensor(rng.standard_normal((1, 1, 3, 4)), requires_grad=True)
    y = tc.interpolate(x, size=(3, 4))
    assert y is not x
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, np.ones((1, 1, 3, 4)))


def test_recompute_scale_factor_uses_the_rounded_size(torch):
    x = np.arange(7.0).reshape(1, 1, 7)
    for recompute in [None, True]:
        ours = tc.interpolate(toynn.tensor(x), scale_factor=1.3, mode="linear", recompute_scale_factor=recompute)
        theirs = torch.nn.functional.interpolate(
            torch.tensor(x), scale_factor=1.3, mode="linear", recompute_scale_factor=recompute
        )
        np.testing.assert_allclose(ours.array, theirs.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dense_max", [0, 128], ids=["gather-scatter", "matrix"])
@pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
def test_both_resampling_paths_match_torch(mode, dense_max, rng, torch, monkeypatch):
    """Axes longer than DENSE_MAX gather taps and scatter them back in rounds instead of multiplying by A."""
    import toynn.conv.upsample as up

    monkeypatch.setattr(up, "DENSE_MAX", dense_max)
    x = rng.standard_normal((2, 2, 5, 7))
    for kw in [dict(size=(11, 4)), dict(scale_factor=(1.5, 2.5))]:
        a, t = toynn.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = tc.interpolate(a, mode=mode, **kw), torch.nn.functional.interpolate(t, mode=mode, **kw)
        g = rng.standard_normal(y.shape)
        y.backward(g)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(a.grad.array, t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_inf_stays_where_it_was(torch):
    """A dense matrix would spread 0 * inf = NaN over whole rows; the gather path keeps inf local, as PyTorch."""
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 2] = np.inf
    ours = tc.interpolate(toynn.tensor(x), scale_factor=2, mode="bilinear").array
    theirs = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=2, mode="bilinear").numpy()
    np.testing.assert_array_equal(ours, theirs)
