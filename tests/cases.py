"""The op table: each case runs the same code on toynn and on PyTorch (their APIs match).

fn(lib, *tensors) is called with lib = toynn or torch; make builds the float64 inputs from a
seeded generator, kept off kinks (ReLU at 0, ties in max) so that finite differences hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


def randn(rng, shape):
    return rng.standard_normal(shape)


def away_from_zero(rng, shape):
    """|x| >= 0.1, so ReLU, abs and clamp are smooth within eps."""
    x = rng.standard_normal(shape)
    return np.where(x >= 0, x + 0.1, x - 0.1)


def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def distinct(rng, shape):
    """All values distinct and at least 0.01 apart: max and pooling have no ties."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.05 + rng.uniform(0, 0.01, n) - n * 0.025).reshape(shape)


def off_bounds(rng, shape):
    """Values away from clamp's bounds -0.5 and 0.5."""
    x = rng.uniform(-1.5, 1.5, shape)
    for b in (-0.5, 0.5):
        x = np.where(np.abs(x - b) < 0.05, x + 0.1, x)
    return x


@dataclass
class Case:
    name: str
    fn: Callable  # fn(lib, *tensors) -> tensor, for lib in (toynn, torch)
    shapes: list[tuple]
    make: Callable | list[Callable] = randn
    ref: Callable | None = None  # optional NumPy reference on float64 arrays
    grad: list[bool] = field(default_factory=list)  # which inputs are differentiated (default all)

    def inputs(self, rng):
        makes = self.make if isinstance(self.make, list) else [self.make] * len(self.shapes)
        return [m(rng, s) for m, s in zip(makes, self.shapes)]

    def needs_grad(self):
        return self.grad or [True] * len(self.shapes)


IDX = np.array([0, 2, 2, 1])  # repeats: the gradient must add up at index 2
MASK = np.array([[True, False, True], [False, True, True]])

CASES = [
    # elementwise binary, broadcasting included
    Case("add", lambda m, a, b: a + b, [(3, 4), (3, 4)], ref=np.add),
    Case("add/broadcast", lambda m, a, b: a + b, [(2, 3, 4), (4,)], ref=np.add),
    Case("add/broadcast-both", lambda m, a, b: a + b, [(3, 1), (1, 4)], ref=np.add),
    Case("add/scalar", lambda m, a: 2.5 + a, [(3,)], ref=lambda a: 2.5 + a),
    Case("sub/broadcast", lambda m, a, b: a - b, [(3, 4), (3, 1)], ref=np.subtract),
    Case("rsub/scalar", lambda m, a: 1 - a, [(2, 3)], ref=lambda a: 1 - a),
    Case("mul/broadcast", lambda m, a, b: a * b, [(3, 4), (4,)], ref=np.multiply),
    Case("mul/scalar", lambda m, a: a * 3, [(2, 2)], ref=lambda a: a * 3),
    Case("div/broadcast", lambda m, a, b: a / b, [(3, 4), (1, 4)], [randn, positive], ref=np.divide),
    Case("rdiv/scalar", lambda m, a: 2 / a, [(3,)], positive, ref=lambda a: 2 / a),
    Case("pow/scalar", lambda m, a: a**3, [(2, 3)], ref=lambda a: a**3),
    Case("pow/fractional", lambda m, a: a**1.5, [(2, 3)], positive, ref=lambda a: a**1.5),
    Case("pow/negative", lambda m, a: a**-2, [(4,)], positive, ref=lambda a: a**-2.0),
    Case("pow/tensor", lambda m, a, b: a**b, [(2, 3), (2, 3)], [positive, randn], ref=np.power),
    Case("pow/tensor-broadcast", lambda m, a, b: a**b, [(2, 3), (3,)], [positive, randn], ref=np.power),
    Case("rpow/scalar-base", lambda m, a: 2**a, [(3,)], ref=lambda a: 2**a),
    Case("neg", lambda m, a: -a, [(3, 2)], ref=np.negative),
    Case("maximum", lambda m, a, b: m.maximum(a, b), [(3, 4), (4,)], distinct, ref=np.maximum),
    Case("minimum", lambda m, a, b: m.minimum(a, b), [(3, 4), (3, 4)], distinct, ref=np.minimum),
    Case(
        "where",
        lambda m, a, b: m.where(a > 0, a, b),
        [(3, 4), (4,)],
        [away_from_zero, randn],
        ref=lambda a, b: np.where(a > 0, a, b),
    ),
    # matmul
    Case("matmul/2d", lambda m, a, b: a @ b, [(3, 4), (4, 5)], ref=np.matmul),
    Case("matmul/batched", lambda m, a, b: a @ b, [(2, 3, 4), (2, 4, 5)], ref=np.matmul),
    Case("matmul/batch-broadcast", lambda m, a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)], ref=np.matmul),
    Case("matmul/3d-2d", lambda m, a, b: a @ b, [(2, 3, 4), (4, 5)], ref=np.matmul),
    Case("matmul/vec-mat", lambda m, a, b: a @ b, [(4,), (4, 5)], ref=np.matmul),
    Case("matmul/mat-vec", lambda m, a, b: a @ b, [(3, 4), (4,)], ref=np.matmul),
    Case("matmul/dot", lambda m, a, b: m.matmul(a, b), [(4,), (4,)], ref=np.matmul),
    # elementwise unary
    Case("exp", lambda m, a: a.exp(), [(3, 4)], ref=np.exp),
    Case("log", lambda m, a: m.log(a), [(3, 4)], positive, ref=np.log),
    Case("sqrt", lambda m, a: a.sqrt(), [(3, 4)], positive, ref=np.sqrt),
    Case("abs", lambda m, a: a.abs(), [(3, 4)], away_from_zero, ref=np.abs),
    Case("sin", lambda m, a: m.sin(a), [(3, 4)], ref=np.sin),
    Case("cos", lambda m, a: m.cos(a), [(3, 4)], ref=np.cos),
    Case("tanh", lambda m, a: a.tanh(), [(3, 4)], ref=np.tanh),
    Case("sigmoid", lambda m, a: m.sigmoid(a), [(3, 4)], ref=lambda a: 1 / (1 + np.exp(-a))),
    Case("relu", lambda m, a: m.relu(a), [(3, 4)], away_from_zero, ref=lambda a: np.maximum(a, 0)),
    Case("clamp", lambda m, a: m.clamp(a, -0.5, 0.5), [(3, 4)], off_bounds, ref=lambda a: np.clip(a, -0.5, 0.5)),
    Case("clamp/min", lambda m, a: a.clamp(min=-0.5), [(3, 4)], off_bounds, ref=lambda a: np.maximum(a, -0.5)),
    # reductions
    Case("sum", lambda m, a: a.sum(), [(3, 4)], ref=np.sum),
    Case("sum/dim", lambda m, a: a.sum(dim=1), [(3, 4, 2)], ref=lambda a: a.sum(1)),
    Case(
        "sum/dims-keepdim",
        lambda m, a: a.sum(dim=(0, 2), keepdim=True),
        [(3, 4, 2)],
        ref=lambda a: a.sum((0, 2), keepdims=True),
    ),
    Case("sum/negative-dim", lambda m, a: a.sum(-1), [(3, 4)], ref=lambda a: a.sum(-1)),
    Case("mean", lambda m, a: a.mean(), [(3, 4)], ref=np.mean),
    Case("mean/dim-keepdim", lambda m, a: a.mean(0, keepdim=True), [(3, 4)], ref=lambda a: a.mean(0, keepdims=True)),
    Case("var", lambda m, a: a.var(), [(3, 4)], ref=lambda a: a.var(ddof=1)),
    Case("var/dim-biased", lambda m, a: a.var(1, unbiased=False), [(3, 4)], ref=lambda a: a.var(1)),
    Case(
        "var/correction-keepdim",
        lambda m, a: a.var(dim=0, keepdim=True, correction=1),
        [(5, 2)],
        ref=lambda a: a.var(0, ddof=1, keepdims=True),
    ),
    Case("std", lambda m, a: a.std(dim=1), [(3, 4)], ref=lambda a: a.std(1, ddof=1)),
    Case("max", lambda m, a: a.max(), [(3, 4)], distinct, ref=np.max),
    Case("max/dim", lambda m, a: a.max(dim=1)[0], [(3, 4)], distinct, ref=lambda a: a.max(1)),
    Case(
        "max/dim-keepdim",
        lambda m, a: a.max(0, keepdim=True).values,
        [(3, 4)],
        distinct,
        ref=lambda a: a.max(0, keepdims=True),
    ),
    Case("min/dim", lambda m, a: m.min(a, dim=-1).values, [(3, 4)], distinct, ref=lambda a: a.min(-1)),
    Case("amax/dims", lambda m, a: a.amax(dim=(0, 2)), [(2, 3, 4)], distinct, ref=lambda a: a.max((0, 2))),
    Case("logsumexp", lambda m, a: a.logsumexp(dim=1), [(3, 4)], ref=lambda a: np.log(np.exp(a).sum(1))),
    Case(
        "logsumexp/keepdim",
        lambda m, a: m.logsumexp(a, dim=0, keepdim=True),
        [(3, 4)],
        ref=lambda a: np.log(np.exp(a).sum(0, keepdims=True)),
    ),
    Case(
        "softmax", lambda m, a: m.softmax(a, dim=1), [(3, 4)], ref=lambda a: np.exp(a) / np.exp(a).sum(1, keepdims=True)
    ),
    Case(
        "log_softmax",
        lambda m, a: a.log_softmax(dim=-1),
        [(3, 4)],
        ref=lambda a: a - np.log(np.exp(a).sum(-1, keepdims=True)),
    ),
    # movement
    Case("reshape", lambda m, a: a.reshape(4, -1), [(2, 3, 2)], ref=lambda a: a.reshape(4, 3)),
    Case("view", lambda m, a: a.view(6, 2), [(3, 4)], ref=lambda a: a.reshape(6, 2)),
    Case("transpose", lambda m, a: a.transpose(0, 2), [(2, 3, 4)], ref=lambda a: a.swapaxes(0, 2)),
    Case("permute", lambda m, a: a.permute(2, 0, 1), [(2, 3, 4)], ref=lambda a: a.transpose(2, 0, 1)),
    Case("T", lambda m, a: a.T, [(3, 4)], ref=lambda a: a.T),
    Case("flatten", lambda m, a: a.flatten(1), [(2, 3, 4)], ref=lambda a: a.reshape(2, 12)),
    Case("flatten/all", lambda m, a: m.flatten(a), [(2, 3, 4)], ref=lambda a: a.ravel()),
    Case("squeeze", lambda m, a: a.squeeze(), [(1, 3, 1, 2)], ref=np.squeeze),
    Case("squeeze/dim", lambda m, a: a.squeeze(2), [(1, 3, 1, 2)], ref=lambda a: a.squeeze(2)),
    Case("unsqueeze", lambda m, a: a.unsqueeze(1), [(3, 2)], ref=lambda a: a[:, None]),
    Case("unsqueeze/negative", lambda m, a: a.unsqueeze(-1), [(3, 2)], ref=lambda a: a[..., None]),
    Case("expand", lambda m, a: a.expand(2, 3, -1), [(3, 1)], ref=lambda a: np.broadcast_to(a, (2, 3, 1))),
    Case("expand/grow", lambda m, a: a.expand(4, 3), [(1, 3)], ref=lambda a: np.broadcast_to(a, (4, 3))),
    Case(
        "broadcast_to", lambda m, a: m.broadcast_to(a, (2, 3, 4)), [(3, 1)], ref=lambda a: np.broadcast_to(a, (2, 3, 4))
    ),
    Case("cat", lambda m, a, b: m.cat([a, b], dim=1), [(2, 3), (2, 2)], ref=lambda a, b: np.concatenate([a, b], 1)),
    Case(
        "cat/three",
        lambda m, a, b, c: m.cat((a, b, c)),
        [(1, 3), (2, 3), (1, 3)],
        ref=lambda a, b, c: np.concatenate([a, b, c]),
    ),
    Case("stack", lambda m, a, b: m.stack([a, b], dim=1), [(2, 3), (2, 3)], ref=lambda a, b: np.stack([a, b], 1)),
    Case("pad", lambda m, a: m.nn.functional.pad(a, (1, 2)), [(2, 3)], ref=lambda a: np.pad(a, ((0, 0), (1, 2)))),
    Case(
        "pad/2d-value",
        lambda m, a: m.nn.functional.pad(a, (1, 0, 2, 1), value=0.5),
        [(2, 3, 3)],
        ref=lambda a: np.pad(a, ((0, 0), (2, 1), (1, 0)), constant_values=0.5),
    ),
    # indexing
    Case("getitem/int", lambda m, a: a[1], [(3, 4)], ref=lambda a: a[1]),
    Case("getitem/slice", lambda m, a: a[1:, ::2], [(3, 4)], ref=lambda a: a[1:, ::2]),
    Case("getitem/negative-step-free", lambda m, a: a[:, -1], [(3, 4)], ref=lambda a: a[:, -1]),
    Case("getitem/none-ellipsis", lambda m, a: a[None, ..., 1], [(3, 4)], ref=lambda a: a[None, ..., 1]),
    Case("getitem/int-array-repeats", lambda m, a: a[m.tensor(IDX)], [(3, 4)], ref=lambda a: a[IDX]),
    Case("getitem/bool-mask", lambda m, a: a[m.tensor(MASK)], [(2, 3)], ref=lambda a: a[MASK]),
    Case("getitem/mixed", lambda m, a: a[1:, m.tensor(IDX)], [(3, 4)], ref=lambda a: a[1:, IDX]),
    Case("getitem/mask-from-tensor", lambda m, a: a[a > 0], [(3, 4)], away_from_zero, ref=lambda a: a[a > 0]),
    # composites of several ops
    Case(
        "lecture/J=cos(sin(x^2)+3x^2)",
        lambda m, x: m.cos(m.sin(x**2) + 3 * x**2),
        [(5,)],
        ref=lambda x: np.cos(np.sin(x**2) + 3 * x**2),
    ),
    Case(
        "mlp",
        lambda m, x, w1, w2: m.tanh(x @ w1).relu() @ w2,
        [(4, 3), (3, 5), (5, 2)],
        [randn, randn, randn],
        ref=lambda x, w1, w2: np.maximum(np.tanh(x @ w1), 0) @ w2,
    ),
]
