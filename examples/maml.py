"""MAML (Finn et al., 2017) on sine-wave regression: the inner SGD step is kept in the graph (create_graph=True),
so the meta-gradient goes through it, a second derivative of the loss.

The same code runs on toynn and on PyTorch (`lib` is either module), from the same initial weights and the same
tasks, so the two can be compared number for number (tests/test_higher_order.py does).
Usage: python examples/maml.py [--torch]
"""

from __future__ import annotations

import sys

import numpy as np


def initial_weights(seed: int = 0, hidden: int = 40) -> list[np.ndarray]:
    """1 -> hidden -> hidden -> 1 MLP, float64, PyTorch's Linear layout and initial ranges."""
    rng = np.random.default_rng(seed)
    sizes = [(1, hidden), (hidden, hidden), (hidden, 1)]
    weights = []
    for n_in, n_out in sizes:
        bound = 1 / np.sqrt(n_in)
        weights += [rng.uniform(-bound, bound, (n_out, n_in)), rng.uniform(-bound, bound, n_out)]
    return weights


def sine_task(rng, k: int):
    """A task: y = a sin(x + phase); k support and k query points in [-5, 5]."""
    a, phase = rng.uniform(0.1, 5.0), rng.uniform(0, np.pi)
    xs = rng.uniform(-5, 5, (2 * k, 1))
    ys = a * np.sin(xs + phase)
    return xs[:k], ys[:k], xs[k:], ys[k:]


def forward(lib, params, x):
    F = lib.nn.functional
    h = F.relu(F.linear(x, params[0], params[1]))
    h = F.relu(F.linear(h, params[2], params[3]))
    return F.linear(h, params[4], params[5])


def train(lib, steps: int = 10, tasks: int = 4, k: int = 10, inner_lr: float = 0.01, seed: int = 0):
    """Meta-training; returns the meta-losses per step and the final weights (NumPy)."""
    F = lib.nn.functional
    params = [lib.tensor(w, requires_grad=True) for w in initial_weights(seed)]
    opt = lib.optim.Adam(params, lr=1e-3)
    rng = np.random.default_rng(seed + 1)
    meta_losses = []
    for _ in range(steps):
        meta_loss = 0
        for _ in range(tasks):
            xs, ys, xq, yq = (lib.tensor(a) for a in sine_task(rng, k))
            support_loss = F.mse_loss(forward(lib, params, xs), ys)
            grads = lib.autograd.grad(support_loss, params, create_graph=True)  # the inner step, differentiable
            adapted = [p - inner_lr * g for p, g in zip(params, grads)]
            meta_loss = meta_loss + F.mse_loss(forward(lib, adapted, xq), yq)
        meta_loss = meta_loss / tasks
        opt.zero_grad()
        meta_loss.backward()  # through the inner step: second derivatives of the support loss
        opt.step()
        meta_losses.append(meta_loss.item())
    return meta_losses, [p.detach().numpy() for p in params]


if __name__ == "__main__":
    if "--torch" in sys.argv:
        import torch as lib
    else:
        import toynn as lib
    losses, _ = train(lib, steps=100)
    last = np.mean(losses[-10:])
    print(f"{lib.__name__}: meta-loss {losses[0]:.4f} -> {losses[-1]:.4f} (mean of the last 10: {last:.4f})")
