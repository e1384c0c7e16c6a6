"""The spatial and fused ops (conv, pooling, padding, resampling, linear, the fused losses) as cases of the table's
kind: fn(lib, *tensors) runs on toynn and on torch alike. tests/test_double_backward.py checks them twice
differentiated; their first derivatives are checked in test_conv.py, test_pool.py, test_losses.py and others."""

from __future__ import annotations

import numpy as np

from .cases import Case, distinct, randn

TARGET = np.array([2, 0, 1, 2])
CLASS_WEIGHT = np.array([0.5, 2.0, 1.0])


def F(m):
    return m.nn.functional


def _unpool(m, x, y):  # the switches come from x (constant), the values from y
    _, idx = F(m).max_pool2d(x, 2, return_indices=True)
    return F(m).max_unpool2d(y, idx, 2)


def _critic(m, x, w1, b1, w2, b2):  # a small WGAN critic: conv, tanh, max-pool, linear
    h = F(m).max_pool2d(m.tanh(F(m).conv2d(x, w1, b1)), 2)
    return F(m).linear(h.reshape(x.shape[0], -1), w2, b2)


NN_CASES = [
    Case("conv2d", lambda m, x, w: F(m).conv2d(x, w), [(2, 3, 6, 6), (4, 3, 3, 3)]),
    Case("conv2d/bias", lambda m, x, w, b: F(m).conv2d(x, w, b, padding=1), [(2, 2, 5, 5), (3, 2, 3, 3), (3,)]),
    Case(
        "conv2d/stride-dilation-groups",
        lambda m, x, w: F(m).conv2d(x, w, stride=2, padding=2, dilation=2, groups=2),
        [(2, 4, 7, 7), (6, 2, 3, 3)],
    ),
    Case("conv1d", lambda m, x, w: F(m).conv1d(x, w, stride=2, padding=1), [(2, 3, 9), (4, 3, 3)]),
    Case(
        "conv_transpose2d",
        lambda m, x, w: F(m).conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
        [(2, 3, 4, 4), (3, 2, 3, 3)],
    ),
    Case("max_pool2d", lambda m, x: F(m).max_pool2d(x, 2), [(2, 3, 4, 4)], distinct),
    Case("max_pool2d/overlap", lambda m, x: F(m).max_pool2d(x, 3, 2, 1), [(1, 2, 7, 7)], distinct),
    Case("avg_pool2d", lambda m, x: F(m).avg_pool2d(x, 3, 2, 1), [(2, 2, 6, 6)]),
    Case("adaptive_avg_pool2d", lambda m, x: F(m).adaptive_avg_pool2d(x, (3, 2)), [(2, 2, 7, 5)]),
    Case("adaptive_max_pool2d", lambda m, x: F(m).adaptive_max_pool2d(x, (3, 3)), [(1, 2, 7, 7)], distinct),
    Case("max_unpool2d", _unpool, [(1, 2, 4, 4), (1, 2, 2, 2)], [distinct, randn], grad=[False, True]),
    Case("pad/reflect", lambda m, x: F(m).pad(x, (1, 2, 2, 1), mode="reflect"), [(2, 1, 4, 5)]),
    Case("pad/replicate", lambda m, x: F(m).pad(x, (2, 1, 1, 0), mode="replicate"), [(2, 1, 3, 4)]),
    Case("interpolate/nearest", lambda m, x: F(m).interpolate(x, scale_factor=2), [(1, 2, 3, 3)]),
    Case(
        "interpolate/bilinear",
        lambda m, x: F(m).interpolate(x, size=(5, 7), mode="bilinear", align_corners=False),
        [(1, 2, 3, 4)],
    ),
    Case("linear", lambda m, x, w, b: F(m).linear(x, w, b), [(4, 3), (5, 3), (5,)]),
    Case("linear/3d-no-bias", lambda m, x, w: F(m).linear(x, w), [(2, 4, 3), (5, 3)]),
    Case("linear/one-sample", lambda m, x, w, b: F(m).linear(x, w, b), [(1, 3), (2, 3), (2,)]),
    Case("cross_entropy", lambda m, x: F(m).cross_entropy(x, m.tensor(TARGET)), [(4, 3)]),
    Case(
        "cross_entropy/weight-smoothing-sum",
        lambda m, x: F(m).cross_entropy(
            x, m.tensor(TARGET), weight=m.tensor(CLASS_WEIGHT), label_smoothing=0.2, reduction="sum"
        ),
        [(4, 3)],
    ),
    Case("cross_entropy/none", lambda m, x: F(m).cross_entropy(x, m.tensor(TARGET), reduction="none"), [(4, 3)]),
    Case("mse_loss", lambda m, x, y: F(m).mse_loss(x, y), [(3, 4), (3, 4)]),
    Case("critic/conv-tanh-maxpool-linear", _critic, [(2, 1, 6, 6), (2, 1, 3, 3), (2,), (3, 8), (3,)]),
]
