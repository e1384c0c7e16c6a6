"""Core benchmarks: per-op overhead and a 512x512 matmul, forward + backward, toynn vs PyTorch."""

from __future__ import annotations

import numpy as np
from harness import compare


def op_overhead(toynn, torch) -> dict:
    """An add of two 1-element tensors, forward + backward: pure per-op and per-walk cost."""
    a, b = toynn.tensor([1.0], requires_grad=True), toynn.tensor([2.0], requires_grad=True)
    ta, tb = torch.tensor([1.0], requires_grad=True), torch.tensor([2.0], requires_grad=True)

    def ours():
        (a + b).backward(np.ones(1, np.float32))

    def theirs():
        (ta + tb).backward(torch.ones(1))

    return compare("add 1-element, forward + backward", ours, theirs)


def matmul(toynn, torch, n: int = 512) -> dict:
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    g = np.ones((n, n), np.float32)
    a, b = toynn.tensor(x, requires_grad=True), toynn.tensor(w, requires_grad=True)
    ta, tb = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    tg = torch.tensor(g)

    def ours():
        a.grad = b.grad = None
        (a @ b).backward(g)

    def theirs():
        ta.grad = tb.grad = None
        (ta @ tb).backward(tg)

    return compare(f"matmul {n}x{n} float32, forward + backward", ours, theirs)


BENCHMARKS = [op_overhead, matmul]
TARGETS = {"add 1-element, forward + backward": 2.0, "matmul 512x512 float32, forward + backward": 1.1}
