"""What a Hessian-vector product costs next to a gradient, for the MLP 784-512-10 and LeNet-5 at batch 64
(cross-entropy, all parameters): toynn's reverse-over-reverse and forward-over-reverse, and PyTorch's double
backward for comparison. The issue's bound: an HVP at most 4x a gradient.

python benchmarks/bench_higher.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent.parent))

from bench_models import lenet  # noqa: E402
from bench_train import mlp  # noqa: E402
from harness import SETTLE_S, machine, median_time  # noqa: E402


def _fns(lib, model, x, y):
    """(gradient, hvp) closures over the model's parameters, for lib = toynn or torch."""
    params = list(model.parameters())
    loss_fn = lib.nn.CrossEntropyLoss()
    vs = [lib.ones_like(p) * 0.01 for p in params]

    def gradient():
        return lib.autograd.grad(loss_fn(model(x), y), params)

    def hvp():
        gs = lib.autograd.grad(loss_fn(model(x), y), params, create_graph=True)
        inner = sum((g * v).sum() for g, v in zip(gs, vs))
        return lib.autograd.grad(inner, params)

    return gradient, hvp


def _forward_over_reverse(toynn, model, x, y):
    """toynn's HVP the other way: the gradient computation under forward mode, tangent v on every parameter."""
    params = list(model.parameters())
    loss_fn = toynn.nn.CrossEntropyLoss()
    tangents = [np.ones(p.shape, dtype=np.float32) * 0.01 for p in params]

    def hvp():
        from toynn.tensor import _Mode

        for p, t in zip(params, tangents):
            p.tangent = t
        _Mode.forward_level += 1
        try:
            gs = toynn.autograd.grad(loss_fn(model(x), y), params, create_graph=True)
            return [g.tangent for g in gs]
        finally:
            _Mode.forward_level -= 1
            for p in params:
                p.tangent = None

    return hvp


def main() -> None:
    import torch

    import toynn

    torch.set_num_threads(2)
    print(machine())
    rng = np.random.default_rng(0)
    rows = []
    for name, build, shape in (("MLP 784-512-10", mlp, (64, 784)), ("LeNet-5", lenet, (64, 1, 28, 28))):
        x = rng.random(shape, dtype=np.float32)
        y = rng.integers(0, 10, shape[0])
        ours, theirs = build(toynn), build(torch)
        g, h = _fns(toynn, ours, toynn.tensor(x), toynn.tensor(y))
        f = _forward_over_reverse(toynn, ours, toynn.tensor(x), toynn.tensor(y))
        tg, th = _fns(torch, theirs, torch.from_numpy(x), torch.from_numpy(y))
        times = {k: [] for k in ("grad", "hvp", "fwd", "tgrad", "thvp")}
        for _ in range(5):  # alternate, so that a drift of the machine's speed hits all alike
            for key, fn in (("grad", g), ("hvp", h), ("fwd", f), ("tgrad", tg), ("thvp", th)):
                time.sleep(SETTLE_S)
                times[key].append(median_time(fn, repeat=5))
        med = {k: statistics.median(v) for k, v in times.items()}
        rows.append((name, med))
    print(
        "| model, batch 64 | toynn gradient | HVP rev-over-rev (x grad) | HVP fwd-over-rev (x grad) "
        "| PyTorch gradient | PyTorch HVP (x grad) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name, m in rows:
        print(
            f"| {name} | {m['grad'] * 1e3:.2f} ms | {m['hvp'] * 1e3:.2f} ms ({m['hvp'] / m['grad']:.2f}x) "
            f"| {m['fwd'] * 1e3:.2f} ms ({m['fwd'] / m['grad']:.2f}x) | {m['tgrad'] * 1e3:.2f} ms "
            f"| {m['thvp'] * 1e3:.2f} ms ({m['thvp'] / m['tgrad']:.2f}x) |"
        )


if __name__ == "__main__":
    main()
