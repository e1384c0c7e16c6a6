"""The machine room (toynn.runtime): parts across threads, errors from a thread, products split or whole,
elementwise ops split across threads, and scratch buffers reused between calls."""

from __future__ import annotations

import numpy as np
import pytest

import toynn
from toynn import runtime


@pytest.fixture
def threads():
    """Set toynn's thread count for one test (the batch splits across threads only where threadpoolctl exists)."""
    pytest.importorskip("threadpoolctl")
    before = runtime.get_num_threads()
    yield runtime.set_num_threads
    runtime.set_num_threads(before)


def test_an_error_in_a_thread_reaches_the_caller(threads):
    threads(2)

    def fail(a, b):
        if a:
            raise ValueError("part 2 failed")

    with pytest.raises(ValueError, match="part 2 failed"):
        runtime.parallel(fail, 8)
    assert runtime.parallel(lambda a, b: (a, b), 8) == [(0, 4), (4, 8)]


def test_nothing_or_one_step_of_work_is_one_call(threads):
    threads(2)
    assert runtime.parallel(lambda a, b: (a, b), 0) == [(0, 0)]  # an empty batch: no division by zero parts
    assert runtime.parallel(lambda a, b: (a, b), 3, step=4) == [(0, 3)]


def test_products_split_or_whole_give_the_same_result(threads, rng, monkeypatch):
    """runtime.gemm: whole on BLAS's threads when no op split recently, split across toynn's threads otherwise,
    and split in parts when big; every way gives a @ b."""
    threads(2)
    a, b = rng.standard_normal((70, 33)), rng.standard_normal((33, 50))
    monkeypatch.setattr(runtime._Threads, "last_split", float("-inf"))  # quiet: one BLAS call
    np.testing.assert_allclose(runtime.gemm(a, b), a @ b, rtol=1e-12, atol=1e-12)
    runtime.parallel(lambda s, e: None, 4)  # a split just now: the product stays off BLAS's threads
    assert runtime._Threads.last_split > float("-inf")
    np.testing.assert_allclose(runtime.gemm(a, b), a @ b, rtol=1e-12, atol=1e-12)
    monkeypatch.setattr(runtime, "PARALLEL_MACS", 64)  # big enough to split in parts, rows and then columns
    np.testing.assert_allclose(runtime.gemm(a, b), a @ b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(runtime.gemm(a[:10], b), a[:10] @ b, rtol=1e-12, atol=1e-12)


def test_elementwise_split_across_threads_covers_every_row(threads, rng, monkeypatch):
    """runtime.elementwise: the ReLU of a big activation split across threads == in one call; 0-d arrays too."""
    x = rng.standard_normal((7, 3, 4, 5)).transpose(1, 0, 2, 3)  # a strided view, as after a conv

    def relu_and_grad():
        t = toynn.tensor(x, requires_grad=True)
        y = toynn.relu(t)
        y.backward(np.cos(np.arange(y.numel())).reshape(y.shape))
        return y.array, t.grad.array

    threads(1)
    y_one, g_one = relu_and_grad()
    threads(3)
    monkeypatch.setattr(runtime, "ELEMENTWISE_SPLIT", 8)
    parts = []
    real = runtime.parallel
    monkeypatch.setattr(runtime, "parallel", lambda fn, n, xp: parts.append(n) or real(fn, n, xp))
    y, g = relu_and_grad()
    assert parts == [3, 3]  # forward and backward, each split over the first axis (NumPy's path at this size)
    np.testing.assert_array_equal(y, np.maximum(x, 0))
    np.testing.assert_array_equal(y, y_one)
    np.testing.assert_array_equal(g, g_one)
    np.testing.assert_array_equal(toynn.relu(toynn.tensor(np.float64(-2.0))).array, 0.0)


def test_part_size_splits_big_work_evenly_and_small_work_not(threads):
    threads(3)
    assert runtime.part_size(10, 100, 1000) == 10  # too little work: one part
    assert runtime.part_size(10, 2000, 1000) == 5  # two parts' worth
    assert runtime.part_size(10, 10**6, 1000) == 4  # as many parts as threads: 4 + 4 + 2


def test_scratch_is_reused_per_name_and_dtype():
    a = runtime.scratch(np, "test.a", (4, 5), np.float64)
    assert a.shape == (4, 5) and a.dtype == np.float64
    assert np.shares_memory(runtime.scratch(np, "test.a", (2, 3), np.float64), a)  # a smaller request reuses it
    assert not np.shares_memory(runtime.scratch(np, "test.b", (4, 5), np.float64), a)
    assert runtime.scratch(np, "test.a", (4, 5), np.float32).dtype == np.float32
    assert runtime.scratch(np, "test.a", (10, 10), np.float64).shape == (10, 10)  # grown on demand
