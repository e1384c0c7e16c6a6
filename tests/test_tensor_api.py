"""PyTorch's tensor API beyond the op table (issue 15, item 3): the ops without a gradient (tests, comparisons,
indices, counts) against NumPy and PyTorch, the creation functions and toynn.Generator, the NumPy-style
keywords, the in-place forms, and the error messages. The differentiable ops are in tests/cases.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

import toynn
from toynn.autodiff import gradcheck
from toynn.errors import ShapeError

from .devices import host

SPECIAL = np.array([[1.5, -np.inf, np.nan, 0.0], [-0.0, np.inf, -2.0, 3.0]])


def t(a, **kw):
    return toynn.tensor(np.asarray(a), **kw)


def assert_matches_torch(ours, theirs):
    """Same shape, dtype kind and values (nan where nan) as PyTorch's result."""
    theirs = theirs.detach().numpy()
    got = host(ours)
    assert got.shape == theirs.shape
    assert got.dtype.kind == theirs.dtype.kind, (got.dtype, theirs.dtype)
    np.testing.assert_allclose(got.astype(np.float64), theirs.astype(np.float64), rtol=1e-6, equal_nan=True)


# ---------------------------------------------------------------------------------------------
# Tests of values: bool results, on the input's device


@pytest.mark.parametrize(
    "name,ref",
    [
        ("isnan", np.isnan),
        ("isinf", np.isinf),
        ("isposinf", np.isposinf),
        ("isneginf", np.isneginf),
        ("isfinite", np.isfinite),
        ("isreal", np.isreal),
        ("signbit", np.signbit),
    ],
)
def test_value_tests_match_numpy_as_function_and_method(name, ref, device):
    x = t(SPECIAL)
    for out in (getattr(toynn, name)(x), getattr(x, name)()):
        assert out.dtype == np.bool_ and out.device == device
        np.testing.assert_array_equal(host(out), ref(SPECIAL))


def test_value_tests_accept_numpy_arrays_and_lists():
    np.testing.assert_array_equal(host(toynn.isnan([1.0, float("nan")])), [False, True])
    np.testing.assert_array_equal(host(toynn.isfinite(SPECIAL)), np.isfinite(SPECIAL))


def test_comparison_functions_and_their_aliases(rng, torch):
    a, b = rng.integers(0, 3, (3, 4)), rng.integers(0, 3, (4,))
    for name in ("eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal"):
        assert_matches_torch(getattr(toynn, name)(t(a), t(b)), getattr(torch, name)(torch.tensor(a), torch.tensor(b)))
        assert_matches_torch(getattr(t(a), name)(t(b)), getattr(torch.tensor(a), name)(torch.tensor(b)))


def test_equal_allclose_isclose(torch):
    a = np.array([1.0, 2.0, np.nan])
    b = a + np.array([1e-9, 1e-3, 0.0])
    assert toynn.equal(t(a[:2]), t(a[:2])) and not toynn.equal(t(a[:2]), t(a[:1]))
    assert not toynn.equal(t(a[:2]), t(b[:2]))
    assert toynn.allclose(t(a[:1]), t(b[:1])) and not toynn.allclose(t(a), t(b))
    assert toynn.allclose(t(a[[0, 2]]), t(b[[0, 2]]), equal_nan=True)
    assert_matches_torch(
        toynn.isclose(t(a), t(b), atol=1e-2), torch.isclose(torch.tensor(a), torch.tensor(b), atol=1e-2)
    )
    assert t(a).isclose(t(b), equal_nan=True).tolist() == [True, False, True]


def test_isin(torch):
    a, b = np.array([[1, 2], [3, 4]]), np.array([2, 4, 9])
    assert_matches_torch(toynn.isin(t(a), t(b)), torch.isin(torch.tensor(a), torch.tensor(b)))
    assert_matches_torch(toynn.isin(t(a), t(b), invert=True), torch.isin(torch.tensor(a), torch.tensor(b), invert=True))


# ---------------------------------------------------------------------------------------------
# Reductions without a gradient, and the NumPy-style keywords


@pytest.mark.parametrize("name", ["all", "any"])
def test_all_any_match_numpy_and_torch(name, torch):
    a = np.array([[1.0, 0.0, 2.0], [3.0, 4.0, 5.0]])
    x, ref = t(a), torch.tensor(a)
    assert_matches_torch(getattr(toynn, name)(x), getattr(torch, name)(ref))
    assert_matches_torch(getattr(toynn, name)(x, dim=1), getattr(torch, name)(ref, dim=1))
    assert_matches_torch(getattr(x, name)(0, keepdim=True), getattr(ref, name)(0, keepdim=True))
    assert_matches_torch(
        getattr(toynn, name)(x, axis=1, keepdims=True), getattr(torch, name)(ref, axis=1, keepdims=True)
    )
    np.testing.assert_array_equal(host(getattr(toynn, name)(x, 1)), getattr(np, name)(a != 0, axis=1))


def test_count_nonzero(torch):
    a = np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 5.0]])
    assert_matches_torch(toynn.count_nonzero(t(a)), torch.count_nonzero(torch.tensor(a)))
    assert_matches_torch(t(a).count_nonzero(0), torch.count_nonzero(torch.tensor(a), 0))


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: m.sum(x, axis=1, keepdims=True),
        lambda m, x: m.mean(x, axis=0),
        lambda m, x: m.std(x, axis=1),
        lambda m, x: m.var(x, axis=0, keepdims=True),
        lambda m, x: m.amax(x, axis=1),
        lambda m, x: m.amin(x, axis=0, keepdims=True),
        lambda m, x: m.argmax(x, axis=1),
        lambda m, x: m.argmin(x, axis=1, keepdims=True),
        lambda m, x: m.max(x, axis=1).values,
        lambda m, x: m.min(x, axis=0, keepdims=True).indices,
        lambda m, x: m.logsumexp(x, axis=1),
        lambda m, x: m.prod(x, axis=1, keepdims=True),
        lambda m, x: m.norm(x, dim=1, keepdim=True),
        lambda m, x: x.sum(axis=0, keepdims=True),
        lambda m, x: x.mean(axis=1, keepdims=True),
        lambda m, x: x.max(axis=0).values,
        lambda m, x: x.cumsum(axis=1),
        lambda m, x: m.sum(x, dtype=m.float64),
    ],
)
def test_numpy_style_keywords_axis_and_keepdims_match_torch(call, rng, torch):
    a = rng.standard_normal((3, 4)).astype(np.float32)
    assert_matches_torch(call(toynn, t(a)), call(torch, torch.tensor(a)))


def test_dim_and_its_alias_axis_together_are_refused():
    with pytest.raises(TypeError, match="sum: got both dim=0 and its alias axis=1"):
        toynn.sum(t(np.ones((2, 2))), 0, axis=1)


def test_integer_reductions_give_int64_as_torch(torch):
    a = np.array([[1, 2], [3, 4]], dtype=np.int32)
    for name in ("prod", "cumsum", "cumprod"):
        ours, theirs = getattr(toynn, name)(t(a), 1), getattr(torch, name)(torch.tensor(a), 1)
        assert ours.dtype == np.int64 and str(theirs.dtype) == "torch.int64"
        assert_matches_torch(ours, theirs)


def test_prod_and_cumprod_gradients_are_exact_with_zeros(torch):
    a = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0]])
    for fn in (lambda m, x: m.prod(x, 1), lambda m, x: m.cumprod(x, 1), lambda m, x: m.prod(x)):
        x, ref = t(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        fn(toynn, x).sum().backward()
        fn(torch, ref).sum().backward()
        assert_matches_torch(x.grad, ref.grad)


# ---------------------------------------------------------------------------------------------
# Sorting and selecting: indices (and values on ties) as PyTorch's


def test_argsort_is_stable_both_ways(torch):
    a = np.array([[3, 1, 3, 2, 1], [0, 0, 0, 1, 1]])
    for desc in (False, True):
        ours = toynn.argsort(t(a), dim=1, descending=desc)
        theirs = torch.argsort(torch.tensor(a), dim=1, descending=desc, stable=True)
        assert_matches_torch(ours, theirs)
    np.testing.assert_array_equal(host(toynn.argsort(t(a))), np.argsort(a, kind="stable"))


def test_sort_topk_kthvalue_msort_indices_match_torch(rng, torch):
    a = rng.permutation(12).reshape(3, 4).astype(np.float64)
    x, ref = t(a), torch.tensor(a)
    for ours, theirs in [
        (toynn.sort(x, 0), torch.sort(ref, 0)),
        (x.sort(descending=True), ref.sort(descending=True)),
        (toynn.topk(x, 3), torch.topk(ref, 3)),
        (x.topk(2, 0, largest=False), ref.topk(2, 0, largest=False)),
        (toynn.kthvalue(x, 2, 0, keepdim=True), torch.kthvalue(ref, 2, 0, keepdim=True)),
        (toynn.median(x, 1), torch.median(ref, 1)),
        (x.cummax(1), ref.cummax(1)),
        (toynn.cummin(x, 0), torch.cummin(ref, 0)),
    ]:
        assert_matches_torch(ours.values, theirs.values)
        assert_matches_torch(ours.indices, theirs.indices)
    assert_matches_torch(toynn.msort(x), torch.msort(ref))


def test_cummax_takes_the_latest_index_on_ties_as_torch(torch):
    a = np.array([1.0, 3.0, 3.0, 2.0, 3.0, 1.0, 1.0])
    for name in ("cummax", "cummin"):
        ours, theirs = getattr(toynn, name)(t(a), 0), getattr(torch, name)(torch.tensor(a), 0)
        assert_matches_torch(ours.indices, theirs.indices)


def test_median_mode_and_nan_handling_match_torch(torch):
    a = np.array([[1.0, np.nan, 3.0, 2.0], [4.0, 1.0, 2.0, 3.0], [2.0, 2.0, 1.0, 1.0]])
    x, ref = t(a), torch.tensor(a)
    assert_matches_torch(toynn.median(x, 1).values, torch.median(ref, 1).values)  # nan where the row has one
    assert_matches_torch(toynn.nanmedian(x, 1).values, torch.nanmedian(ref, 1).values)
    assert_matches_torch(toynn.median(x[1:]), torch.median(ref[1:]))  # the lower of the two middle values
    ints = np.array([[1, 2, 2, 1], [3, 3, 1, 1], [5, 4, 4, 5]])
    ours, theirs = toynn.mode(t(ints), 1), torch.mode(torch.tensor(ints), 1)
    assert_matches_torch(ours.values, theirs.values)  # the smallest of the most frequent
    assert_matches_torch(ours.indices, theirs.indices)  # its last position


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_interpolations_and_nan(interpolation, torch):
    a = np.array([[1.0, 5.0, 2.0, 8.0, 3.0], [np.nan, 1.0, 2.0, 3.0, 4.0]])
    q = np.array([0.1, 0.5, 0.85])
    for name in ("quantile", "nanquantile"):
        ours = getattr(toynn, name)(t(a), t(q), dim=1, interpolation=interpolation)
        theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(q), dim=1, interpolation=interpolation)
        assert_matches_torch(ours, theirs)


def test_unique_and_unique_consecutive_match_torch(torch):
    a = np.array([[3, 1, 2], [1, 3, 3]])
    for ours, theirs in [
        (toynn.unique(t(a), return_inverse=True, return_counts=True),
         torch.unique(torch.tensor(a), return_inverse=True, return_counts=True)),
        (t(a).unique(dim=1, return_counts=True), torch.tensor(a).unique(dim=1, return_counts=True)),
        (toynn.unique_consecutive(t([1, 1, 2, 2, 3, 1]), return_inverse=True, return_counts=True),
         torch.unique_consecutive(torch.tensor([1, 1, 2, 2, 3, 1]), return_inverse=True, return_counts=True)),
    ]:  # fmt: skip
        for o, r in zip(ours, theirs):
            assert_matches_torch(o, r)
    assert_matches_torch(toynn.unique(t(a)), torch.unique(torch.tensor(a)))


def test_bincount_histc_histogram_searchsorted_bucketize(torch):
    x = np.array([0, 1, 1, 3])
    w = np.array([0.5, 0.5, 1.0, 2.0], dtype=np.float32)
    assert_matches_torch(toynn.bincount(t(x), minlength=6), torch.bincount(torch.tensor(x), minlength=6))
    assert_matches_torch(t(x).bincount(t(w)), torch.tensor(x).bincount(torch.tensor(w)))
    v = np.array([1.0, 2.0, 1.0, 5.0, -1.0], dtype=np.float32)
    assert_matches_torch(toynn.histc(t(v), bins=4, min=0, max=3), torch.histc(torch.tensor(v), bins=4, min=0, max=3))
    assert_matches_torch(t(v).histc(bins=3), torch.tensor(v).histc(bins=3))
    for o, r in zip(toynn.histogram(t(v), 4), torch.histogram(torch.tensor(v), 4)):
        assert_matches_torch(o, r)
    s, q = np.array([[1.0, 3, 5, 7], [2, 4, 6, 8]]), np.array([[3.0, 6], [4, 9]])
    for right in (False, True):
        assert_matches_torch(
            toynn.searchsorted(t(s), t(q), right=right),
            torch.searchsorted(torch.tensor(s), torch.tensor(q), right=right),
        )
        assert_matches_torch(
            toynn.bucketize(t(q), t(s[0]), right=right),
            torch.bucketize(torch.tensor(q), torch.tensor(s[0]), right=right),
        )


def test_nonzero_argwhere(torch):
    a = np.array([[0.0, 1.0], [2.0, 0.0], [0.0, 3.0]])
    assert_matches_torch(toynn.nonzero(t(a)), torch.nonzero(torch.tensor(a)))
    assert_matches_torch(toynn.argwhere(t(a)), torch.argwhere(torch.tensor(a)))
    for o, r in zip(t(a).nonzero(as_tuple=True), torch.tensor(a).nonzero(as_tuple=True)):
        assert_matches_torch(o, r)


# ---------------------------------------------------------------------------------------------
# Integer and bool ops, rounding division, the operators that use them


def test_bitwise_logical_gcd_and_their_operators(torch):
    a, b = np.array([5, 7, 12, -3]), np.array([3, 1, 8, 6])
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "gcd", "lcm", "bitwise_left_shift"):
        assert_matches_torch(getattr(toynn, name)(t(a), t(b)), getattr(torch, name)(torch.tensor(a), torch.tensor(b)))
    x, y = t(a) > 4, t(b) > 4
    rx, ry = torch.tensor(a) > 4, torch.tensor(b) > 4
    for ours, theirs in [(x & y, rx & ry), (x | y, rx | ry), (x ^ y, rx ^ ry), (~x, ~rx), (~t(a), ~torch.tensor(a))]:
        assert_matches_torch(ours, theirs)
    for name in ("logical_and", "logical_or", "logical_xor"):
        assert_matches_torch(
            getattr(toynn, name)(t(a), t(b) - 3), getattr(torch, name)(torch.tensor(a), torch.tensor(b) - 3)
        )
    with pytest.raises(TypeError, match="bitwise_not: expected an integer or bool tensor, got float32"):
        toynn.bitwise_not(toynn.ones(2))


@pytest.mark.parametrize("mode", [None, "trunc", "floor"])
def test_div_rounding_modes_floor_divide_and_mod_match_torch(mode, torch):
    ai, bi = np.array([-7, 7, -8, 5, 0]), np.array([2, -2, 2, 3, 4])
    af, bf = ai.astype(np.float32) + 0.5, bi.astype(np.float32)
    for a, b in [(ai, bi), (af, bf)]:
        assert_matches_torch(
            toynn.div(t(a), t(b), rounding_mode=mode), torch.div(torch.tensor(a), torch.tensor(b), rounding_mode=mode)
        )
        assert_matches_torch(
            t(a).div(t(b), rounding_mode=mode), torch.tensor(a).div(torch.tensor(b), rounding_mode=mode)
        )
        assert_matches_torch(t(a) // t(b), torch.tensor(a) // torch.tensor(b))
        assert_matches_torch(t(a) % t(b), torch.tensor(a) % torch.tensor(b))
        assert_matches_torch(toynn.fmod(t(a), t(b)), torch.fmod(torch.tensor(a), torch.tensor(b)))
    with pytest.raises(ValueError, match="div: rounding_mode must be None, 'trunc' or 'floor', got 'round'"):
        toynn.div(t(ai), t(bi), rounding_mode="round")


def test_rounding_ops_have_zero_gradient_as_torch(torch):
    a = np.array([-1.5, -0.3, 0.4, 2.6])
    for name in ("floor", "ceil", "round", "trunc", "sign", "angle"):
        x, ref = t(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        (getattr(toynn, name)(x) * 3).sum().backward()
        (getattr(torch, name)(ref) * 3).sum().backward()
        assert_matches_torch(getattr(toynn, name)(t(a)), getattr(torch, name)(torch.tensor(a)))
        assert_matches_torch(x.grad, ref.grad)
    assert toynn.floor(t([1, 2])).dtype == np.int64  # integers are their own floor


def test_frexp_nextafter_heaviside_float_power_ldexp(torch):
    a = np.array([0.75, -3.0, 10.0, 0.0], dtype=np.float32)
    for o, r in zip(toynn.frexp(t(a)), torch.frexp(torch.tensor(a))):
        assert_matches_torch(o, r)
    b = np.array([1.0, 0.0, 11.0, -1.0], dtype=np.float32)
    assert_matches_torch(toynn.nextafter(t(a), t(b)), torch.nextafter(torch.tensor(a), torch.tensor(b)))
    assert_matches_torch(toynn.heaviside(t(a), t([0.5])), torch.heaviside(torch.tensor(a), torch.tensor([0.5])))
    out = toynn.float_power(t(a), 2)
    assert out.dtype == np.float64
    assert_matches_torch(out, torch.float_power(torch.tensor(a), 2))


# ---------------------------------------------------------------------------------------------
# erf and erfinv: NumPy has none, so toynn computes them itself


def test_erf_is_accurate_over_the_whole_line():
    xs = np.linspace(-7, 7, 2801)
    ref = np.array([math.erf(v) for v in xs])
    got = host(toynn.erf(t(xs)))
    np.testing.assert_allclose(got, ref, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(host(toynn.erfc(t(xs[:1401]))), 1 - ref[:1401], rtol=1e-14)
    assert host(toynn.erf(t(np.array([0.0, -0.0])))).tolist() == [0.0, 0.0]


def test_erfinv_inverts_erf_up_to_its_ends(torch):
    y = np.array([-1.0, -0.999999, -0.5, 0.0, 1e-8, 0.3, 0.99, 1.0, 1.5])
    got = host(toynn.erfinv(t(y)))
    theirs = torch.erfinv(torch.tensor(y)).numpy()
    # NOTE: near +-1, erf is flat: y's own rounding (1e-16) moves erfinv(y) by 1e-11 there, for PyTorch too
    np.testing.assert_allclose(got, theirs, rtol=1e-10, atol=1e-15, equal_nan=True)
    assert got[0] == -np.inf and got[-2] == np.inf and np.isnan(got[-1])


# ---------------------------------------------------------------------------------------------
# Small API: tensor queries, t(), numel, vander (torch's vander cannot be differentiated in float64)


def test_tensor_queries_match_torch(torch):
    x = toynn.ones(2, 3)
    assert toynn.is_tensor(x) and not toynn.is_tensor(np.ones(2))
    assert toynn.numel(x) == x.nelement() == 6 and x.ndimension() == 2
    assert toynn.is_floating_point(x) and not toynn.is_floating_point(t([1]))
    assert not toynn.is_complex(x) and not toynn.is_conj(x)
    assert toynn.is_nonzero(t([2.0])) and not t([0]).is_nonzero()
    with pytest.raises(RuntimeError, match="is_nonzero: expected a tensor with a single value, got shape"):
        toynn.is_nonzero(x)
    assert x.t().shape == (3, 2) and toynn.t(t([1.0, 2.0])).shape == (2,)
    assert x.mT.shape == (3, 2) and x.real is x
    with pytest.raises(RuntimeError, match="imag is not implemented for tensors with non-complex dtypes"):
        toynn.imag(x)


def test_vander_matches_numpy_and_is_differentiable():
    a = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(host(toynn.vander(t(a), 4)), np.vander(a, 4))
    np.testing.assert_array_equal(
        host(toynn.vander(t([1, 2, 3]), increasing=True)), np.vander([1, 2, 3], increasing=True)
    )
    assert gradcheck(lambda x: toynn.vander(x, 3), [t(a, requires_grad=True)])


def test_ops_accept_numpy_arrays_lists_and_numbers(torch):
    assert_matches_torch(toynn.cumsum(np.array([1, 2, 3]), 0), torch.cumsum(torch.tensor([1, 2, 3]), 0))
    assert_matches_torch(toynn.prod([1.0, 2.0, 3.0]), torch.prod(torch.tensor([1.0, 2.0, 3.0])))
    assert_matches_torch(toynn.erf(np.array([0.5])), torch.erf(torch.tensor(np.array([0.5]))))
    assert_matches_torch(toynn.atan2(1.0, t([1.0, -1.0])), torch.atan2(torch.tensor(1.0), torch.tensor([1.0, -1.0])))


# ---------------------------------------------------------------------------------------------
# In-place forms: the same values as out of place, and differentiable inside a graph


@pytest.mark.parametrize(
    "name,args",
    [
        ("exp_", ()),
        ("floor_", ()),
        ("abs_", ()),
        ("sigmoid_", ()),
        ("pow_", (2,)),
        ("masked_fill_", ("MASK", 0.5)),
        ("index_add_", (0, "IDX", "SRC")),
        ("scatter_", (1, "SIDX", "SRC")),
        ("tril_", ()),
        ("clip_", (-0.5, 0.5)),
    ],
)
def test_in_place_forms_match_out_of_place(name, args, rng):
    a = rng.standard_normal((3, 3))
    consts = {"MASK": t(a > 0), "IDX": t([2, 0, 2]), "SIDX": t([[0], [2], [1]]), "SRC": t(rng.standard_normal((3, 3)))}
    args = tuple(consts.get(v, v) if isinstance(v, str) else v for v in args)
    x = t(a)
    expected = getattr(x, name.rstrip("_"))(*args) if hasattr(x, name.rstrip("_")) else None
    out = getattr(x, name)(*args)
    assert out is x
    if expected is not None:
        np.testing.assert_allclose(host(x), host(expected))
    # inside a graph: differentiable through the in-place op (the engine rebases the node)
    w = t(a, requires_grad=True)
    y = w * 1.0
    getattr(y, name)(*args)
    y.sum().backward()
    assert w.grad is not None and w.grad.shape == (3, 3)


def test_in_place_exp_gradient_is_right():
    w = t(np.array([0.5, -1.0]), requires_grad=True)
    y = w * 2.0
    y.exp_()
    y.sum().backward()
    np.testing.assert_allclose(host(w.grad), 2 * np.exp(2 * np.array([0.5, -1.0])))


# ---------------------------------------------------------------------------------------------
# Error messages name the op, the argument, what was expected and what was got


@pytest.mark.parametrize(
    "call,error,message",
    [
        (
            lambda: toynn.gather(toynn.ones(3, 4), 0, t([0, 1])),
            ShapeError,
            r"gather: index has 1 dims \(shape \(2,\)\)",
        ),
        (
            lambda: toynn.gather(toynn.ones(3, 4), 0, t([[5]])),
            IndexError,
            r"gather: index out of range for dim 0 of size 3",
        ),
        (lambda: toynn.gather(toynn.ones(3, 4), 0, t([[0.5]])), TypeError, "gather: expected an integer index tensor"),
        (lambda: toynn.index_select(toynn.ones(3, 4), 1, t([[0]])), ShapeError, r"index_select: index must be 1-D"),
        (lambda: toynn.topk(toynn.ones(3, 4), 5), IndexError, r"topk: k=5 is out of range for dim -1 of size 4"),
        (lambda: toynn.t(toynn.ones(2, 2, 2)), ShapeError, r"t: expects a tensor with <= 2 dimensions"),
        (lambda: toynn.einsum("ij,jk", toynn.ones(2, 2)), ValueError, "einsum: the equation 'ij,jk' has 2 operands"),
        (lambda: toynn.einsum("ijk", toynn.ones(2, 2)), ShapeError, "einsum: operand 0 has shape"),
        (lambda: toynn.split(toynn.ones(4), [1, 2]), ValueError, r"split: sizes \[1, 2\] sum to 3, not to the size 4"),
        (lambda: toynn.ones(2, 3).repeat(2), ShapeError, r"repeat: the number of repeat sizes \(1\)"),
        (lambda: toynn.cross(toynn.ones(2, 2), toynn.ones(2, 2)), ShapeError, "cross: no dim of size 3"),
        (lambda: toynn.narrow(toynn.ones(4), 0, 3, 2), IndexError, "narrow: start 3 and length 2 exceed dim 0"),
        (lambda: toynn.masked_fill(toynn.ones(2), t([1, 0]), 1.0), TypeError, "masked_fill: expected a bool mask"),
        (lambda: toynn.quantile(toynn.ones(3), 1.5), ValueError, r"quantile: q must be in \[0, 1\]"),
        (lambda: toynn.bincount(toynn.ones(3)), ShapeError, "bincount: expected a 1-D integer tensor"),
        (lambda: toynn.mm(toynn.ones(2), toynn.ones(2, 2)), ShapeError, r"mm: expects two 2-D tensors"),
        (lambda: toynn.multinomial(t([0.5, 0.0]), 2), RuntimeError, "multinomial: cannot draw 2 samples without"),
        (lambda: toynn.zeros(2, size=(2,)), TypeError, "zeros: got the size both positionally"),
    ],
)
def test_errors_name_the_op_and_what_was_wrong(call, error, message):
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------------------------------------
# Creation: the missing constructors, size= spellings, as_tensor


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.zeros(size=(2, 3)),
        lambda m: m.ones(size=[3]),
        lambda m: m.empty(2, 3),
        lambda m: m.empty(size=(4,)),
        lambda m: m.rand(size=(2, 3)),
        lambda m: m.randn(size=(2,)),
        lambda m: m.randint(5, (3,)),
        lambda m: m.randint(2, 5, size=(2, 2)),
        lambda m: m.empty_like(m.ones(2, 2, dtype=m.float64)),
        lambda m: m.randint_like(m.ones(3), 4),
        lambda m: m.empty_strided((2, 3), (3, 1)),
    ],
)
def test_constructors_give_torch_shapes_and_dtypes(call, torch):
    ours, theirs = call(toynn), call(torch)
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(theirs.dtype) == f"torch.{ours.dtype}"


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.linspace(0, 1, 5),
        lambda m: m.linspace(-2, 3, 7, dtype=m.float64),
        lambda m: m.logspace(0, 2, 3),
        lambda m: m.logspace(0, 3, 4, base=2.0),
        lambda m: m.range(0, 4),
        lambda m: m.range(1, 2, 0.25),
        lambda m: m.tril_indices(3, 4, 1),
        lambda m: m.triu_indices(4, 3, -1),
        lambda m: m.as_tensor([1, 2]),
        lambda m: m.asarray([1.5, 2.0]),
    ],
)
def test_constructors_give_torch_values(call, torch):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.range is deprecated
        assert_matches_torch(call(toynn), call(torch))


def test_as_tensor_shares_a_numpy_arrays_memory():
    a = np.zeros(3, dtype=np.float32)
    x = toynn.as_tensor(a)
    if x.device == "cpu":
        a[0] = 5
        assert x.tolist()[0] == 5
    assert toynn.as_tensor(x) is x


# ---------------------------------------------------------------------------------------------
# toynn.Generator and random sampling


def test_generator_is_seeded_independently_of_the_default():
    g1, g2 = toynn.Generator().manual_seed(3), toynn.Generator()
    assert g2.manual_seed(3) is g2 and g1.initial_seed() == 3
    toynn.manual_seed(0)
    a = toynn.rand(4, generator=g1)
    b = toynn.rand(4)  # the default generator is untouched by draws from g1
    toynn.manual_seed(0)
    assert host(toynn.rand(4)).tolist() == host(b).tolist()
    assert host(toynn.rand(4, generator=g2)).tolist() == host(a).tolist()
    for fn in (
        lambda g: toynn.randn(3, generator=g),
        lambda g: toynn.randint(0, 10, (5,), generator=g),
        lambda g: toynn.randperm(6, generator=g),
        lambda g: toynn.multinomial(toynn.ones(5), 3, generator=g),
    ):
        assert (
            host(fn(toynn.Generator().manual_seed(7))).tolist() == host(fn(toynn.Generator().manual_seed(7))).tolist()
        )


def test_default_generator_state_round_trips():
    state = toynn.get_rng_state()
    a = host(toynn.randn(5))
    toynn.set_rng_state(state)
    assert host(toynn.randn(5)).tolist() == a.tolist()
    assert toynn.default_generator() is toynn.default_generator  # the old call spelling gives the object
    assert toynn.manual_seed(5) is toynn.default_generator and toynn.initial_seed() == 5
    seed = toynn.seed()
    assert toynn.initial_seed() == seed


def test_generator_works_where_numpy_generators_did():
    from toynn.data import random_split

    parts = random_split(list(range(10)), [6, 4], generator=toynn.Generator().manual_seed(1))
    again = random_split(list(range(10)), [6, 4], generator=toynn.Generator().manual_seed(1))
    assert list(parts[0].indices) == list(again[0].indices)
    w = toynn.empty(3, 4)
    toynn.nn.init.uniform_(w, generator=toynn.Generator().manual_seed(2))
    assert 0 <= host(w).min() and host(w).max() < 1


def test_multinomial_frequencies_follow_the_weights():
    g = toynn.Generator().manual_seed(0)
    w = np.array([1.0, 0.0, 3.0, 6.0])
    draws = host(toynn.multinomial(t(w), 20000, replacement=True, generator=g))
    freq = np.bincount(draws, minlength=4) / draws.size
    np.testing.assert_allclose(freq, w / w.sum(), atol=0.015)  # 4 sigma of a binomial at n = 20000
    rows = host(toynn.multinomial(t(np.array([[1.0, 1.0, 1.0, 0.0], [5.0, 1.0, 1.0, 1.0]])), 3, generator=g))
    assert rows.shape == (2, 3) and rows.dtype == np.int64
    assert all(len(set(r)) == 3 for r in rows.tolist()) and 3 not in rows[0].tolist()  # no repeats, no zero weight
    firsts = [host(toynn.multinomial(t(np.array([8.0, 1.0, 1.0])), 2, generator=g))[0] for _ in range(2000)]
    assert abs(np.mean(np.array(firsts) == 0) - 0.8) < 0.04  # the first draw follows the weights


def test_bernoulli_normal_poisson():
    g = toynn.Generator().manual_seed(1)
    p = toynn.full((20000,), 0.3)
    b = toynn.bernoulli(p, generator=g)
    assert b.dtype == np.float32 and set(np.unique(host(b)).tolist()) <= {0.0, 1.0}
    assert abs(host(b).mean() - 0.3) < 0.015
    n = toynn.normal(2.0, 3.0, size=(20000,), generator=g)
    assert abs(host(n).mean() - 2.0) < 0.1 and abs(host(n).std() - 3.0) < 0.1
    mean = t(np.zeros(3), requires_grad=True)
    toynn.normal(mean, 1.0, generator=g).sum().backward()  # differentiable in mean, as mean + std * noise
    np.testing.assert_allclose(host(mean.grad), np.ones(3))
    lam = toynn.full((20000,), 4.0)
    assert abs(host(toynn.poisson(lam, generator=g)).mean() - 4.0) < 0.1


# ---------------------------------------------------------------------------------------------
# toynn.linalg and set_printoptions


@pytest.mark.parametrize("ord", ["fro", 1, -1, float("inf"), -float("inf")])
@pytest.mark.parametrize("keepdim", [False, True])
def test_linalg_matrix_norm_matches_torch(ord, keepdim, rng, torch):
    a = rng.standard_normal((2, 3, 4))
    assert_matches_torch(
        toynn.linalg.matrix_norm(t(a), ord, keepdim=keepdim),
        torch.linalg.matrix_norm(torch.tensor(a), ord, keepdim=keepdim),
    )
    x, ref = t(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    toynn.linalg.matrix_norm(x, ord).sum().backward()
    torch.linalg.matrix_norm(ref, ord).sum().backward()
    assert_matches_torch(x.grad, ref.grad)


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, float("inf"), 0])
def test_linalg_vector_norm_and_norm_match_torch(ord, rng, torch):
    a = rng.standard_normal((2, 3, 4))
    assert_matches_torch(
        toynn.linalg.vector_norm(t(a), ord, dim=(0, 2)), torch.linalg.vector_norm(torch.tensor(a), ord, dim=(0, 2))
    )
    assert_matches_torch(toynn.linalg.norm(t(a), ord, dim=1), torch.linalg.norm(torch.tensor(a), ord, dim=1))
    assert_matches_torch(toynn.linalg.norm(t(a[0])), torch.linalg.norm(torch.tensor(a[0])))


def test_linalg_cross_vecdot_and_the_missing_norms(rng, torch):
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    assert_matches_torch(toynn.linalg.cross(t(a), t(b)), torch.linalg.cross(torch.tensor(a), torch.tensor(b)))
    assert_matches_torch(toynn.linalg.vecdot(t(a), t(b)), torch.linalg.vecdot(torch.tensor(a), torch.tensor(b)))
    with pytest.raises(NotImplementedError, match="matrix_norm: ord=2 needs singular values"):
        toynn.linalg.matrix_norm(t(a), 2)


def test_norm_gradient_at_zero_is_zero_as_torch(torch):
    x, ref = t(np.zeros(3), requires_grad=True), torch.zeros(3, dtype=torch.float64, requires_grad=True)
    toynn.norm(x).backward()
    torch.norm(ref).backward()
    assert_matches_torch(x.grad, ref.grad)


@pytest.mark.explicit_device  # compares the repr of CPU tensors
def test_set_printoptions_as_torch(torch):
    v = [1.123456, 2.5, 3.25]
    try:
        for kw in [
            {"precision": 2},
            {"sci_mode": True},
            {"profile": "default"},
            {"precision": 6},
            {"profile": "short"},
        ]:
            toynn.set_printoptions(**kw)
            torch.set_printoptions(**kw)
            assert repr(toynn.tensor(v)) == repr(torch.tensor(v))
        toynn.set_printoptions(threshold=5, edgeitems=1)
        assert "..." in repr(toynn.arange(10.0))
        with pytest.raises(ValueError, match="set_printoptions: profile must be 'default', 'short' or 'full'"):
            toynn.set_printoptions(profile="long")
    finally:
        toynn.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")


def test_out_writes_the_result_into_a_given_tensor(torch):
    a, b = np.arange(6.0).reshape(2, 3), np.arange(3.0) + 1
    for op, args in (("matmul", (a, a.T)), ("mul", (a, b)), ("add", (a, b)), ("sub", (a, b)), ("div", (a, b))):
        ours, theirs = (
            toynn.empty(*np.broadcast_shapes(a.shape, b.shape) if op != "matmul" else (2, 2), dtype=toynn.float64),
            None,
        )
        got = getattr(toynn, op)(*[toynn.tensor(x) for x in args], out=ours)
        theirs = torch.empty(tuple(ours.shape), dtype=torch.float64)
        getattr(torch, op)(*[torch.tensor(x) for x in args], out=theirs)
        assert got is ours
        np.testing.assert_array_equal(host(ours), theirs.numpy())
    small = toynn.empty(1)
    toynn.mul(toynn.tensor(a), 2.0, out=small)  # another shape: out takes the result's, as PyTorch (with a warning)
    assert small.shape == (2, 3)
    np.testing.assert_allclose(toynn.add(toynn.tensor(a), toynn.tensor(b), alpha=2).numpy(), a + 2 * b)
    with pytest.raises(RuntimeError, match="out=.*automatic differentiation"):
        toynn.mul(toynn.tensor(a, requires_grad=True), 2.0, out=toynn.empty(2, 3))


@pytest.mark.parametrize("start,end,steps", [(-3, 3, 120), (0.1, 7.3, 33), (5, -1, 11), (0, 1, 1000), (-1e3, 7, 333)])
def test_linspace_equals_torch_bit_for_bit(start, end, steps, torch):
    """Training programs start from torch.linspace data: a last-bit difference grows in a chaotic loop."""
    assert host(toynn.linspace(start, end, steps)).tolist() == torch.linspace(start, end, steps).tolist()
    ints = toynn.linspace(start, end, steps, dtype=toynn.int64)
    assert host(ints).tolist() == torch.linspace(start, end, steps, dtype=torch.int64).tolist()


def test_scatter_takes_a_0d_index_on_a_1d_tensor_and_generators_have_seeds(torch):
    ours = toynn.zeros(10).scatter_(0, toynn.tensor(3), value=1)
    np.testing.assert_array_equal(host(ours), torch.zeros(10).scatter_(0, torch.tensor(3), value=1).numpy())
    with pytest.raises(ShapeError, match="index has 0 dims"):
        toynn.zeros(3, 4).scatter_(1, toynn.tensor(2), value=1)  # as PyTorch: only a 1-d tensor takes a 0-d index
    assert toynn.Generator().initial_seed() == torch.Generator().initial_seed()
    assert isinstance(toynn.initial_seed(), int)
