"""The conv fast paths against the simple versions they replace: both adjoints from one im2col of g
(conv_adjoints) against conv_data_adjoint + conv_weight_adjoint, the fused conv + bias node against Conv2d and a
broadcast add, and the scratch buffers reused between calls of different shapes against the naive oracle."""

from __future__ import annotations

import numpy as np
import pytest

import toynn
import toynn.conv.convolution as cv
import toynn.conv.direct as direct
import toynn.conv.gemm as gemm

from . import oracle, test_runtime

threads = test_runtime.threads  # the fixture that sets toynn's thread count for one test

GEOMETRIES = [  # (x shape, w shape, padding ((top, bottom), (left, right)), dilation, groups)
    ((2, 3, 8, 8), (4, 3, 3, 3), ((1, 1), (1, 1)), (1, 1), 1),  # the CIFAR net's convs, small
    ((2, 4, 7, 9), (6, 2, 3, 3), ((1, 1), (1, 1)), (1, 1), 2),  # groups
    ((2, 3, 9, 8), (5, 3, 3, 2), ((2, 0), (1, 3)), (2, 1), 1),  # asymmetric padding, dilation
    ((3, 2, 10, 6), (3, 2, 5, 5), ((0, 0), (0, 0)), (1, 1), 1),  # valid: LeNet's second conv
    ((2, 2, 6, 20), (4, 2, 3, 3), ((1, 1), (1, 1)), (1, 2), 1),  # narrow rows (wide would more than double)
    ((2, 2, 5, 5), (3, 2, 3, 3), ((3, 3), (3, 3)), (1, 1), 1),  # padding past the kernel: g is cropped
]


@pytest.mark.parametrize("wide_min_rows", [0, 1 << 30])
@pytest.mark.parametrize("chunk", [1, 1 << 30])
@pytest.mark.parametrize("x_shape, w_shape, padding, dilation, groups", GEOMETRIES)
def test_shared_columns_give_both_adjoints(
    x_shape, w_shape, padding, dilation, groups, chunk, wide_min_rows, rng, monkeypatch
):
    monkeypatch.setattr(gemm, "CHUNK_BYTES", chunk)
    monkeypatch.setattr(gemm, "WIDE_MIN_ROWS", wide_min_rows)  # wide rows wherever they may be, or nowhere
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    geom = ((1, 1), padding, dilation, groups)
    g = rng.standard_normal(cv.conv(x, w, *geom).shape)
    gx, gw = cv.conv_adjoints(g, x, w, padding, dilation, groups)
    np.testing.assert_allclose(gx, cv.conv_data_adjoint(g, w, x.shape, *geom), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gw, cv.conv_weight_adjoint(g, x, w.shape, *geom), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_fused_bias_matches_conv_plus_broadcast_add(dtype, tol, rng):
    """Conv2dBias (forward, all three gradients) equals the unfused Conv2d followed by a broadcast add."""
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in [(3, 4, 9, 9), (5, 4, 3, 3), (5,)])
    geom = dict(stride=(1, 1), padding=((1, 1), (1, 1)), dilation=(1, 1), groups=1)
    fused = [toynn.tensor(a, requires_grad=True) for a in (x, w, b)]
    plain = [toynn.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = cv.Conv2dBias.apply(*fused, **geom)
    y_ref = cv.Conv2d.apply(plain[0], plain[1], **geom) + plain[2].reshape(1, -1, 1, 1)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.array, y_ref.array, rtol=tol, atol=tol)
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(g)
    y_ref.backward(g)
    for a, r in zip(fused, plain):
        np.testing.assert_allclose(a.grad.array, r.grad.array, rtol=tol, atol=tol * 10)


def test_fused_bias_node_is_used_by_conv2d(rng):
    x, w, b = (toynn.tensor(rng.standard_normal(s), requires_grad=True) for s in [(1, 2, 5, 5), (3, 2, 3, 3), (3,)])
    assert type(toynn.conv.conv2d(x, w, b).grad_fn) is cv.Conv2dBias
    assert type(toynn.conv.conv2d(x, w).grad_fn) is cv.Conv2d


def test_scratch_buffers_left_by_other_calls_do_not_leak(rng):
    """A padded conv after calls of other shapes (their garbage left in the shared buffers) still pads with zeros."""
    big = 1e6 * rng.standard_normal((4, 8, 12, 12))
    for padding in [2, 0, 1]:
        cv.conv(big, rng.standard_normal((3, 8, 5, 5)), (1, 1), ((2, 2), (2, 2)), (1, 1), 1)
        x, w = rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((4, 3, 3, 3))
        y = toynn.conv.conv2d(toynn.tensor(x), toynn.tensor(w), padding=padding)
        np.testing.assert_allclose(y.array, oracle.conv2d(x, w, padding=padding), rtol=1e-12, atol=1e-12)


def test_batch_split_across_threads_matches_one_thread(threads, rng, monkeypatch):
    """conv, its adjoints (shared columns, col2im, weight), max and average pooling: 3 threads == 1 thread."""
    import toynn.conv.pool as pool

    monkeypatch.setattr(pool, "_images_per_part", lambda N, C, out_hw: 2)  # split even these small pools
    monkeypatch.setattr(gemm, "SPLIT_MACS", 0)  # and these small convs
    x, w, b = rng.standard_normal((7, 4, 10, 10)), rng.standard_normal((6, 4, 3, 3)), rng.standard_normal(6)
    w_wide = rng.standard_normal((12, 4, 3, 3))  # a strided conv: its adjoints apart, the data adjoint by col2im

    def run():
        a, bw, c, d = (toynn.tensor(v, requires_grad=True) for v in (x, w, b, w_wide))
        h = toynn.conv.conv2d(a, bw, c, padding=1)  # (7, 6, 10, 10)
        y = toynn.conv.max_pool2d(h, 2) + toynn.conv.avg_pool2d(h, 3, stride=2, padding=1)  # (7, 6, 5, 5)
        y = y.sum(1) + toynn.conv.conv2d(a, d, stride=2, padding=1).sum(1)  # (7, 5, 5)
        y.backward(np.cos(np.arange(y.numel())).reshape(y.shape))
        return [y.array, a.grad.array, bw.grad.array, c.grad.array, d.grad.array]

    threads(1)
    one = run()
    threads(3)
    for ours, ref in zip(run(), one):
        np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


def test_small_convs_run_whole_big_ones_split(threads, rng, monkeypatch):
    """Under SPLIT_MACS multiply-adds a conv runs in one part on the calling thread; at or over it, in parts."""
    threads(2)
    monkeypatch.setattr(direct, "DIRECT_MAX_OUT", 0)  # a conv this thin would run directly (conv/direct.py)
    calls = []
    real = gemm.parallel
    monkeypatch.setattr(gemm, "parallel", lambda fn, n, xp, step: calls.append(-(-n // step)) or real(fn, n, xp, step))
    x, w = rng.standard_normal((4, 3, 8, 8)), rng.standard_normal((5, 3, 3, 3))
    geom = ((1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    whole = cv.conv(x, w, *geom)
    monkeypatch.setattr(gemm, "SPLIT_MACS", w.size * 4 * 8 * 8)  # exactly this conv's multiply-adds: it splits
    split = cv.conv(x, w, *geom)
    assert calls == [1, 2]
    np.testing.assert_allclose(split, whole, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "x_shape, kernel, stride, padding, dilation, width",
    [
        ((3, 2, 9, 8), (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), "wide"),  # the CIFAR net's convs
        ((2, 1, 8, 8), (5, 5), (1, 1), ((2, 2), (2, 2)), (1, 1), "wide"),  # LeNet's first
        ((2, 3, 7, 9), (3, 2), (1, 1), ((2, 0), (1, 3)), (2, 1), "wide"),  # asymmetric padding, dilation
        ((2, 3, 10, 6), (5, 5), (1, 1), ((0, 0), (0, 0)), (1, 1), "narrow"),  # valid, unpadded: a view of x
        ((2, 2, 11, 9), (3, 3), (2, 3), ((1, 1), (0, 2)), (1, 2), "narrow"),  # strides and dilation
    ],
)
def test_im2col_columns_are_the_taps_windows(x_shape, kernel, stride, padding, dilation, width, rng):
    """im2col_chunks' one strided copy holds, for every tap (i, j), the padded input at rows i*dh + sh*r and columns
    j*dw + sw*q, chunk by chunk (the wide rows' extra columns past Wo are left out of the comparison)."""
    x = rng.standard_normal(x_shape)
    N, C, H, W = x_shape
    (KH, KW), (sh, sw), (dh, dw), ((pt, pb), (pl, pr)) = kernel, stride, dilation, padding
    Ho = (H + pt + pb - dh * (KH - 1) - 1) // sh + 1
    Wo = (W + pl + pr - dw * (KW - 1) - 1) // sw + 1
    Wq = W + pl + pr if width == "wide" else Wo
    xpad = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    for n0, n1, cols in gemm.im2col_chunks(x, kernel, stride, padding, dilation, (Ho, Wo), Wq, 1):
        assert cols.shape == (C, KH, KW, n1 - n0, Ho, Wq)
        for i in range(KH):
            for j in range(KW):
                taps = xpad[
                    n0:n1, :, i * dh : i * dh + sh * (Ho - 1) + 1 : sh, j * dw : j * dw + sw * (Wo - 1) + 1 : sw
                ]
                np.testing.assert_array_equal(cols[:, i, j, :, :, :Wo], taps.transpose(1, 0, 2, 3))
