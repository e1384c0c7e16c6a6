"""Constructors and the Tensor API against PyTorch: dtypes, shapes, seeding, promotion, repr,
and numerics at extreme inputs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import toynn


def tdtype(torch, dtype):
    """The torch dtype with the same name as a NumPy dtype."""
    return getattr(torch, np.dtype(dtype).name)


def same_dtype(ours, theirs):
    return str(theirs) == f"torch.{np.dtype(ours).name}"


# ---------------------------------------------------------------------------------------------
# tensor(): dtype inference


@pytest.mark.parametrize(
    "data",
    [
        1.5,
        [1.0, 2.0],
        [1, 2.5],
        [[1.0, 2.0], [3.0, 4.0]],
        3,
        [1, 2, 3],
        True,
        [True, False],
        [],
        np.array([1.0, 2.0]),
        np.array([1.0, 2.0], dtype=np.float32),
        np.array([1, 2], dtype=np.int32),
        np.array([1, 2], dtype=np.int64),
        np.array([True]),
        np.float32(2.0),
    ],
    ids=repr,
)
def test_tensor_dtype_inference_matches_torch(data, torch):
    ours, theirs = toynn.tensor(data), torch.tensor(data)
    assert same_dtype(ours.dtype, theirs.dtype), f"{ours.dtype} vs {theirs.dtype}"
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.array, theirs.numpy())


def test_tensor_dtype_inference_explicit():
    assert toynn.tensor(1.5).dtype == np.float32
    assert toynn.tensor([1, 2]).dtype == np.int64
    assert toynn.tensor([True, False]).dtype == np.bool_
    assert toynn.tensor(np.zeros(3)).dtype == np.float64
    assert toynn.tensor([1, 2], dtype=toynn.float64).dtype == np.float64
    assert toynn.tensor([1.5], dtype=toynn.int64).dtype == np.int64


def test_tensor_copies_its_data():
    a = np.array([1.0, 2.0])
    t = toynn.tensor(a)
    a[0] = 100.0
    assert t.array[0] == 1.0


@pytest.mark.explicit_device  # about CPU memory: a tensor on a GPU can never share the host array's memory
def test_from_numpy_shares_memory():
    a = np.array([100.0, 2.0])
    f = toynn.from_numpy(a)  # from_numpy shares memory, as in PyTorch
    a[1] = 200.0
    assert f.array[1] == 200.0 and f.dtype == np.float64


@pytest.mark.parametrize("data", [np.float64(1.5), [np.float64(1.0), np.float64(2.0)]], ids=["scalar", "list"])
def test_tensor_numpy_float64_scalars_keep_float64(data, torch):
    assert torch.tensor(data).dtype == torch.float64
    assert toynn.tensor(data).dtype == np.float64


def test_tensor_class_constructor_is_float(torch):
    assert torch.Tensor([1, 2]).dtype == torch.float32
    assert toynn.Tensor([1, 2]).dtype == np.float32


# ---------------------------------------------------------------------------------------------
# Filled, ranges, random


@pytest.mark.parametrize("name", ["zeros", "ones"])
@pytest.mark.parametrize("size", [(2, 3), ((2, 3),), ([4],), (5,), ((),)], ids=str)
def test_zeros_ones_match_torch(name, size, torch):
    ours, theirs = getattr(toynn, name)(*size), getattr(torch, name)(*size)
    assert ours.shape == tuple(theirs.shape)
    assert same_dtype(ours.dtype, theirs.dtype)
    np.testing.assert_array_equal(ours.array, theirs.numpy())
    assert not ours.requires_grad


@pytest.mark.parametrize("name", ["zeros", "ones", "rand", "randn"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_creation_dtype_and_requires_grad(name, dtype):
    t = getattr(toynn, name)(2, 3, dtype=dtype, requires_grad=True)
    assert t.shape == (2, 3) and t.dtype == dtype
    assert t.requires_grad and t.is_leaf and t.grad is None


@pytest.mark.parametrize(
    "size,value",
    [((2, 3), 1.5), ((2,), 7), ((3,), True), ([2, 2], -0.25)],
    ids=str,
)
def test_full_matches_torch(size, value, torch):
    ours, theirs = toynn.full(size, value), torch.full(size, value)
    assert ours.shape == tuple(theirs.shape)
    assert same_dtype(ours.dtype, theirs.dtype)
    np.testing.assert_array_equal(ours.array, theirs.numpy())


@pytest.mark.parametrize(
    "args", [(5,), (2, 7), (1, 10, 3), (0, 1, 0.1), (5.0,), (1, 2.5, 0.5), (10, 0, -2), (-1.5, 1.0, 0.25)], ids=str
)
def test_arange_matches_torch(args, torch):
    ours, theirs = toynn.arange(*args), torch.arange(*args)
    assert ours.shape == tuple(theirs.shape)
    assert same_dtype(ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours.array, theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("args", [(3,), (2, 4), (4, 2)], ids=str)
def test_eye_matches_torch(args, torch):
    ours, theirs = toynn.eye(*args), torch.eye(*args)
    assert same_dtype(ours.dtype, theirs.dtype)
    np.testing.assert_array_equal(ours.array, theirs.numpy())


def test_rand_and_randn_shapes_and_ranges():
    toynn.manual_seed(123)
    u = toynn.rand(1000)
    assert u.shape == (1000,) and u.dtype == np.float32
    assert (u.array >= 0).all() and (u.array < 1).all()
    n = toynn.randn(200, 50)
    assert n.shape == (200, 50) and n.dtype == np.float32
    assert abs(float(n.array.mean())) < 0.05 and abs(float(n.array.std()) - 1) < 0.05
    assert toynn.randn((2, 3)).shape == (2, 3)


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "rand_like", "randn_like"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_like_constructors(name, dtype, torch):
    x = toynn.zeros(3, 2, dtype=dtype)
    y = getattr(toynn, name)(x)
    theirs = getattr(torch, name)(torch.zeros(3, 2, dtype=tdtype(torch, dtype)))
    assert y.shape == (3, 2) == tuple(theirs.shape)
    assert y.dtype == dtype and same_dtype(y.dtype, theirs.dtype)
    assert not y.requires_grad
    assert getattr(toynn, name)(x, requires_grad=True).requires_grad
    assert getattr(toynn, name)(x, dtype=toynn.float64).dtype == np.float64


def test_like_constructors_keep_integer_dtype(torch):
    labels = toynn.tensor([1, 2, 3])
    assert toynn.zeros_like(labels).dtype == np.int64
    assert toynn.ones_like(labels).dtype == np.int64
    assert toynn.full_like(labels, 7).tolist() == torch.full_like(torch.tensor([1, 2, 3]), 7).tolist()
    assert toynn.full_like(toynn.zeros(2), 0.5).dtype == np.float32


def test_manual_seed_reproducible():
    toynn.manual_seed(0)
    a, u = toynn.randn(4, 5), toynn.rand(7)
    toynn.manual_seed(0)
    b, v = toynn.randn(4, 5), toynn.rand(7)
    np.testing.assert_array_equal(a.array, b.array)
    np.testing.assert_array_equal(u.array, v.array)
    toynn.manual_seed(1)
    c, w = toynn.randn(4, 5), toynn.rand(7)
    assert not np.array_equal(a.array, c.array)
    assert not np.array_equal(u.array, w.array)
    d = toynn.randn(4, 5)  # the generator moves on
    assert not np.array_equal(c.array, d.array)


# ---------------------------------------------------------------------------------------------
# float64 end to end, integer tensors


def test_float64_kept_through_a_chain_and_its_gradients(torch):
    rng = np.random.default_rng(0)
    xs, ws = rng.standard_normal((4, 3)), rng.standard_normal((3, 5))

    def chain(lib, x, w):
        h = (x @ w) * 2.5 + 1
        h = h.exp().log() - h.mean() / 3  # scalars and reductions keep the dtype
        h = lib.tanh(h) + lib.sigmoid(h) * h.relu()
        h = lib.softmax(h, 1) + lib.log_softmax(h, 1) + h**2
        return h.reshape(-1).sum() / 7

    x, w = toynn.tensor(xs, requires_grad=True), toynn.tensor(ws, requires_grad=True)
    out = chain(toynn, x, w)
    assert out.dtype == np.float64
    out.backward()
    assert x.grad.dtype == np.float64 and w.grad.dtype == np.float64

    xt, wt = torch.tensor(xs, requires_grad=True), torch.tensor(ws, requires_grad=True)
    ref = chain(torch, xt, wt)
    ref.backward()
    assert out.item() == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(w.grad.array, wt.grad.numpy(), rtol=1e-10)


def test_mixed_float_dtypes_give_float64_and_grads_keep_leaf_dtype(torch):
    a = toynn.ones(3, requires_grad=True)  # float32
    b = toynn.ones(3, dtype=toynn.float64, requires_grad=True)
    out = a * b
    assert out.dtype == np.float64
    assert same_dtype(out.dtype, (torch.ones(3) * torch.ones(3, dtype=torch.float64)).dtype)
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


@pytest.mark.parametrize(
    "make",
    [
        lambda: toynn.tensor([1, 2], requires_grad=True),
        lambda: toynn.arange(5, requires_grad=True),
        lambda: toynn.zeros(3, dtype=toynn.int64, requires_grad=True),
        lambda: toynn.tensor([1, 2]).requires_grad_(),
        lambda: toynn.tensor([True]).requires_grad_(),
    ],
)
def test_integer_tensors_cannot_require_grad(make):
    with pytest.raises(RuntimeError, match="floating"):
        make()


def test_integer_labels_index_a_float_tensor(torch):
    data = np.arange(12.0).reshape(4, 3)
    labels = toynn.tensor([2, 0, 2, 1])
    assert labels.dtype == np.int64 and not labels.requires_grad
    x = toynn.tensor(data, requires_grad=True)
    picked = x[toynn.arange(4), labels]
    (picked * picked).sum().backward()

    xt = torch.tensor(data, requires_grad=True)
    pt = xt[torch.arange(4), torch.tensor([2, 0, 2, 1])]
    (pt * pt).sum().backward()
    np.testing.assert_array_equal(picked.array, pt.detach().numpy())
    np.testing.assert_array_equal(x.grad.array, xt.grad.numpy())
    assert labels.grad is None


def test_integer_ops_stay_integer_and_record_nothing():
    x = toynn.tensor([1.0, 2.0], requires_grad=True)
    n = toynn.tensor([3, 4])
    m = n * 2 + n
    assert m.dtype == np.int64 and not m.requires_grad
    assert m.tolist() == [9, 12]
    idx = x.argmax()
    assert idx.dtype == np.int64 and not idx.requires_grad


# ---------------------------------------------------------------------------------------------
# Tensor attributes and conversions


def test_attributes_match_torch(torch):
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    t, tt = toynn.tensor(data), torch.tensor(data)
    assert t.shape == tuple(tt.shape) == (2, 3)
    assert t.ndim == tt.ndim == 2 and t.dim() == 2
    assert t.dtype == np.float32
    assert t.size() == tuple(tt.size())
    assert t.size(1) == tt.size(1) == 3 and t.size(-1) == 3
    assert t.numel() == tt.numel() == 6
    assert len(t) == 2
    assert t.T.shape == (3, 2)
    np.testing.assert_array_equal(t.T.array, tt.T.numpy())
    np.testing.assert_array_equal(toynn.tensor([1.0, 2.0]).T.array, [1.0, 2.0])


def test_numpy_item_tolist(torch):
    t = toynn.tensor([[1.5, 2.0], [3.0, 4.0]])
    a = t.numpy()
    assert isinstance(a, np.ndarray) and a.dtype == np.float32
    assert t.tolist() == [[1.5, 2.0], [3.0, 4.0]]
    assert toynn.tensor([[2.5]]).item() == 2.5
    assert isinstance(toynn.tensor([2.5]).item(), float)
    assert isinstance(toynn.tensor(3).item(), int)
    assert toynn.tensor(3).item() == torch.tensor(3).item()
    with pytest.raises(ValueError):
        toynn.tensor([1.0, 2.0]).item()
    with pytest.raises(RuntimeError, match="detach"):
        toynn.tensor([1.0], requires_grad=True).numpy()


@pytest.mark.explicit_device  # about CPU memory: on a GPU numpy() is a copy to the host (as PyTorch's .cpu().numpy())
def test_numpy_shares_memory_on_the_cpu():
    t = toynn.tensor([[1.5, 2.0], [3.0, 4.0]])
    a = t.numpy()
    a[0, 0] = 9.0  # numpy() shares memory, as in PyTorch
    assert t.array[0, 0] == 9.0
    assert t.tolist() == [[9.0, 2.0], [3.0, 4.0]]


def test_detach_and_requires_grad_():
    x = toynn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    np.testing.assert_array_equal(d.array, y.array)
    assert np.shares_memory(d.array, y.array)  # same data, as in PyTorch
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad.array, y.array)  # no gradient flowed through d

    z = toynn.tensor([1.0, 2.0])
    assert z.requires_grad_() is z and z.requires_grad
    assert z.requires_grad_(False) is z and not z.requires_grad
    with pytest.raises(RuntimeError):
        y.requires_grad_(False)  # only on leaves


# ---------------------------------------------------------------------------------------------
# Promotion


@pytest.mark.parametrize(
    "fn",
    [
        lambda lib: lib.tensor([1, 2]) + lib.tensor([0.5, 1.5]),
        lambda lib: lib.tensor([0.5, 1.5]) * lib.tensor([1, 2]),
        lambda lib: lib.ones(3) * 2.5,
        lambda lib: lib.ones(3) * 2,
        lambda lib: 2.5 * lib.ones(3, dtype=lib.float64),
        lambda lib: lib.tensor([1, 2]) / lib.tensor([2, 4]),
        lambda lib: lib.tensor([1, 2]) / 2,
        lambda lib: lib.tensor([1, 2]) * 2,
        lambda lib: lib.tensor([1, 2]) * 2.5,
        lambda lib: lib.tensor([1, 2]) + lib.tensor(1.5, dtype=lib.float64),
        lambda lib: lib.ones(2) + lib.ones(2, dtype=lib.float64),
        lambda lib: lib.ones(3) * np.float64(2.5),
        lambda lib: lib.tensor([1, 2]) ** 2,
        lambda lib: lib.tensor([1, 4]).sqrt(),
        lambda lib: lib.tensor([1, 4]).log(),
        lambda lib: lib.tanh(lib.tensor([1, 4])),
        lambda lib: lib.sigmoid(lib.tensor([1, 4])),
        lambda lib: 2.5 ** lib.tensor([1, 2]),
        lambda lib: lib.tensor([1, -2]).abs(),
    ],
)
def test_dtype_promotion_matches_torch(fn, torch):
    ours, theirs = fn(toynn), fn(torch)
    assert same_dtype(ours.dtype, theirs.dtype), f"{ours.dtype} vs {theirs.dtype}"
    np.testing.assert_allclose(ours.array, theirs.numpy(), rtol=1e-6)


def test_zero_dim_tensor_does_not_promote(torch):
    theirs = torch.ones(3) * torch.tensor(2.0, dtype=torch.float64)
    ours = toynn.ones(3) * toynn.tensor(2.0, dtype=toynn.float64)
    assert same_dtype(ours.dtype, theirs.dtype), f"{ours.dtype} vs {theirs.dtype}"


def test_exp_of_integer_tensor_is_default_float(torch):
    assert torch.tensor([1, 2]).exp().dtype == torch.float32
    assert toynn.tensor([1, 2]).exp().dtype == np.float32


@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparisons_give_bool_without_grad(op, torch):
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([2.0, 2.0, 1.0])
    x = toynn.tensor(a, requires_grad=True)
    ours = getattr(x, op)(toynn.tensor(b))
    theirs = getattr(torch.tensor(a, requires_grad=True), op)(torch.tensor(b))
    assert ours.dtype == np.bool_
    assert not ours.requires_grad and ours.grad_fn is None
    np.testing.assert_array_equal(ours.array, theirs.numpy())
    scalar = getattr(x, op)(2.0)
    np.testing.assert_array_equal(scalar.array, getattr(torch.tensor(a), op)(2.0).numpy())


def test_comparison_operators_are_elementwise():
    x = toynn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert (x > 1.5).tolist() == [False, True, True]
    assert (x == 2).tolist() == [False, True, False]
    assert (x != 2).tolist() == [True, False, True]
    with pytest.raises(TypeError):
        hash(x)  # == is elementwise, so tensors are not hashable


# ---------------------------------------------------------------------------------------------
# repr


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.tensor([1.0, 2.0]),
        lambda lib: lib.tensor([1, 2, 3]),
        lambda lib: lib.tensor([True, False]),
        lambda lib: lib.tensor([[1.0, 2.0], [3.0, 4.0]]),
        lambda lib: lib.tensor(3.0),
        lambda lib: lib.tensor([2.7182817, 7.389056]),
        lambda lib: lib.tensor([1.0, 2.0], requires_grad=True),
    ],
)
def test_repr_matches_torch(make, torch, device):
    assert repr(make(toynn)) == torch_repr_on(device, make(torch))


def torch_repr_on(device: str, t) -> str:
    """PyTorch's repr of the CPU tensor t as it reads on `device`: device='cuda:0' before dtype and requires_grad."""
    r = repr(t)
    if device == "cpu":
        return r
    at = min((r.find(k) for k in (", dtype=", ", requires_grad=", ", grad_fn=") if k in r), default=len(r) - 1)
    return f"{r[:at]}, device='{device}:0'{r[at:]}"


def test_repr_shows_dtype_and_grad_fn(device):
    r = repr(toynn.tensor([1.0, 2.0], dtype=toynn.float64))
    assert r.startswith("tensor([1., 2.]") and "float64" in r
    y = toynn.tensor([1.0, 2.0], requires_grad=True) * 2
    on = "" if device == "cpu" else f", device='{device}:0'"
    assert repr(y).startswith(f"tensor([2., 4.]{on}, grad_fn=<Mul")


@pytest.mark.parametrize("data", [[1.5, 2.25], 1.5, [1.5, 2.0]], ids=str)
def test_repr_pads_decimals_like_torch(data, torch, device):
    assert repr(toynn.tensor(data)) == torch_repr_on(device, torch.tensor(data))


# ---------------------------------------------------------------------------------------------
# Numerics at extreme inputs: finite, no warnings, equal to PyTorch


def _strict_numerics():
    """Warnings are errors, and so are overflow, invalid and divide-by-zero (underflow to 0 is fine)."""
    return np.errstate(over="raise", invalid="raise", divide="raise", under="ignore")


TOL = {np.float32: dict(rtol=1e-5, atol=1e-30), np.float64: dict(rtol=1e-12, atol=1e-300)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_elementwise_at_extremes(name, dtype, torch):
    values = np.array([-1e4, -100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0, 1e4], dtype=dtype)
    with warnings.catch_warnings(), _strict_numerics():
        warnings.simplefilter("error")
        x = toynn.tensor(values, requires_grad=True)
        y = getattr(toynn, name)(x)
        y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert np.isfinite(y.array).all() and np.isfinite(x.grad.array).all()
    xt = torch.tensor(values, requires_grad=True)
    yt = getattr(torch, name)(xt)
    yt.sum().backward()
    np.testing.assert_allclose(y.array, yt.detach().numpy(), **TOL[dtype])
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_at_extremes(dtype, torch):
    values = np.array([-np.inf, -1e30, -2.0, 0.0, 3.0, np.inf, np.nan], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = toynn.relu(toynn.tensor(values)).array
    expected = torch.relu(torch.tensor(values)).numpy()
    np.testing.assert_array_equal(y, expected)  # 0 (not nan) at -inf, nan stays nan
    assert not np.signbit(y[:4]).any()  # +0, as PyTorch prints it, not -0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["logsumexp", "log_softmax", "softmax"])
def test_softmax_family_at_extreme_logits(name, dtype, torch):
    logits = np.array(
        [[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, 5.0], [-1e4, 1e4, 1e4 - 1]],
        dtype=dtype,
    )
    v = np.random.default_rng(0).standard_normal(4 if name == "logsumexp" else (4, 3)).astype(dtype)
    with warnings.catch_warnings(), _strict_numerics():
        warnings.simplefilter("error")
        x = toynn.tensor(logits, requires_grad=True)
        y = getattr(toynn, name)(x, 1)
        y.backward(v)
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert np.isfinite(y.array).all() and np.isfinite(x.grad.array).all()
    xt = torch.tensor(logits, requires_grad=True)
    yt = getattr(torch, name)(xt, 1)
    yt.backward(torch.tensor(v))
    # float32 has a spacing of ~1e-3 at 1e4, so the absolute tolerance is the input's rounding
    atol = 2e-3 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(y.array, yt.detach().numpy(), rtol=1e-6, atol=atol)
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy(), rtol=1e-6, atol=atol)
    if name == "softmax" and dtype == np.float64:
        np.testing.assert_allclose(y.array.sum(1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("offset", [100.0, -1e4])
def test_log_softmax_float32_precision_with_offset_logits(offset, torch):
    logits = np.array([0.0, 1.0, 2.0], dtype=np.float32) + np.float32(offset)
    ours = toynn.log_softmax(toynn.tensor(logits), 0).array
    theirs = torch.log_softmax(torch.tensor(logits), 0).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    np.testing.assert_allclose(toynn.softmax(toynn.tensor(logits), 0).array.sum(), 1.0, rtol=1e-6)
