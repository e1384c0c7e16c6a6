"""Graph semantics of the backward walk: accumulation, grad mode, retain_graph, deep graphs,
freeing, leaves, in-place detection, memory and aliasing."""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import toynn
from toynn import ShapeError

from .devices import host


def f64(values, requires_grad=False):
    return toynn.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# ---------------------------------------------------------------------------------------------
# Accumulation


def test_diamond_graph_adds_both_paths(torch):
    # x feeds two branches that meet again: d/dx (2x * 3x) = 12x
    x = f64([1.0, -2.0, 3.0], requires_grad=True)
    a, b = x * 2, x * 3
    (a * b).sum().backward()
    np.testing.assert_allclose(x.grad.array, 12 * x.array, rtol=1e-14)

    xt = torch.tensor(host(x.array), requires_grad=True)
    ((xt * 2) * (xt * 3)).sum().backward()
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy(), rtol=1e-14)


def test_tensor_used_twice_in_one_op():
    x = f64([1.5, -0.5], requires_grad=True)
    (x * x + x + x).sum().backward()  # d/dx = 2x + 2
    np.testing.assert_allclose(x.grad.array, 2 * x.array + 2, rtol=1e-14)


def test_deep_diamond_with_shared_intermediate(torch):
    # y is shared by three consumers, one of them through another shared node
    data = np.array([[0.3, -1.2], [2.0, 0.7]])
    x = toynn.tensor(data, requires_grad=True)
    y = x.exp()
    z = y * y
    out = (z + y).sum() + (z * x).sum()
    out.backward()

    xt = torch.tensor(data, requires_grad=True)
    yt = xt.exp()
    zt = yt * yt
    ((zt + yt).sum() + (zt * xt).sum()).backward()
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy(), rtol=1e-13)


def test_grad_accumulates_across_backward_calls():
    x = f64([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.array, [3.0, 3.0])
    (x * x).sum().backward()  # a new graph; the gradient adds to the old one
    np.testing.assert_allclose(x.grad.array, [3.0 + 2.0, 3.0 + 4.0])


def test_broadcast_leaf_gets_summed_gradient(torch):
    b = f64([0.5, -1.0, 2.0], requires_grad=True)
    x = f64(np.arange(12.0).reshape(4, 3))
    (x * b).sum().backward()
    assert b.grad.shape == (3,)
    np.testing.assert_allclose(b.grad.array, x.array.sum(0))


# ---------------------------------------------------------------------------------------------
# Grad mode


def test_no_grad_records_nothing():
    x = f64([1.0, 2.0], requires_grad=True)
    with toynn.no_grad():
        assert not toynn.is_grad_enabled()
        y = (x * 2).exp().sum()
    assert toynn.is_grad_enabled()
    assert not y.requires_grad
    assert y.grad_fn is None and y.is_leaf
    with pytest.raises(RuntimeError):
        y.backward()
    assert x.grad is None


def test_no_grad_as_decorator_and_restores_mode_on_exception():
    @toynn.no_grad()
    def double(t):
        return t * 2

    @toynn.no_grad()
    def fail(t):
        raise KeyError("boom")

    x = f64([1.0], requires_grad=True)
    assert not double(x).requires_grad
    assert double.__name__ == "double"
    assert toynn.is_grad_enabled()
    with pytest.raises(KeyError):
        fail(x)
    assert toynn.is_grad_enabled()
    assert (x * 2).requires_grad


def test_no_grad_context_restores_mode_on_exception():
    with pytest.raises(ZeroDivisionError):
        with toynn.no_grad():
            raise ZeroDivisionError
    assert toynn.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = f64([1.0], requires_grad=True)
    with toynn.no_grad():
        with toynn.enable_grad():
            assert toynn.is_grad_enabled()
            y = x * 2
        assert not toynn.is_grad_enabled()
        z = x * 2
    assert y.requires_grad and y.grad_fn is not None
    assert not z.requires_grad

    @toynn.enable_grad()
    def double(t):
        return t * 2

    with toynn.no_grad():
        assert double(x).requires_grad
        assert not toynn.is_grad_enabled()


def test_set_grad_enabled_context_decorator_and_call():
    x = f64([1.0], requires_grad=True)
    with toynn.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with toynn.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not toynn.is_grad_enabled()
    assert toynn.is_grad_enabled()

    @toynn.set_grad_enabled(False)
    def double(t):
        return t * 2

    assert toynn.is_grad_enabled()  # building the decorator must not leave the mode off
    assert not double(x).requires_grad
    assert toynn.is_grad_enabled()

    try:  # a plain call switches the mode, as in PyTorch
        toynn.set_grad_enabled(False)
        assert not toynn.is_grad_enabled()
        assert not (x * 2).requires_grad
    finally:
        toynn.set_grad_enabled(True)
    assert toynn.is_grad_enabled()


def test_no_grad_result_can_start_a_new_graph():
    x = f64([1.0, 2.0], requires_grad=True)
    with toynn.no_grad():
        c = x * 10  # a constant
    (c * x).sum().backward()
    np.testing.assert_allclose(x.grad.array, c.array)


def test_no_grad_bare_decorator():
    @toynn.no_grad
    def double(t):
        return t * 2

    assert not double(f64([1.0], requires_grad=True)).requires_grad


# ---------------------------------------------------------------------------------------------
# retain_graph and a second backward


def test_retain_graph_allows_second_backward_and_grads_add():
    x = f64([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.array, [2.0, 4.0])
    y.backward()
    np.testing.assert_allclose(x.grad.array, [4.0, 8.0])


def test_second_backward_without_retain_graph_raises():
    x = f64([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    first = x.grad.array.copy()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    np.testing.assert_array_equal(x.grad.array, first)  # never a wrong (doubled or partial) gradient


def test_backward_through_freed_shared_subgraph_raises():
    x = f64([1.0, 2.0], requires_grad=True)
    y = x * 2
    (y * 3).sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (y * 4).sum().backward()
    np.testing.assert_allclose(x.grad.array, [6.0, 6.0])


def test_freed_intermediate_does_not_become_a_leaf():
    x = f64([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.sum().backward()
    assert not y.is_leaf
    assert y.requires_grad
    assert y.grad is None


# ---------------------------------------------------------------------------------------------
# Deep graphs and freeing


def test_ten_thousand_op_chain_mul():
    x = toynn.tensor(1.0, dtype=toynn.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**10_000, rel=1e-10)


def test_ten_thousand_op_chain_add_with_fanout():
    x = f64([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + 1
    (y * x).sum().backward()  # x also reaches the root directly: d/dx (x + n) x = 2x + n
    np.testing.assert_allclose(x.grad.array, 2 * x.array + 10_000)


def test_deep_graph_can_be_dropped_without_backward():
    x = f64([1.0], requires_grad=True)
    y = x
    for _ in range(50_000):
        y = y + 1
    ref = weakref.ref(y._ctx)
    del y
    gc.collect()
    assert ref() is None


def test_graph_is_freed_after_backward():
    x = f64([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    z = y.exp()
    loss = z.sum()
    refs = [weakref.ref(t._ctx) for t in (y, z, loss)]
    loss.backward()
    gc.collect()
    assert all(r() is None for r in refs)


def test_graph_is_kept_with_retain_graph():
    x = f64([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    ref = weakref.ref(y._ctx)
    y.sum().backward(retain_graph=True)
    gc.collect()
    assert ref() is not None


def test_grad_only_on_leaves():
    x = f64([1.0, 2.0], requires_grad=True)
    w = f64([3.0, 4.0], requires_grad=True)
    c = f64([5.0, 6.0])
    h = x * w
    out = (h * c).sum()
    out.backward()
    assert h.grad is None and out.grad is None
    assert c.grad is None  # a leaf that does not require grad gets nothing
    np.testing.assert_allclose(x.grad.array, w.array * c.array)
    np.testing.assert_allclose(w.grad.array, x.array * c.array)


def test_backward_on_non_scalar_needs_gradient():
    x = f64([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 2
    with pytest.raises(ShapeError, match=r"(?s)gradient.*\.sum\(\)"):
        y.backward()
    with pytest.raises(ValueError):  # ShapeError is a ValueError
        y.backward()
    y.backward(np.ones((2, 2)))
    np.testing.assert_allclose(x.grad.array, 2 * np.ones((2, 2)))


def test_backward_with_explicit_gradient_matches_torch(torch):
    data = np.array([[1.0, -2.0], [0.5, 3.0]])
    v = np.array([[0.1, 0.2], [-0.3, 0.4]])
    x = toynn.tensor(data, requires_grad=True)
    (x * x).backward(v)
    xt = torch.tensor(data, requires_grad=True)
    (xt * xt).backward(torch.tensor(v))
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy(), rtol=1e-14)


# ---------------------------------------------------------------------------------------------
# In-place ops and version counters


def test_inplace_on_saved_leaf_under_no_grad_raises():
    w = f64([1.0, 2.0], requires_grad=True)
    c = f64([3.0, 4.0])
    loss = (w * c).sum()  # Mul saved w for c's gradient... and c for w's
    with toynn.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match="in-place"):
        loss.backward()
    assert w.grad is None


def test_inplace_on_saved_constant_raises():
    w = f64([1.0, 2.0], requires_grad=True)
    c = f64([3.0, 4.0])
    loss = (w * c).sum()
    c.add_(1)  # c needs no grad, so this mutates its array, which Mul saved for w's gradient
    with pytest.raises(RuntimeError, match="in-place"):
        loss.backward()
    assert w.grad is None


def test_inplace_on_saved_output_raises():
    x = f64([1.0, 2.0], requires_grad=True)
    y = x.exp()  # Exp's backward reads its output
    loss = y.sum()
    with toynn.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match="in-place"):
        loss.backward()


def test_inplace_on_leaf_requiring_grad_raises():
    w = f64([1.0, 2.0], requires_grad=True)
    for op in (lambda: w.add_(1), lambda: w.mul_(2), lambda: w.zero_()):
        with pytest.raises(RuntimeError, match="in-place"):
            op()
    with pytest.raises(RuntimeError, match="in-place"):
        w += 1
    np.testing.assert_array_equal(w.array, [1.0, 2.0])


@pytest.mark.parametrize(
    "update",
    [
        lambda y: y.add_(1),
        lambda y: y.mul_(3),
        lambda y: y.sub_(0.5),
        lambda y: y.div_(4),
        lambda y: y.clamp_(-1, 2.5),
        lambda y: y.__setitem__(0, 5.0),
    ],
    ids=["add_", "mul_", "sub_", "div_", "clamp_", "setitem"],
)
def test_inplace_on_non_leaf_matches_torch(update, torch):
    data = np.array([1.0, -2.0, 3.0])
    x = toynn.tensor(data, requires_grad=True)
    y = x * 2
    update(y)
    (y * y).sum().backward()

    xt = torch.tensor(data, requires_grad=True)
    yt = xt * 2
    update(yt)
    (yt * yt).sum().backward()
    np.testing.assert_allclose(y.array, yt.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy(), rtol=1e-14)


def test_inplace_with_grad_operand_on_plain_tensor(torch):
    x = f64([1.0, 2.0], requires_grad=True)
    c = toynn.zeros(2, dtype=toynn.float64)
    c.add_(x * x)
    assert c.requires_grad and not c.is_leaf
    c.sum().backward()
    np.testing.assert_allclose(x.grad.array, 2 * x.array)


def test_grad_zero_():
    x = f64([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    x.grad.zero_()
    np.testing.assert_array_equal(x.grad.array, [0.0, 0.0])
    (x * 5).sum().backward()
    np.testing.assert_allclose(x.grad.array, [5.0, 5.0])


def test_sgd_by_hand(torch):
    data = np.array([1.0, -2.0, 0.5])
    lr = 0.1
    w = toynn.tensor(data, requires_grad=True)
    wt = torch.tensor(data, requires_grad=True)
    for _ in range(3):
        (w * w * w).sum().backward()
        with toynn.no_grad():
            w -= lr * w.grad
        w.grad.zero_()
        (wt * wt * wt).sum().backward()
        with torch.no_grad():
            wt -= lr * wt.grad
        wt.grad.zero_()
        assert w.is_leaf and w.requires_grad and w.grad_fn is None
        np.testing.assert_allclose(w.array, wt.detach().numpy(), rtol=1e-14)
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.array, 2 * w.array, rtol=1e-14)


def test_inplace_on_an_input_already_used_raises_even_if_unsaved():
    """toynn is conservative where PyTorch is not: any input changed in place after use stops backward."""
    x = f64([1.0, 2.0], requires_grad=True)
    y = x + 1  # Add saves nothing; PyTorch would allow this
    with toynn.no_grad():
        x.mul_(2)
    with pytest.raises(RuntimeError, match="in-place"):
        y.sum().backward()


def test_inplace_on_a_view_of_a_grad_tensor_raises_instead_of_diverging():
    """PyTorch writes y[0].mul_(10) through to y; toynn cannot, so it says so rather than differ silently."""
    x = f64([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1
    with pytest.raises(RuntimeError, match="view"):
        y[0].mul_(10)
    y[0] = x[0] * 10  # assigning into a grad tensor works when the value does not read y itself
    np.testing.assert_allclose(y.array, [[10.0, 20.0], [3.0, 4.0]])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, [[10.0, 10.0], [1.0, 1.0]])


# ---------------------------------------------------------------------------------------------
# Memory and aliasing


def test_memory_does_not_grow_over_training_iterations():
    rng = np.random.default_rng(0)
    params = [
        toynn.tensor(rng.standard_normal((8, 16)) * 0.3, requires_grad=True),
        toynn.tensor(np.zeros(16), requires_grad=True),
        toynn.tensor(rng.standard_normal((16, 4)) * 0.3, requires_grad=True),
        toynn.tensor(np.zeros(4), requires_grad=True),
    ]
    w1, b1, w2, b2 = params
    x = toynn.tensor(rng.standard_normal((32, 8)))
    target = toynn.tensor(rng.standard_normal((32, 4)))

    def step():
        out = (x @ w1 + b1).relu() @ w2 + b2
        loss = ((out - target) ** 2).mean()
        loss.backward()
        with toynn.no_grad():
            for p in params:
                p -= 0.05 * p.grad
                p.grad.zero_()
        return loss.item()

    first_loss = step()
    for _ in range(400):  # warm-up, untraced: Python's free lists and NumPy's caches fill up first
        step()
    tracemalloc.start()
    try:
        for _ in range(100):
            step()
        warm_current, warm_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(1000):
            last_loss = step()
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert last_loss < first_loss  # it really trained
    slack = 16 * 1024  # a leak of one graph per iteration would be megabytes
    assert current < warm_current + slack, f"memory grew from {warm_current} to {current} bytes"
    assert peak < warm_peak + slack, f"peak grew from {warm_peak} to {peak} bytes"


def test_leaf_grads_do_not_alias_each_other():
    a = f64([1.0, 2.0, 3.0], requires_grad=True)
    b = f64([4.0, 5.0, 6.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.array[0] = 100.0
    np.testing.assert_array_equal(b.grad.array, [1.0, 1.0, 1.0])
    a.grad.zero_()
    np.testing.assert_array_equal(b.grad.array, [1.0, 1.0, 1.0])


def test_leaf_grads_do_not_alias_the_passed_gradient():
    a = f64([1.0, 2.0, 3.0], requires_grad=True)
    b = f64([4.0, 5.0, 6.0], requires_grad=True)
    g = np.array([0.5, 1.5, 2.5])
    (a + b).backward(g)
    a.grad.array[:] = -1.0
    b.grad.array[:] = -2.0
    np.testing.assert_array_equal(g, [0.5, 1.5, 2.5])

    gt = f64([0.5, 1.5, 2.5])
    (a + b).backward(gt)  # accumulates in place into the existing grads
    np.testing.assert_array_equal(gt.array, [0.5, 1.5, 2.5])
    np.testing.assert_allclose(a.grad.array, [-0.5, 0.5, 1.5])


def test_leaf_grad_does_not_alias_gradient_of_leaf_root():
    x = f64([1.0, 2.0], requires_grad=True)
    g = np.array([3.0, 4.0])
    x.backward(g)
    x.grad.array[0] = 0.0
    np.testing.assert_array_equal(g, [3.0, 4.0])


def test_leaf_grads_do_not_alias_through_views():
    # reshape and expand pass (views of) the same gradient to several leaves
    a = f64(np.ones((2, 3)), requires_grad=True)
    b = f64(np.ones(6), requires_grad=True)
    c = f64(np.ones((2, 3)), requires_grad=True)
    (a + b.reshape(2, 3) + c.clone()).sum().backward()
    a.grad.array[...] = 7.0
    np.testing.assert_array_equal(b.grad.array, np.ones(6))
    np.testing.assert_array_equal(c.grad.array, np.ones((2, 3)))
    assert _writeable(a.grad.array) and _writeable(b.grad.array) and _writeable(c.grad.array)


def _writeable(array) -> bool:
    """NumPy's flags.writeable; CuPy's arrays have no read-only mode (their flags lack `writeable`)."""
    return array.flags.writeable if isinstance(array, np.ndarray) else True
