"""Training-step benchmarks: forward, backward and SGD update of whole models, toynn vs PyTorch."""

from __future__ import annotations

import numpy as np
from harness import compare


def _copy_weights(torch, ours, theirs) -> None:
    for p, q in zip(ours.parameters(), theirs.parameters()):
        q.data.copy_(torch.from_numpy(p.array.copy()))


def _step_pair(toynn, torch, build, x: np.ndarray, y: np.ndarray, lr: float = 0.01):
    """One training step in each library on the same model, weights and batch."""
    model, ref = build(toynn), build(torch)
    _copy_weights(torch, model, ref)
    return step_fns(toynn, torch, model, ref, x, y, lr)


def step_fns(toynn, torch, model, ref, x: np.ndarray, y: np.ndarray, lr: float = 0.01):
    """(ours, theirs): one SGD-with-momentum training step of model (toynn) and ref (its PyTorch twin) on x, y."""
    opt = toynn.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=lr, momentum=0.9)
    loss_fn, ref_loss_fn = toynn.nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    xt, yt = toynn.tensor(x), toynn.tensor(y)
    rx, ry = torch.from_numpy(x), torch.from_numpy(y)

    def ours():
        opt.zero_grad()
        loss_fn(model(xt), yt).backward()
        opt.step()

    def theirs():
        ref_opt.zero_grad()
        ref_loss_fn(ref(rx), ry).backward()
        ref_opt.step()

    return ours, theirs


def mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))


def mlp_step(toynn, torch, batch: int = 64) -> dict:
    rng = np.random.default_rng(0)
    x = rng.random((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    ours, theirs = _step_pair(toynn, torch, mlp, x, y)
    return compare(f"MLP 784-512-10 train step, batch {batch}", ours, theirs)


BENCHMARKS = [mlp_step]
TARGETS = {"MLP 784-512-10 train step, batch 64": 1.3}
