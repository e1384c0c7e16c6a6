"""The spatial ops as an op table, each case checked five ways: the naive-loop oracle, gradcheck, PyTorch in
float64 and float32 (output and every gradient), jvp against finite differences, and the dot-product test.
Then convolution's own behaviour: layouts, chunking, adjointness, errors and the lecture's examples."""

from __future__ import annotations

import re

import numpy as np
import pytest

import toynn
import toynn.conv as tc
from toynn import ShapeError
from toynn.autodiff import gradcheck, jvp, numerical_jacobian

from . import oracle
from .cases import Case, distinct, randn
from .devices import host, like

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")


def F(m):
    """The functional namespace: toynn.conv for toynn, torch.nn.functional for PyTorch (same signatures)."""
    return tc if m is toynn else m.nn.functional


def pad_fn(m):
    return tc.pad_nd if m is toynn else m.nn.functional.pad


# ---------------------------------------------------------------------------------------------
# The table


def conv_case(name, x, w, bias=False, **kw):
    shapes = [x, w] + ([(w[0],)] if bias else [])
    return Case(
        f"conv2d/{name}",
        lambda m, *t: F(m).conv2d(*t, **kw),
        shapes,
        ref=lambda *a: oracle.conv2d(*a, **kw),
    )


def conv_t_case(name, x, w, bias=False, **kw):
    groups = kw.get("groups", 1)
    shapes = [x, w] + ([(w[1] * groups,)] if bias else [])
    return Case(
        f"conv_transpose2d/{name}",
        lambda m, *t: F(m).conv_transpose2d(*t, **kw),
        shapes,
        ref=lambda *a: oracle.conv_transpose2d(*a, **kw),
    )


def _random_convs(n: int, seed: int) -> list[Case]:
    """A randomized grid: odd sizes, strides above the kernel, dilation up to 3, groups 1, 2 and depthwise."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        groups = int(rng.choice([1, 2, 3]))
        depthwise = groups == 3
        cg = 1 if depthwise else int(rng.integers(1, 3))
        C = 3 if depthwise else cg * groups
        O = C * int(rng.integers(1, 3)) if depthwise else groups * int(rng.integers(1, 3))
        K = tuple(int(v) for v in rng.integers(1, 4, 2))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        d = tuple(int(v) for v in rng.integers(1, 4, 2))
        p = tuple(int(rng.integers(0, k // 2 + 2)) for k in K)
        H, W = (int(v) for v in rng.integers(3, 8, 2))
        if any((i + 2 * pp - dd * (k - 1) - 1) // ss + 1 < 1 for i, pp, dd, k, ss in zip((H, W), p, d, K, s)):
            continue
        kw = dict(stride=s, padding=p, dilation=d, groups=groups)
        name = f"rand{len(out)}/k{K}s{s}p{p}d{d}g{groups}"
        out.append(conv_case(name, (1 + len(out) % 2, C, H, W), (O, C // groups, *K), bias=len(out) % 3 == 0, **kw))
    return out


def _random_conv_transposes(n: int, seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        groups = int(rng.choice([1, 2]))
        C, og = groups * int(rng.integers(1, 3)), int(rng.integers(1, 3))
        K = tuple(int(v) for v in rng.integers(1, 4, 2))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        d = tuple(int(v) for v in rng.integers(1, 3, 2))
        p = tuple(int(rng.integers(0, 2)) for _ in K)
        a = tuple(int(rng.integers(0, max(ss, dd))) for ss, dd in zip(s, d))
        H, W = (int(v) for v in rng.integers(2, 5, 2))
        if any(
            (i - 1) * ss - 2 * pp + dd * (k - 1) + aa + 1 < 1 for i, ss, pp, dd, k, aa in zip((H, W), s, p, d, K, a)
        ):
            continue
        kw = dict(stride=s, padding=p, output_padding=a, groups=groups, dilation=d)
        name = f"rand{len(out)}/k{K}s{s}p{p}a{a}d{d}g{groups}"
        out.append(conv_t_case(name, (1, C, H, W), (C, og, *K), bias=len(out) % 2 == 0, **kw))
    return out


CONV_CASES = [
    conv_case("basic", (2, 3, 5, 5), (2, 3, 3, 3), bias=True),
    conv_case("lenet-like-pad2", (1, 1, 6, 6), (2, 1, 5, 5), bias=True, padding=2),
    conv_case("stride2-pad1", (2, 2, 7, 7), (3, 2, 3, 3), stride=2, padding=1),
    conv_case("stride>kernel", (1, 2, 7, 6), (2, 2, 2, 2), stride=3),
    conv_case("dilation2", (1, 2, 7, 7), (2, 2, 3, 3), dilation=2, padding=2),
    conv_case("dilation3-nonsquare", (1, 2, 8, 7), (2, 2, 2, 3), dilation=(3, 2)),
    conv_case("groups2", (1, 4, 5, 5), (4, 2, 3, 3), bias=True, groups=2, padding=1),
    conv_case("depthwise", (2, 3, 5, 6), (3, 1, 3, 3), groups=3, padding=1),
    conv_case("depthwise-multiplier2", (1, 2, 5, 5), (4, 1, 3, 2), groups=2, stride=(1, 2)),
    conv_case("pointwise-1x1", (2, 4, 3, 3), (3, 4, 1, 1), bias=True),
    conv_case("same-odd", (1, 2, 5, 6), (2, 2, 3, 3), padding="same"),
    conv_case("same-even-asymmetric", (1, 2, 5, 6), (2, 2, 2, 4), padding="same", dilation=(1, 1)),
    conv_case("same-dilated", (1, 1, 6, 5), (2, 1, 3, 2), padding="same", dilation=(2, 3)),
    conv_case("valid", (1, 2, 5, 5), (1, 2, 3, 3), padding="valid"),
    conv_case("padding>kernel", (1, 1, 3, 4), (1, 1, 2, 2), padding=3),
    *_random_convs(10, seed=4),
    Case(
        "conv1d/stride2-pad1-dil2",
        lambda m, x, w, b: F(m).conv1d(x, w, b, stride=2, padding=1, dilation=2),
        [(2, 2, 9), (3, 2, 3), (3,)],
        ref=lambda x, w, b: oracle.conv1d(x, w, b, stride=2, padding=1, dilation=2),
    ),
    Case(
        "conv1d/groups-same",
        lambda m, x, w: F(m).conv1d(x, w, padding="same", groups=2),
        [(1, 4, 6), (2, 2, 4)],
        ref=lambda x, w: oracle.conv1d(x, w, padding="same", groups=2),
    ),
    Case(
        "conv2d/unbatched",
        lambda m, x, w: F(m).conv2d(x, w, padding=1),
        [(2, 4, 4), (3, 2, 3, 3)],
        ref=lambda x, w: oracle.conv2d(x[None], w, padding=1)[0],
    ),
]

CONV_T_CASES = [
    conv_t_case("basic", (2, 3, 3, 3), (3, 2, 3, 3), bias=True),
    conv_t_case("stride2-pad1-outpad1", (1, 2, 3, 4), (2, 3, 3, 3), stride=2, padding=1, output_padding=1),
    conv_t_case("stride3>kernel", (1, 2, 3, 3), (2, 1, 2, 2), stride=3),
    conv_t_case("dilation2-outpad1", (1, 2, 3, 3), (2, 2, 2, 3), dilation=2, output_padding=1),
    conv_t_case("groups2", (1, 4, 3, 3), (4, 1, 3, 3), bias=True, groups=2, stride=2),
    conv_t_case("depthwise", (1, 3, 3, 4), (3, 1, 3, 2), groups=3, stride=(2, 1), padding=(1, 0)),
    *_random_conv_transposes(6, seed=7),
    Case(
        "conv_transpose1d/stride2-outpad1",
        lambda m, x, w, b: F(m).conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
        [(2, 2, 4), (2, 3, 3), (3,)],
        ref=lambda x, w, b: oracle.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
    ),
]


def pool_case(name, shape, make=distinct, kind="max", **kw):
    ref = getattr(oracle, f"{kind}_pool2d")
    return Case(
        f"{kind}_pool2d/{name}",
        lambda m, x: getattr(F(m), f"{kind}_pool2d")(x, **kw),
        [shape],
        make,
        ref=lambda x: ref(x, **kw),
    )


POOL_CASES = [
    pool_case("k2", (2, 2, 6, 6), kernel_size=2),
    pool_case("k2-odd-size", (1, 2, 7, 5), kernel_size=2),
    pool_case("k3s2p1", (1, 2, 7, 7), kernel_size=3, stride=2, padding=1),
    pool_case("k3s2-ceil", (1, 2, 8, 6), kernel_size=3, stride=2, ceil_mode=True),
    pool_case("k2s3-stride>kernel", (1, 2, 8, 7), kernel_size=2, stride=3),
    pool_case("k3s1p1-overlap", (1, 1, 5, 5), kernel_size=3, stride=1, padding=1),
    pool_case("dilation2", (1, 2, 7, 8), kernel_size=(2, 3), stride=(1, 2), dilation=2, padding=(1, 1)),
    pool_case("dilation3-ceil", (1, 1, 9, 9), kernel_size=2, stride=2, dilation=3, ceil_mode=True, padding=1),
    pool_case("nonsquare", (1, 2, 7, 6), kernel_size=(3, 2), stride=(2, 1)),
    pool_case("k2", (2, 2, 6, 6), randn, "avg", kernel_size=2),
    pool_case("k3s2p1", (1, 2, 7, 7), randn, "avg", kernel_size=3, stride=2, padding=1),
    pool_case(
        "k3s2p1-exclude-pad", (1, 2, 7, 6), randn, "avg", kernel_size=3, stride=2, padding=1, count_include_pad=False
    ),
    pool_case("ceil", (1, 2, 8, 7), randn, "avg", kernel_size=3, stride=2, padding=1, ceil_mode=True),
    pool_case(
        "ceil-exclude-pad",
        (1, 1, 8, 7),
        randn,
        "avg",
        kernel_size=(3, 2),
        stride=2,
        padding=(1, 1),
        ceil_mode=True,
        count_include_pad=False,
    ),
    pool_case("divisor-override", (1, 2, 6, 5), randn, "avg", kernel_size=2, stride=1, divisor_override=3),
    pool_case("stride>kernel", (1, 2, 8, 7), randn, "avg", kernel_size=2, stride=3),
    Case(
        "max_pool1d/k3s2p1",
        lambda m, x: F(m).max_pool1d(x, 3, 2, 1),
        [(2, 2, 9)],
        distinct,
        ref=lambda x: oracle.max_pool1d(x, 3, 2, 1),
    ),
    Case(
        "avg_pool1d/k3s2p1-ceil",
        lambda m, x: F(m).avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        [(2, 2, 8)],
        ref=lambda x: oracle.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    ),
    Case(
        "max_pool2d/unbatched",
        lambda m, x: F(m).max_pool2d(x, 2),
        [(2, 4, 5)],
        distinct,
        ref=lambda x: oracle.max_pool2d(x[None], 2)[0],
    ),
]

ADAPTIVE_CASES = [
    *[
        Case(
            f"adaptive_avg_pool2d/{size}",
            lambda m, x, size=size: F(m).adaptive_avg_pool2d(x, size),
            [(2, 2, 7, 6)],
            ref=lambda x, size=size: oracle.adaptive_avg_pool2d(x, size),
        )
        for size in [(3, 4), (7, 3), 1, (2, 2), (5, 4)]
    ],
    *[
        Case(
            f"adaptive_max_pool2d/{size}",
            lambda m, x, size=size: F(m).adaptive_max_pool2d(x, size),
            [(2, 2, 7, 6)],
            distinct,
            ref=lambda x, size=size: oracle.adaptive_max_pool2d(x, size),
        )
        for size in [(3, 4), (7, 3), 1, (5, 4)]
    ],
]


def unpool_case(name, shape, kw, output_size=None):
    """Unpool the switches of a max-pool of distinct values (the oracle's), so each switch is unique."""
    y, idx = oracle.max_pool2d(distinct(np.random.default_rng(3), shape), return_indices=True, **kw)
    ukw = dict(kernel_size=kw["kernel_size"], stride=kw.get("stride"), padding=kw.get("padding", 0))

    def fn(m, x):
        return F(m).max_unpool2d(x, m.tensor(idx), output_size=output_size, **ukw)

    return Case(
        f"max_unpool2d/{name}",
        fn,
        [y.shape],
        ref=lambda x: oracle.max_unpool2d(x, idx, output_size=output_size, **ukw),
    )


UNPOOL_CASES = [
    unpool_case("k2", (2, 2, 6, 6), dict(kernel_size=2)),
    unpool_case("k3s3p1", (1, 2, 7, 7), dict(kernel_size=3, stride=3, padding=1)),
    unpool_case("k2s3", (1, 2, 7, 8), dict(kernel_size=2, stride=3)),
    unpool_case("output-size", (1, 2, 7, 7), dict(kernel_size=2), output_size=(7, 7)),
]


def interp_case(name, shape, **kw):
    return Case(
        f"interpolate/{name}",
        lambda m, x: F(m).interpolate(x, **kw),
        [shape],
        ref=lambda x: oracle.interpolate(x, **kw),
    )


INTERP_CASES = [
    interp_case("nearest-x2", (1, 2, 3, 4), scale_factor=2),
    interp_case("nearest-x3-x2", (1, 2, 3, 2), scale_factor=(3, 2)),
    interp_case("nearest-size", (1, 2, 4, 5), size=(7, 3)),
    interp_case("nearest-scale1.7", (1, 1, 4, 5), scale_factor=1.7),
    interp_case("nearest-exact", (1, 2, 4, 5), size=(6, 7), mode="nearest-exact"),
    interp_case("nearest-1d", (2, 2, 5), size=8),
    interp_case("bilinear", (1, 2, 4, 5), size=(7, 8), mode="bilinear"),
    interp_case("bilinear-align", (1, 2, 4, 5), size=(7, 3), mode="bilinear", align_corners=True),
    interp_case("bilinear-x2", (1, 2, 3, 4), scale_factor=2, mode="bilinear"),
    interp_case("bilinear-down", (1, 1, 7, 6), scale_factor=0.6, mode="bilinear"),
    interp_case("bicubic", (1, 2, 4, 5), size=(7, 6), mode="bicubic"),
    interp_case("bicubic-align", (1, 1, 4, 5), size=(6, 9), mode="bicubic", align_corners=True),
    interp_case("bicubic-x1.5", (1, 1, 4, 4), scale_factor=1.5, mode="bicubic"),
    interp_case("bicubic-down", (1, 1, 7, 6), size=(3, 4), mode="bicubic"),
    interp_case("linear-1d", (2, 2, 5), size=9, mode="linear"),
    interp_case("linear-1d-align", (1, 2, 5), scale_factor=1.6, mode="linear", align_corners=True),
]

PAD_CASES = [
    Case(
        f"pad_nd/{mode}",
        lambda m, x, mode=mode: pad_fn(m)(x, (2, 1, 1, 2), mode=mode),
        [(1, 2, 4, 5)],
        ref=lambda x, mode=mode: oracle.pad(x, (2, 1, 1, 2), mode),
    )
    for mode in ("reflect", "replicate", "circular")
] + [
    Case(
        "pad_nd/circular-full",
        lambda m, x: pad_fn(m)(x, (3, 3), mode="circular"),
        [(1, 2, 3)],
        ref=lambda x: oracle.pad(x, (3, 3), "circular"),
    ),
    Case(
        "pad_nd/reflect-1d",
        lambda m, x: pad_fn(m)(x, (3, 1), mode="reflect"),
        [(2, 1, 5)],
        ref=lambda x: oracle.pad(x, (3, 1), "reflect"),
    ),
]

CASES = CONV_CASES + CONV_T_CASES + POOL_CASES + ADAPTIVE_CASES + UNPOOL_CASES + INTERP_CASES + PAD_CASES
ids = [c.name for c in CASES]


# ---------------------------------------------------------------------------------------------
# The five checks


def _inputs(case, arrays, dtype):
    return [toynn.tensor(a.astype(dtype), requires_grad=g) for a, g in zip(arrays, case.needs_grad())]


def _rel_err(a, b):
    a, b = host(a).astype(np.float64), host(b).astype(np.float64)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30) if a.size else 0.0


@pytest.fixture(params=["wide", "narrow"])
def rows(request, monkeypatch):
    """Every stride-1 conv built with wide rows (when they would at most double), or every conv with narrow rows."""
    import toynn.conv.gemm as gemm

    monkeypatch.setattr(gemm, "WIDE_MIN_ROWS", 0 if request.param == "wide" else 1 << 30)
    return request.param


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_forward_matches_oracle(case, rng, rows):
    arrays = case.inputs(rng)
    out = case.fn(toynn, *_inputs(case, arrays, np.float64))
    expected = case.ref(*arrays)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.array, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_gradcheck(case, rng, rows):
    inputs = _inputs(case, case.inputs(rng), np.float64)
    assert gradcheck(lambda *xs: case.fn(toynn, *xs), inputs)


@pytest.mark.parametrize("case", CASES, ids=ids)
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_matches_torch(case, dtype, tol, rng, torch, rows):
    arrays = [a.astype(dtype) for a in case.inputs(rng)]
    ours = _inputs(case, arrays, dtype)
    theirs = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, case.needs_grad())]
    out, ref = case.fn(toynn, *ours), case.fn(torch, *theirs)
    assert tuple(out.shape) == tuple(ref.shape)
    assert out.dtype == dtype
    assert _rel_err(out.array, ref.detach().numpy()) < tol
    cot = np.random.default_rng(1).standard_normal(ref.shape).astype(dtype)
    out.backward(cot)
    ref.backward(torch.tensor(cot))
    for i, (x, t) in enumerate(zip(ours, theirs)):
        assert x.grad.dtype == dtype
        assert _rel_err(x.grad.array, t.grad.numpy()) < tol, f"gradient of input {i}"


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_jvp_matches_finite_differences(case, rng):
    arrays = case.inputs(rng)
    inputs = [toynn.tensor(a) for a in arrays]
    tangents = [rng.standard_normal(a.shape) for a in arrays]
    _, dout = jvp(lambda *xs: case.fn(toynn, *xs), inputs, [like(t, x) for t, x in zip(tangents, inputs)])
    jac = numerical_jacobian(lambda *xs: case.fn(toynn, *xs), inputs)[0]
    expected = sum(j @ t.ravel() for j, t in zip(jac, tangents))
    np.testing.assert_allclose(host(dout).ravel(), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_jvp_vjp_dot_product(case, rng):
    """<J u, v> == <u, J^T v>: forward and reverse mode are transposes of one linear map."""
    arrays = case.inputs(rng)
    us = [rng.standard_normal(a.shape) for a in arrays]
    primals = [toynn.tensor(a) for a in arrays]
    _, ju = jvp(lambda *xs: case.fn(toynn, *xs), primals, [like(u, x) for u, x in zip(us, primals)])
    inputs = _inputs(case, arrays, np.float64)
    out = case.fn(toynn, *inputs)
    v = rng.standard_normal(out.shape)
    out.backward(v)
    lhs = float((host(ju) * v).sum())
    rhs = sum(float((host(x.grad) * u).sum()) for x, u in zip(inputs, us))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Convolution's behaviour


def test_conv_transpose_is_the_adjoint_of_conv(rng):
    """<conv(x, w), y> == <x, conv_transpose(y, w)> for the same weight (the lecture's C and C^T)."""
    for kw in [dict(stride=2, padding=1), dict(stride=3, dilation=2), dict(groups=2, padding=2, dilation=(1, 2))]:
        x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2 if "groups" in kw else 4, 3, 3))
        y = host(tc.conv2d(toynn.tensor(x), toynn.tensor(w), **kw))
        v = rng.standard_normal(y.shape)
        out_pad = tuple(
            (n + 2 * kw.get("padding", 0) - (k - 1) * d - 1) % s
            for n, k, d, s in zip(
                x.shape[2:],
                w.shape[2:],
                np.broadcast_to(kw.get("dilation", 1), 2),
                np.broadcast_to(kw.get("stride", 1), 2),
            )
        )
        back = host(tc.conv_transpose2d(toynn.tensor(v), toynn.tensor(w), output_padding=out_pad, **kw))
        assert back.shape == x.shape
        assert float((y * v).sum()) == pytest.approx(float((x * back).sum()), rel=1e-12)


@pytest.mark.parametrize("chunk", [1, 3000, 1 << 30])
def test_chunked_columns_give_the_same_result(chunk, rng, torch, monkeypatch, rows):
    """im2col runs a few images at a time; any chunk size (1 image, several, all) gives the same answer."""
    import toynn.conv.gemm as gemm

    monkeypatch.setattr(gemm, "CHUNK_BYTES", chunk)
    F_ = torch.nn.functional
    configs = [  # (x shape, w shape, geometry): narrow and wide rows (stride 1), groups, dilation, col2im
        ((5, 4, 7, 6), (6, 2, 3, 3), dict(padding=1, groups=2)),
        ((5, 4, 7, 6), (6, 4, 3, 3), dict(stride=2, padding=1, dilation=2)),
        ((5, 4, 9, 17), (3, 4, 3, 3), dict(padding=1, dilation=(2, 1))),
    ]
    for x_shape, w_shape, kw in configs:
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        a, b = toynn.tensor(x, requires_grad=True), toynn.tensor(w, requires_grad=True)
        ta, tb = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
        y, ty = tc.conv2d(a, b, **kw), F_.conv2d(ta, tb, **kw)
        g = rng.standard_normal(ty.shape)
        y.backward(g)
        ty.backward(torch.tensor(g))
        for ours, theirs in [(y.array, ty.detach()), (a.grad.array, ta.grad), (b.grad.array, tb.grad)]:
            np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-12)
        u = rng.standard_normal((5, w_shape[0], 3, 3))
        np.testing.assert_allclose(
            tc.conv_transpose2d(toynn.tensor(u), toynn.tensor(w[:, :2]), stride=2).array,
            F_.conv_transpose2d(torch.tensor(u), torch.tensor(w[:, :2]), stride=2).numpy(),
            rtol=1e-10,
            atol=1e-12,
        )


def test_channels_first_output_chains_through_elementwise_ops(rng, torch):
    """conv returns a view of channels-first memory; relu, bias, pool and a second conv take it as it is."""
    x, w1, b1, w2 = (rng.standard_normal(s) for s in [(3, 2, 8, 8), (4, 2, 3, 3), (4,), (5, 4, 3, 3)])
    ours = [toynn.tensor(a, requires_grad=True) for a in (x, w1, b1, w2)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w1, b1, w2)]

    def net(m, x, w1, b1, w2):
        h = F(m).max_pool2d(F(m).conv2d(x, w1, b1, padding=1).relu(), 2)
        return F(m).conv2d(h, w2, padding=1).flatten(1)

    y, ty = net(toynn, *ours), net(torch, *theirs)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = rng.standard_normal(ty.shape)
    y.backward(g)
    ty.backward(torch.tensor(g))
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.array, t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_weight_only_and_input_only_gradients(rng):
    """needs_input_grad: a frozen input or a frozen weight gets no gradient and costs nothing."""
    x, w = toynn.tensor(rng.standard_normal((2, 3, 5, 5))), toynn.tensor(rng.standard_normal((4, 3, 3, 3)))
    w.requires_grad_()
    tc.conv2d(x, w, padding=1).sum().backward()
    assert x.grad is None and w.grad.shape == w.shape
    x2, w2 = toynn.tensor(x.array, requires_grad=True), toynn.tensor(w.array)
    tc.conv_transpose2d(x2[:, :, :3, :3].reshape(2, 3, 3, 3), w2[:3], stride=2).sum().backward()
    assert x2.grad.shape == x2.shape and w2.grad is None


def test_float32_stays_float32(rng):
    x = toynn.tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    w = toynn.tensor(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), requires_grad=True)
    y = tc.conv2d(x, w, toynn.zeros(4), stride=2)
    y.sum().backward()
    assert y.dtype == x.grad.dtype == w.grad.dtype == np.float32


def test_lecture_4x4_input_3x3_kernel_gives_2x2():
    x, w = toynn.ones(1, 1, 4, 4), toynn.ones(1, 1, 3, 3)
    y = tc.conv2d(x, w)
    assert y.shape == (1, 1, 2, 2)
    assert (y.array == 9).all()
    assert tc.output_size("conv", 4, 3) == 2


# ---------------------------------------------------------------------------------------------
# Padding modes and nn.Conv2d's padding_mode


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_mode_then_conv_matches_torch_conv_layer(mode, rng, torch):
    """nn.Conv2d(padding_mode=mode) is pad_nd with that mode, then a conv with padding 0."""
    layer = torch.nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode).double()
    x = rng.standard_normal((2, 2, 5, 6))
    ours = tc.conv2d(
        tc.pad_nd(toynn.tensor(x), (2, 2, 1, 1), mode),
        toynn.tensor(layer.weight.detach().numpy()),
        toynn.tensor(layer.bias.detach().numpy()),
    )
    np.testing.assert_allclose(ours.array, layer(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-12)


def test_pad_nd_constant_is_ops_pad():
    x = toynn.ones(1, 2, 2)
    np.testing.assert_array_equal(tc.pad_nd(x, (1, 0), "zeros").array, [[[0, 1, 1], [0, 1, 1]]])
    np.testing.assert_array_equal(tc.pad_nd(x, (0, 1), value=5).array[0, :, -1], [5, 5])


# ---------------------------------------------------------------------------------------------
# Shape arithmetic (Dumoulin & Visin)


@pytest.mark.parametrize(
    "args,expected",
    [
        (("conv", 5, 3), 3),  # no padding, unit stride: o = i - k + 1
        (("conv", 5, 4, 1, 2), 6),  # padding: o = i - k + 2p + 1
        (("conv", 5, 3, 1, "same"), 5),  # half padding
        (("conv", 5, 3, 1, 2), 7),  # full padding: o = i + k - 1
        (("conv", 5, 3, 2), 2),  # strides: floor((i - k) / s) + 1
        (("conv", 5, 3, 2, 1), 3),
        (("conv", 6, 3, 2, 1), 3),
        (("conv", 7, 3, 1, 0, 2), 3),  # dilation: k' = k + (k - 1)(d - 1)
        (("conv_transpose", 3, 3), 5),  # the transpose of the first: o' = i' + k - 1
        (("conv_transpose", 3, 3, 2, 1, 1, 1), 6),  # o' = s(i' - 1) + a + k - 2p
        (("conv_transpose", 2, 3, 2), 5),
        (("pool", 7, 3, 2, 0, 1, 0, True), 3),
        (("pool", 8, 3, 2, 0, 1, 0, True), 4),
        (("pool", 5, 2, 2, 1, 1, 0, True), 3),  # the last window must start inside: 4 would start in the pad
        (("conv", (28, 28), (5, 5), 1, 2), (28, 28)),  # LeNet's first layer keeps 28x28
        (("pool", (28, 14), 2), (14, 7)),
    ],
)
def test_output_size(args, expected):
    assert tc.output_size(*args) == expected


def test_output_size_agrees_with_every_op(rng):
    x = toynn.tensor(rng.standard_normal((1, 1, 9, 8)))
    for k, s, p, d in [(3, 2, 1, 1), (2, 3, 0, 2), (4, 1, 2, 1)]:
        w = toynn.ones(1, 1, k, k, dtype=toynn.float64)
        y = tc.conv2d(x, w, stride=s, padding=p, dilation=d)
        assert y.shape[2:] == tc.output_size("conv", (9, 8), k, s, p, d)
        z = tc.conv_transpose2d(y, w, stride=s, padding=p, dilation=d)
        assert z.shape[2:] == tc.output_size("conv_transpose", y.shape[2:], k, s, p, d)
        if p <= (d * (k - 1) + 1) // 2:
            m = tc.max_pool2d(x, k, s, p, d, ceil_mode=True)
            assert m.shape[2:] == tc.output_size("pool", (9, 8), k, s, p, d, ceil_mode=True)


# ---------------------------------------------------------------------------------------------
# The lecture: separable kernels and the convolution matrix


def test_sobel_factorises_exactly_into_integer_vectors():
    sobel = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    col, row, residual, exact = tc.separate(sobel)
    np.testing.assert_array_equal(col, [1, 2, 1])
    np.testing.assert_array_equal(row, [-1, 0, 1])
    assert exact and not residual.any()
    col_t, row_t, _, _ = tc.separate(np.array(sobel).T)  # the vertical Sobel swaps the roles
    np.testing.assert_array_equal(col_t, [-1, 0, 1])
    np.testing.assert_array_equal(row_t, [1, 2, 1])


def test_separable_conv_equals_two_1d_convs(rng):
    """k x k conv with a rank-1 kernel == (k x 1 conv) then (1 x k conv): the spatially separable layer."""
    col, row, _, _ = tc.separate([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])
    x = toynn.tensor(rng.standard_normal((2, 1, 7, 6)))
    full = tc.conv2d(x, toynn.tensor(np.outer(col, row)[None, None]), padding=1)
    two = tc.conv2d(
        tc.conv2d(x, toynn.tensor(col.reshape(1, 1, 3, 1)), padding=(1, 0)),
        toynn.tensor(row.reshape(1, 1, 1, 3)),
        padding=(0, 1),
    )
    np.testing.assert_allclose(full.array, two.array, rtol=1e-12, atol=1e-12)


def test_separate_gives_the_best_rank_one_pair_and_its_residual(rng):
    k = rng.standard_normal((3, 4))
    col, row, residual, exact = tc.separate(toynn.tensor(k))
    assert not exact
    np.testing.assert_allclose(np.outer(col, row) + residual, k, rtol=1e-12, atol=1e-12)
    s = np.linalg.svd(k, compute_uv=False)
    assert np.linalg.norm(residual) == pytest.approx(np.sqrt((s[1:] ** 2).sum()), rel=1e-10)  # Eckart-Young


def test_lecture_4x9_convolution_matrix():
    """A 2x2 kernel on a 3x3 input: 4 outputs, each row of C holds the kernel where its window lies."""
    w00, w01, w10, w11 = 2.0, 3.0, 5.0, 7.0
    c = tc.conv_matrix([[w00, w01], [w10, w11]], 3)
    expected = np.array(
        [
            [w00, w01, 0, w10, w11, 0, 0, 0, 0],
            [0, w00, w01, 0, w10, w11, 0, 0, 0],
            [0, 0, 0, w00, w01, 0, w10, w11, 0],
            [0, 0, 0, 0, w00, w01, 0, w10, w11],
        ]
    )
    print("\nC =\n", c)
    np.testing.assert_array_equal(c, expected)
    x, kernel = np.arange(9.0), np.array([[w00, w01], [w10, w11]])
    y = tc.conv2d(toynn.tensor(x.reshape(1, 1, 3, 3)), toynn.tensor(kernel[None, None]))
    np.testing.assert_array_equal(c @ x, y.array.ravel())


@pytest.mark.parametrize(
    "size,k,kw",
    [
        ((5, 5), (3, 3), dict()),
        ((6, 5), (3, 2), dict(stride=2, padding=1)),
        ((7, 7), (2, 3), dict(stride=(2, 3), dilation=2, padding=(1, 2))),
        ((4, 6), (3, 3), dict(stride=3, padding=1)),
    ],
)
def test_conv_matrix_is_conv_and_its_transpose_is_conv_transpose(size, k, kw, rng):
    kernel = rng.standard_normal(k)
    c = tc.conv_matrix(kernel, size, **kw)
    x = rng.standard_normal(size)
    y = tc.conv2d(toynn.tensor(x[None, None]), toynn.tensor(kernel[None, None]), **kw)
    np.testing.assert_allclose(c @ x.ravel(), y.array.ravel(), rtol=1e-12, atol=1e-12)
    v = rng.standard_normal(y.shape[2:])
    s, p, d = (np.broadcast_to(kw.get(a, b), 2) for a, b in [("stride", 1), ("padding", 0), ("dilation", 1)])
    a = tuple(
        int(n - tc.output_size("conv_transpose", o, kk, ss, pp, dd))
        for n, o, kk, ss, pp, dd in zip(size, y.shape[2:], k, s, p, d)
    )
    t = tc.conv_transpose2d(toynn.tensor(v[None, None]), toynn.tensor(kernel[None, None]), output_padding=a, **kw)
    np.testing.assert_allclose(c.T @ v.ravel(), t.array.ravel(), rtol=1e-12, atol=1e-12)


def test_conv_matrix_sparse_matches_dense(rng):
    pytest.importorskip("scipy")
    kernel = rng.standard_normal((3, 3))
    dense = tc.conv_matrix(kernel, (6, 7), stride=2, padding=1)
    sparse = tc.conv_matrix(kernel, (6, 7), stride=2, padding=1, sparse=True)
    assert sparse.format == "csr"
    np.testing.assert_array_equal(sparse.toarray(), dense)
    big = tc.conv_matrix(kernel, (64, 64))  # sparse=None: large matrices are sparse when SciPy is there
    assert big.shape == (62 * 62, 64 * 64) and big.nnz == 62 * 62 * 9


# ---------------------------------------------------------------------------------------------
# Errors: the op, the argument, what was expected and what was got


def _t(*shape):
    return toynn.zeros(*shape)


@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda: tc.conv2d(_t(64, 1, 28, 28), _t(6, 3, 5, 5)),
            r"conv2d: x has 1 channel \(x.shape=\(64, 1, 28, 28\)\) but weight \(6, 3, 5, 5\) with groups=1 expects 3",
        ),
        (
            lambda: tc.conv2d(_t(1, 4, 8, 8), _t(6, 2, 3, 3), groups=3),
            r"conv2d: groups=3 must divide the input channels 4",
        ),
        (lambda: tc.conv2d(_t(1, 4, 8, 8), _t(3, 2, 3, 3), groups=2), r"groups=2 must divide the output channels 3"),
        (
            lambda: tc.conv2d(_t(1, 1, 4, 4), _t(1, 1, 5, 5)),
            r"conv2d: output would be empty: input 4x4, padding \(0, 0\), dilated kernel 5x5, stride \(1, 1\)",
        ),
        (
            lambda: tc.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), dilation=3),
            r"output would be empty: input 5x5, padding \(0, 0\), dilated kernel 7x7",
        ),
        (lambda: tc.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), _t(2)), r"conv2d: bias must have shape \(1,\)"),
        (lambda: tc.conv2d(_t(1, 5, 5), _t(1, 1, 3)), r"conv2d: weight must be 4-D"),
        (lambda: tc.conv2d(_t(5, 5), _t(1, 1, 3, 3)), r"conv2d: input must be 3-D or 4-D"),
        (lambda: tc.conv1d(_t(1, 2, 5), _t(1, 3, 3)), r"conv1d: x has 2 channels .* expects 3"),
        (lambda: tc.conv_transpose2d(_t(1, 2, 3, 3), _t(3, 1, 3, 3)), r"conv_transpose2d: x has 2 channels"),
        (
            lambda: tc.conv_transpose2d(_t(1, 2, 3, 3), _t(2, 1, 3, 3), stride=2, output_padding=2),
            r"conv_transpose2d: output_padding \(2, 2\) must be smaller than either stride \(2, 2\) "
            r"or dilation \(1, 1\)",
        ),
        (
            lambda: tc.conv_transpose2d(_t(1, 2, 1, 1), _t(2, 1, 1, 1), padding=1),
            r"conv_transpose2d: output would be empty",
        ),
        (lambda: tc.max_pool2d(_t(1, 1, 2, 2), 3), r"max_pool2d: output would be empty: input 2x2"),
        (lambda: tc.max_pool2d(_t(1, 1, 8, 8), 3, padding=2), r"max_pool2d: padding should be at most half"),
        (lambda: tc.avg_pool2d(_t(8, 8), 2), r"avg_pool2d: input must be 3-D or 4-D"),
        (
            lambda: tc.max_unpool2d(_t(1, 1, 2, 2), toynn.zeros(1, 1, 3, 3, dtype=toynn.int64), 2),
            r"max_unpool2d: indices shape \(1, 1, 3, 3\) must equal input shape \(1, 1, 2, 2\)",
        ),
        (
            lambda: tc.max_unpool2d(_t(1, 1, 2, 2), toynn.full((1, 1, 2, 2), 16, dtype=toynn.int64), 2),
            r"max_unpool2d: index 16 is out of range for output 4x4",
        ),
        (lambda: tc.interpolate(_t(1, 1, 4, 4), size=(8, 8), mode="linear"), r"interpolate: got 4D input, but linear"),
        (lambda: tc.pad_nd(_t(1, 1, 3, 3), (3, 3), "reflect"), r"pad_nd: reflect padding \(3, 3\) of dimension 3"),
    ],
)
def test_shape_errors_name_the_op_and_the_numbers(call, match):
    with pytest.raises(ShapeError, match=match):
        call()


@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda: tc.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), padding="same", stride=2),
            r"padding='same' is not supported for strided convolutions",
        ),
        (lambda: tc.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), padding="full"), r"padding must be an int, a tuple"),
        (lambda: tc.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), stride=0), r"conv2d: stride must be positive"),
        (lambda: tc.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), stride=(1, 2, 3)), r"stride must be an int or a tuple of 2"),
        (
            lambda: tc.max_unpool2d(_t(1, 1, 2, 2), toynn.zeros(1, 1, 2, 2, dtype=toynn.int64), 2, output_size=(7, 7)),
            r"max_unpool2d: invalid output_size \(7, 7\): dim 0 must be between 3 and 5",
        ),
        (lambda: tc.interpolate(_t(1, 1, 4, 4)), r"exactly one of size and scale_factor"),
        (
            lambda: tc.interpolate(_t(1, 1, 4, 4), size=2, align_corners=True),
            r"align_corners can only be set with the interpolating modes",
        ),
    ],
)
def test_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_dtype_mismatch_is_a_type_error():
    with pytest.raises(TypeError, match=re.escape("conv2d: weight is float64 but input is float32")):
        tc.conv2d(toynn.zeros(1, 1, 3, 3), toynn.zeros(1, 1, 2, 2, dtype=toynn.float64))
