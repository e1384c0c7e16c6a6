"""A small float64 MLP trained data-parallel under `mpirun -n 2`; imported by the tests for the one-process reference.

Modes: "split" feeds each rank its half of a fixed global batch per step (SGD with momentum); "loader" trains
epochs through DistributedLoader (Adam), whose shards the reference rebuilds from the padded permutation.
--fail makes rank 1 exit, raise or hang at step --fail-at, to check that the job ends instead of hanging.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

import toynn
from toynn import nn, optim

N, FEATURES, CLASSES = 37, 12, 3
GLOBAL_BATCH, STEPS = 8, 6  # split mode: 4 rows per rank and step
RANK_BATCH, EPOCHS, SHUFFLE_SEED = 4, 2, 3  # loader mode: 37 rows padded to 38, 5 steps per epoch


def build_model(seed: int):
    toynn.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(FEATURES, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, CLASSES)
    ).double()


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, FEATURES)), rng.integers(0, CLASSES, N)


def make_optimizer(model, mode: str):
    if mode == "split":
        return optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    return optim.Adam(model.parameters(), lr=0.01)


def step(model, opt, x, y, dist=None) -> float:
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(toynn.tensor(x)), toynn.tensor(y))
    loss.backward()
    if dist is not None:
        dist.all_reduce_gradients(model)
    opt.step()
    return float(loss.item())


def split_rows(s: int) -> np.ndarray:
    """Rows of global batch s: (GLOBAL_BATCH,), wrapping around the data."""
    return (np.arange(GLOBAL_BATCH) + GLOBAL_BATCH * s) % N


def padded_order(epoch: int, replicas: int = 2) -> np.ndarray:
    """The seeded permutation of epoch, padded by its head to a multiple of replicas (DistributedSampler's rule)."""
    order = np.random.default_rng(SHUFFLE_SEED + epoch).permutation(N)
    total = -(-N // replicas) * replicas
    return np.concatenate([order, order[: total - N]])


def reference(mode: str) -> dict[str, np.ndarray]:
    """Weights after one process trains on whole global batches (rank 0's initial weights)."""
    x, y = data()
    model = build_model(seed=1)
    opt = make_optimizer(model, mode)
    if mode == "split":
        for s in range(STEPS):
            step(model, opt, x[split_rows(s)], y[split_rows(s)])
    else:
        for epoch in range(EPOCHS):
            order = padded_order(epoch)
            for start in range(0, len(order), 2 * RANK_BATCH):  # rank 0's and rank 1's batch together
                rows = order[start : start + 2 * RANK_BATCH]
                step(model, opt, x[rows], y[rows])
    return {name: p.array.copy() for name, p in model.state_dict().items()}


def _maybe_fail(args, rank: int, s: int) -> None:
    if rank != 1 or args.fail == "none" or s != args.fail_at:
        return
    print(f"rank 1: failing on purpose ({args.fail}) at step {s}", flush=True)
    if args.fail == "exit":
        os._exit(3)
    if args.fail == "raise":
        raise RuntimeError("rank 1 failed on purpose")
    time.sleep(600)  # "hang": rank 0 waits in its next Allreduce until the watchdog aborts the job


def main() -> int:
    from safetensors.numpy import save_file

    import toynn.train.distributed as distributed

    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("split", "loader"), default="split")
    parser.add_argument("--out", required=True)
    parser.add_argument("--bucket-mb", type=float, default=4.0)
    parser.add_argument("--fail", choices=("none", "exit", "raise", "hang"), default="none")
    parser.add_argument("--fail-at", type=int, default=2)
    args = parser.parse_args()

    dist = distributed.init(bucket_mb=args.bucket_mb)
    x, y = data()
    model = build_model(seed=1 + dist.rank)  # different on each rank until the broadcast
    dist.broadcast_parameters(model)
    opt = make_optimizer(model, args.mode)
    epochs = []
    if args.mode == "split":
        half = GLOBAL_BATCH // dist.world_size
        for s in range(STEPS):
            _maybe_fail(args, dist.rank, s)
            rows = split_rows(s)[dist.rank * half : (dist.rank + 1) * half]
            step(model, opt, x[rows], y[rows], dist)
    else:
        loader = distributed.DistributedLoader(toynn.data.TensorDataset(x, y), batch_size=RANK_BATCH, seed=SHUFFLE_SEED)
        s = 0
        for epoch in range(EPOCHS):
            loader.set_epoch(epoch)
            seen, loss_sum = 0, 0.0
            for xb, yb in loader:
                _maybe_fail(args, dist.rank, s)
                loss_sum += step(model, opt, xb.array, yb.array, dist) * len(yb)
                seen, s = seen + len(yb), s + 1
            epochs.append(dist.reduce_metrics({"seen": seen, "loss_sum": loss_sum, "steps": len(loader)}))
    out = Path(args.out)
    weights = {name: np.ascontiguousarray(p.array) for name, p in model.state_dict().items()}
    save_file(weights, str(out / f"rank{dist.rank}.safetensors"))  # every rank: the test checks they agree
    if dist.is_main:
        (out / "metrics.json").write_text(json.dumps({"world_size": dist.world_size, "epochs": epochs}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
