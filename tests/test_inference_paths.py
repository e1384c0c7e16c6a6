"""Work skipped outside a graph (max-pooling's switches under no_grad) changes nothing anyone can see."""

from __future__ import annotations

import numpy as np

import toynn
from toynn.autodiff import jvp
from toynn.conv.pool import MaxPool2d

from .devices import host


def _x(rng):
    x = rng.integers(-3, 4, (2, 3, 9, 8)).astype(np.float32)  # ties
    x[0, 1, 2, 2] = np.nan
    return toynn.tensor(x)


def test_max_pool_no_grad_skips_switches_only(rng):
    F, x = toynn.nn.functional, _x(rng)
    y = F.max_pool2d(x, 3, 2, 1)
    with toynn.no_grad():
        y_ng = F.max_pool2d(x, 3, 2, 1)
        node = MaxPool2d.__new__(MaxPool2d)
        node.forward(x.array, kernel=(3, 3), stride=(2, 2), padding=(1, 1), dilation=(1, 1), out_hw=(5, 4))
        assert node.arg is None  # skipped
        y_ng2, idx_ng = F.max_pool2d(x, 3, 2, 1, return_indices=True)  # the switches, found when asked for
    _, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(host(y_ng.array), host(y.array))
    np.testing.assert_array_equal(host(y_ng2.array), host(y.array))
    np.testing.assert_array_equal(host(idx_ng.array), host(idx.array))
    with toynn.inference_mode():
        np.testing.assert_array_equal(host(F.adaptive_max_pool2d(x, (3, 4)).array), host(F.max_pool2d(x, (3, 2)).array))


def test_max_pool_jvp_under_no_grad_uses_switches(rng):
    """Forward mode reads the switches too, with or without grad recording."""
    F, x = toynn.nn.functional, _x(rng)
    v = toynn.tensor(rng.standard_normal(x.shape).astype(np.float32))
    _, expected = jvp(lambda t: F.max_pool2d(t, 2), x, v)
    with toynn.no_grad():
        _, got = jvp(lambda t: F.max_pool2d(t, 2), x, v)
    np.testing.assert_array_equal(host(got.array), host(expected.array))
    assert np.abs(host(got.array)).sum() > 0
