"""toynn.conv.reference, the lecture's loops and the tests' oracle for the spatial ops: examples worked by hand,
PyTorch in float64 over strides, padding, dilation, groups, output_padding, ceil_mode and the pooling options,
and the adjointness of its convolution and transposed convolution."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from toynn.conv import reference

from .cases import distinct

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")


# ---------------------------------------------------------------------------------------------
# Worked by hand


def test_conv2d_by_hand():
    """A 4x4 input and a 3x3 vertical-edge kernel: each output is the window's left column minus its right one."""
    x = np.array([[3, 0, 1, 2], [1, 5, 8, 9], [2, 7, 2, 5], [0, 1, 3, 1]], dtype=np.float64)
    w = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], dtype=np.float64)
    # (3 + 1 + 2) - (1 + 8 + 2) = -5, (0 + 5 + 7) - (2 + 9 + 5) = -4, (1 + 2 + 0) - (8 + 2 + 3) = -10, ...
    y = reference.conv2d(x[None, None], w[None, None], np.array([0.5]))
    np.testing.assert_array_equal(y, [[[[-4.5, -3.5], [-9.5, -1.5]]]])
    assert y.dtype == np.float64


def test_conv_transpose2d_by_hand():
    """Stride 2 and a 2x2 kernel of ones: each input cell becomes a 2x2 block of itself."""
    y = reference.conv_transpose2d(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), np.ones((1, 1, 2, 2)), stride=2)
    np.testing.assert_array_equal(y[0, 0], [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]])


def test_max_pool_and_unpool_by_hand():
    """docs/cnn.md's unpooling example: maxima, their switches as flat indices, and the values put back."""
    x = np.array([[1, 5, 2, 0], [3, 4, 8, 1], [0, 2, 3, 6], [7, 1, 4, 2]], dtype=np.float64)[None, None]
    y, switches = reference.max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(y[0, 0], [[5, 8], [7, 6]])
    np.testing.assert_array_equal(switches[0, 0], [[1, 6], [12, 11]])
    unpooled = reference.max_unpool2d(y, switches, 2)
    np.testing.assert_array_equal(unpooled[0, 0], [[0, 5, 0, 0], [0, 0, 8, 0], [0, 0, 0, 6], [7, 0, 0, 0]])


def test_avg_pool_padding_by_hand():
    """Ones, padding 1, 2x2 windows: each window holds one real cell and three of padding."""
    x = np.ones((1, 1, 2, 2))
    np.testing.assert_array_equal(reference.avg_pool2d(x, 2, padding=1), np.full((1, 1, 2, 2), 0.25))
    np.testing.assert_array_equal(reference.avg_pool2d(x, 2, padding=1, count_include_pad=False), np.ones_like(x))
    np.testing.assert_array_equal(reference.avg_pool2d(x, 2, padding=1, divisor_override=2), np.full_like(x, 0.5))


# ---------------------------------------------------------------------------------------------
# Against PyTorch, float64

CASES = [  # (function, input shapes, keyword arguments): the same call on the reference and on PyTorch
    ("conv2d", [(2, 3, 5, 5), (2, 3, 3, 3), (2,)], {}),
    ("conv2d", [(1, 2, 7, 6), (3, 2, 3, 3)], dict(stride=2, padding=1)),
    ("conv2d", [(1, 2, 7, 8), (2, 2, 3, 2)], dict(stride=(1, 2), padding=(2, 1), dilation=(2, 3))),
    ("conv2d", [(1, 4, 5, 5), (6, 2, 3, 3), (6,)], dict(groups=2, padding=1)),
    ("conv2d", [(2, 3, 5, 6), (3, 1, 3, 3)], dict(groups=3, padding=1)),  # depthwise
    ("conv2d", [(1, 2, 5, 6), (2, 2, 2, 4)], dict(padding="same", dilation=(3, 1))),
    ("conv2d", [(1, 2, 7, 6), (2, 2, 2, 2)], dict(stride=3, padding="valid")),  # stride > kernel
    ("conv1d", [(2, 2, 9), (3, 2, 3), (3,)], dict(stride=2, padding=1, dilation=2)),
    ("conv_transpose2d", [(2, 3, 3, 3), (3, 2, 3, 3), (2,)], {}),
    ("conv_transpose2d", [(1, 2, 3, 4), (2, 3, 3, 3)], dict(stride=2, padding=1, output_padding=1)),
    ("conv_transpose2d", [(1, 2, 3, 3), (2, 2, 2, 3)], dict(stride=(3, 1), dilation=2, output_padding=(2, 1))),
    ("conv_transpose2d", [(1, 4, 3, 3), (4, 1, 3, 3), (2,)], dict(groups=2, stride=2, padding=(1, 0))),
    ("conv_transpose1d", [(2, 2, 4), (2, 3, 3), (3,)], dict(stride=2, padding=1, output_padding=1)),
    ("max_pool2d", [(2, 2, 6, 6)], dict(kernel_size=2)),
    ("max_pool2d", [(1, 2, 7, 7)], dict(kernel_size=3, stride=2, padding=1)),
    ("max_pool2d", [(1, 2, 8, 6)], dict(kernel_size=3, stride=2, ceil_mode=True)),
    ("max_pool2d", [(1, 1, 4, 4)], dict(kernel_size=2, stride=3, padding=1, ceil_mode=True)),  # drops a window
    ("max_pool2d", [(1, 2, 9, 8)], dict(kernel_size=(3, 2), stride=(2, 3), padding=1, dilation=2, ceil_mode=True)),
    ("max_pool1d", [(2, 2, 9)], dict(kernel_size=3, stride=2, padding=1, dilation=2)),
    ("avg_pool2d", [(1, 2, 7, 7)], dict(kernel_size=3, stride=2, padding=1)),
    ("avg_pool2d", [(1, 2, 7, 6)], dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ("avg_pool2d", [(1, 2, 8, 7)], dict(kernel_size=(3, 2), stride=2, padding=1, ceil_mode=True)),
    ("avg_pool2d", [(1, 2, 8, 7)], dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("avg_pool2d", [(1, 2, 6, 5)], dict(kernel_size=2, stride=1, divisor_override=3)),
    ("avg_pool1d", [(2, 2, 8)], dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
]


@pytest.mark.parametrize("name,shapes,kw", CASES, ids=[f"{name}-{kw}" for name, _, kw in CASES])
def test_matches_torch(name, shapes, kw, rng, torch):
    arrays = [distinct(rng, s) for s in shapes]  # no ties: max pooling's switches are unique
    y = getattr(reference, name)(*arrays, **kw)
    expected = getattr(torch.nn.functional, name)(*(torch.tensor(a) for a in arrays), **kw).numpy()
    assert y.shape == expected.shape and y.dtype == np.float64
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["max_pool1d", "max_pool2d"])
def test_max_pool_switches_match_torch(name, rng, torch):
    for _, shapes, kw in (case for case in CASES if case[0] == name):
        x = distinct(rng, shapes[0])
        y, switches = getattr(reference, name)(x, return_indices=True, **kw)
        ty, tswitches = getattr(torch.nn.functional, name)(torch.tensor(x), return_indices=True, **kw)
        np.testing.assert_array_equal(y, ty.numpy())
        np.testing.assert_array_equal(switches, tswitches.numpy())
        assert switches.dtype == np.int64


@pytest.mark.parametrize(
    "shape,kw,output_size",
    [((2, 2, 6, 6), dict(kernel_size=2), None), ((1, 2, 7, 7), dict(kernel_size=3, stride=3, padding=1), (7, 7))],
)
def test_max_unpool_matches_torch(shape, kw, output_size, rng, torch):
    """Unpool PyTorch's own switches; an odd input size needs output_size to come back whole."""
    y, switches = torch.nn.functional.max_pool2d(torch.tensor(distinct(rng, shape)), return_indices=True, **kw)
    ours = reference.max_unpool2d(y.numpy(), switches.numpy(), output_size=output_size, **kw)
    theirs = torch.nn.functional.max_unpool2d(y, switches, output_size=output_size, **kw).numpy()
    np.testing.assert_array_equal(ours, theirs)


# ---------------------------------------------------------------------------------------------
# Its own properties


def test_conv_transpose_is_the_adjoint_of_conv(rng):
    """<conv2d(x, w), v> == <x, conv_transpose2d(v, w)>: the lecture's C and C^T, with the same geometry."""
    x, w = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 3))
    kw = dict(stride=2, padding=1, dilation=(1, 2), groups=2)
    y = reference.conv2d(x, w, **kw)  # (2, 6, 4, 2)
    v = rng.standard_normal(y.shape)
    # output_padding: the windows across the width end one column before its padded input does
    xt = reference.conv_transpose2d(v, w, output_padding=(0, 1), **kw)
    assert xt.shape == x.shape
    assert np.vdot(y, v) == pytest.approx(np.vdot(x, xt), rel=1e-12)


def test_max_unpool_refuses_a_switch_outside_the_output():
    with pytest.raises(IndexError, match="outside the 2x2 output"):
        reference.max_unpool2d(np.ones((1, 1, 1, 1)), np.array([[[[4]]]]), 2)


def test_reference_is_plain_numpy():
    """It imports NumPy and nothing of toynn, so the fast path it checks cannot leak into it."""
    tree = ast.parse(Path(reference.__file__).read_text())
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert modules == {"__future__", "numpy"}
