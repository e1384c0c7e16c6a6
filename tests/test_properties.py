"""Property tests: random broadcast-compatible shapes and random reshape/permute round trips,
forward and gradients against PyTorch in float64."""

from __future__ import annotations

import numpy as np
import pytest

import toynn

from .devices import host, like

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes  # noqa: E402

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True)
SHAPE_PAIRS = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, min_side=1, max_side=4)
SEEDS = st.integers(0, 2**32 - 1)


def rel_err(a, b) -> float:
    a, b = host(a).astype(np.float64), host(b).astype(np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)) if a.size else 0.0


def signed_away_from_zero(rng, shape):
    """|v| in [0.5, 2], random sign: safe denominators."""
    return arr(rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape))


def arr(values):
    """An ndarray even for shape (): NumPy returns bare np.float64 scalars there."""
    return np.asarray(values, dtype=np.float64)


BINARY = {
    "add": lambda lib, a, b: a + b,
    "sub": lambda lib, a, b: a - b,
    "mul": lambda lib, a, b: a * b,
    "div": lambda lib, a, b: a / b,
    "maximum": lambda lib, a, b: lib.maximum(a, b),
}


@pytest.mark.parametrize("name", list(BINARY))
@SETTINGS
@given(shapes=SHAPE_PAIRS, seed=SEEDS)
def test_broadcasting_binary_ops_match_torch(name, shapes, seed, torch):
    (shape_a, shape_b), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a = arr(rng.standard_normal(shape_a))
    b = signed_away_from_zero(rng, shape_b)
    if name == "maximum":
        b = arr(b + 0.01 * rng.random(shape_b))  # continuous values: no ties with a, almost surely
    cot = arr(rng.standard_normal(out_shape))
    fn = BINARY[name]

    x, y = toynn.tensor(a, requires_grad=True), toynn.tensor(b, requires_grad=True)
    out = fn(toynn, x, y)
    out.backward(cot)

    xt, yt = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    ref = fn(torch, xt, yt)
    ref.backward(torch.tensor(cot))

    assert out.shape == tuple(ref.shape) == out_shape
    assert out.dtype == np.float64
    assert rel_err(out.array, ref.detach().numpy()) < 1e-10
    assert x.grad.shape == shape_a and y.grad.shape == shape_b
    assert x.grad.dtype == np.float64 and y.grad.dtype == np.float64
    assert rel_err(x.grad.array, xt.grad.numpy()) < 1e-10
    assert rel_err(y.grad.array, yt.grad.numpy()) < 1e-10


@SETTINGS
@given(shapes=SHAPE_PAIRS, seed=SEEDS)
def test_broadcasting_forward_mode_matches_reverse_mode(shapes, seed):
    """<J u, v> == <u, J^T v> for a composite of all five ops on broadcast shapes."""
    (shape_a, shape_b), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a, b = arr(rng.standard_normal(shape_a)), signed_away_from_zero(rng, shape_b)

    def f(x, y):
        return toynn.maximum(x * y - x, x / y + y)

    us = [arr(rng.standard_normal(shape_a)), arr(rng.standard_normal(shape_b))]
    primals = [toynn.tensor(a), toynn.tensor(b)]
    _, ju = toynn.autodiff.jvp(f, primals, [like(u, p) for u, p in zip(us, primals)])
    x, y = toynn.tensor(a, requires_grad=True), toynn.tensor(b, requires_grad=True)
    v = arr(rng.standard_normal(out_shape))
    f(x, y).backward(v)
    lhs = float((host(ju.array) * v).sum())
    rhs = float((host(x.grad.array) * us[0]).sum() + (host(y.grad.array) * us[1]).sum())
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-12)


@st.composite
def shape_and_permutation(draw):
    shape = draw(array_shapes(min_dims=1, max_dims=5, min_side=1, max_side=4))
    perm = draw(st.permutations(range(len(shape))))
    return shape, tuple(perm)


def _prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors


def _factorization(rng, n: int) -> tuple:
    """A random shape with n elements: its prime factors, shuffled, some merged."""
    factors = _prime_factors(n) or [1]
    rng.shuffle(factors)
    shape, acc = [], 1
    for f in factors:
        acc *= f
        if rng.random() < 0.5:
            shape.append(acc)
            acc = 1
    shape.append(acc)
    return tuple(shape)


@SETTINGS
@given(case=shape_and_permutation(), seed=SEEDS)
def test_permute_reshape_round_trip_gradients_match_torch(case, seed, torch):
    shape, perm = case
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape)
    permuted = tuple(shape[p] for p in perm)
    middle = _factorization(rng, int(np.prod(shape)))
    weight = rng.standard_normal(middle)
    inverse = tuple(np.argsort(perm).tolist())

    def f(lib, x):
        y = x.permute(*perm).reshape(middle) * lib.tensor(weight)  # distinct weights expose any mix-up
        back = y.reshape(permuted).permute(*inverse)  # the round trip: back has x's shape
        return back, (back * x).sum()

    x = toynn.tensor(data, requires_grad=True)
    back, loss = f(toynn, x)
    loss.backward()
    xt = torch.tensor(data, requires_grad=True)
    back_t, loss_t = f(torch, xt)
    loss_t.backward()

    assert back.shape == shape
    np.testing.assert_allclose(back.array, back_t.detach().numpy(), rtol=1e-14)
    assert rel_err(x.grad.array, xt.grad.numpy()) < 1e-10
    # closed form: back = x * w' where w' is weight carried back to x's layout; d/dx (x * w' * x) = 2 x w'
    w_back = weight.reshape(permuted).transpose(inverse)
    np.testing.assert_allclose(x.grad.array, 2 * data * w_back, rtol=1e-12)


@SETTINGS
@given(shape=array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4), seed=SEEDS)
def test_reshape_to_flat_and_back_is_identity_for_gradients(shape, seed):
    rng = np.random.default_rng(seed)
    data = arr(rng.standard_normal(shape))
    cot = arr(rng.standard_normal(shape))
    x = toynn.tensor(data, requires_grad=True)
    y = x.reshape(-1).reshape(shape)
    assert y.shape == shape
    y.backward(cot)
    np.testing.assert_array_equal(y.array, data)
    np.testing.assert_array_equal(x.grad.array, cot)


@SETTINGS
@given(case=shape_and_permutation(), seed=SEEDS)
def test_transpose_pairs_match_torch(case, seed, torch):
    shape, perm = case
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape)
    d0, d1 = perm[0], perm[-1]
    cot = rng.standard_normal(torch.empty(shape).transpose(d0, d1).shape)
    x = toynn.tensor(data, requires_grad=True)
    y = x.transpose(d0, d1)
    y.backward(cot)
    xt = torch.tensor(data, requires_grad=True)
    yt = xt.transpose(d0, d1)
    yt.backward(torch.tensor(cot))
    np.testing.assert_array_equal(y.array, yt.detach().numpy())
    np.testing.assert_array_equal(x.grad.array, xt.grad.numpy())
