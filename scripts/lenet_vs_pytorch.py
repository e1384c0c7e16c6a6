"""Train LeNet-5 on real MNIST with toynn and with PyTorch, same recipe, same initial weights, same batches.

For each seed, toynn.manual_seed(seed) initialises toynn.models.LeNet5, and the same weights are copied into a
PyTorch LeNet-5 of the same definition; a NumPy generator seeded with the seed shuffles the training set, so
both frameworks see the same batches in the same order. They differ only in floating-point rounding.

Recipe (the defaults): batch 64, Adam lr 0.002 (betas 0.9, 0.999), cosine annealing to 0 over all steps
(stepped per batch), 5 epochs, inputs normalised with MNIST's mean 0.1307 and std 0.3081, no augmentation,
float32. Each run (framework, seed) is a fresh process; --jobs runs them side by side.

python scripts/lenet_vs_pytorch.py --data-dir ../shared/data/mnist               # seeds 0 1 2, both frameworks
python scripts/lenet_vs_pytorch.py --threads 1 --jobs 2                          # two runs at a time, 1 thread each
python scripts/lenet_vs_pytorch.py --only torch --seeds 0 --optimizer sgd --lr 0.05  # try a recipe quickly
"""

from __future__ import annotations

import argparse
import concurrent.futures
import math
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MEAN, STD = 0.1307, 0.3081


def load_mnist(root, train_size: int | None = None):
    """(x_train, y_train, x_test, y_test): float32 (N, 1, 28, 28) normalised, int64 labels."""
    from toynn.data.registry import get_dataset

    x, y = get_dataset("mnist", root, train=True).arrays()
    xt, yt = get_dataset("mnist", root, train=False).arrays()
    if train_size is not None:
        x, y = x[:train_size], y[:train_size]
    return (x - MEAN) / STD, y, (xt - MEAN) / STD, yt


def torch_lenet(torch):
    """LeNet-5 in plain PyTorch, the same definition as toynn.models.LeNet5 (so the state_dict keys agree)."""
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def cosine_lr(lr: float, step: int, total: int) -> float:
    """Cosine annealing from lr to 0 over `total` steps (CosineAnnealingLR's closed form)."""
    return lr * (1 + math.cos(math.pi * step / total)) / 2


def make_optimizer(optim, params, args):
    if args.optimizer == "sgd":
        return optim.SGD(params, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
    return optim.Adam(params, lr=args.lr, weight_decay=args.weight_decay)


class ToynnRunner:
    def __init__(self, seed: int, args):
        import toynn
        import toynn.nn.functional as F
        import toynn.optim as optim
        from toynn.models import LeNet5

        toynn.manual_seed(seed)
        self.toynn, self.F = toynn, F
        self.model = LeNet5()
        self.opt = make_optimizer(optim, self.model.parameters(), args)

    def initial_state(self) -> dict[str, np.ndarray]:
        return {k: v.array.copy() for k, v in self.model.state_dict().items()}

    def set_lr(self, lr: float) -> None:
        for group in self.opt.param_groups:
            group["lr"] = lr

    def step(self, x: np.ndarray, y: np.ndarray) -> None:
        self.opt.zero_grad()
        self.F.cross_entropy(self.model(self.toynn.tensor(x)), self.toynn.tensor(y)).backward()
        self.opt.step()

    def predict(self, x: np.ndarray) -> np.ndarray:
        self.model.eval()
        with self.toynn.no_grad():
            out = self.model(self.toynn.tensor(x)).array.argmax(1)
        self.model.train()
        return out


class TorchRunner:
    def __init__(self, seed: int, args, state: dict[str, np.ndarray] | None):
        import torch

        torch.set_num_threads(args.threads)
        torch.manual_seed(seed)
        self.torch = torch
        self.model = torch_lenet(torch)
        if state is not None:  # the same initial weights as toynn's
            self.model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
        self.opt = make_optimizer(torch.optim, self.model.parameters(), args)

    def set_lr(self, lr: float) -> None:
        for group in self.opt.param_groups:
            group["lr"] = lr

    def step(self, x: np.ndarray, y: np.ndarray) -> None:
        torch = self.torch
        self.opt.zero_grad()
        torch.nn.functional.cross_entropy(self.model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        self.opt.step()

    def predict(self, x: np.ndarray) -> np.ndarray:
        self.model.eval()
        with self.torch.no_grad():
            out = self.model(self.torch.from_numpy(x)).argmax(1).numpy()
        self.model.train()
        return out


def train(runner, data, seed: int, args, label: str) -> dict:
    """Train runner for args.epochs: final test accuracy in %, and wall and CPU seconds of each training epoch."""
    x, y, xt, yt = data
    n = len(x)
    steps_per_epoch = math.ceil(n / args.batch_size)
    total = args.epochs * steps_per_epoch
    order_rng = np.random.default_rng(seed)  # the same batches in the same order for both frameworks
    step, wall, cpu, acc = 0, [], [], 0.0
    for epoch in range(args.epochs):
        perm = order_rng.permutation(n)
        start, start_cpu = time.perf_counter(), time.process_time()
        for i in range(0, n, args.batch_size):
            if args.schedule == "cosine":
                runner.set_lr(cosine_lr(args.lr, step, total))
            idx = perm[i : i + args.batch_size]
            runner.step(x[idx], y[idx])
            step += 1
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        pred = np.concatenate([runner.predict(xt[i : i + 1000]) for i in range(0, len(xt), 1000)])
        acc = 100.0 * float((pred == yt).mean())
        print(
            f"  {label} seed {seed} epoch {epoch + 1}: test accuracy {acc:.2f}%  "
            f"(wall {wall[-1]:.1f} s, CPU {cpu[-1]:.1f} s)",
            flush=True,
        )
    return {"acc": acc, "wall": wall, "cpu": cpu}


def run_one(framework: str, seed: int, args) -> dict:
    """One training run in this process; PyTorch starts from toynn's initial weights unless --own-init."""
    data = load_mnist(args.data_dir, args.train_size)
    if framework == "toynn":
        return train(ToynnRunner(seed, args), data, seed, args, "toynn")
    state = None if args.own_init else ToynnRunner(seed, args).initial_state()
    return train(TorchRunner(seed, args, state), data, seed, args, "torch")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_dir = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
    p.add_argument("--data-dir", default=os.environ.get("TOYNN_MNIST", str(default_dir)))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--schedule", choices=["cosine", "constant"], default="cosine")
    p.add_argument("--train-size", type=int, default=None, help="use only the first N training images")
    p.add_argument("--only", choices=["toynn", "torch"], default=None, help="run one framework only")
    p.add_argument("--own-init", action="store_true", help="PyTorch initialises from its own seed instead")
    p.add_argument("--threads", type=int, default=2, help="threads per run (OMP_NUM_THREADS, torch threads)")
    p.add_argument("--jobs", type=int, default=1, help="runs at a time, each in its own process")
    args = p.parse_args(argv)

    n_train = args.train_size or 60000
    print(
        f"LeNet-5 on MNIST ({n_train} train, 10000 test): batch {args.batch_size}, {args.optimizer} lr {args.lr}"
        + (f" momentum {args.momentum}" if args.optimizer == "sgd" else "")
        + f", {args.schedule} schedule, {args.epochs} epochs, weight decay {args.weight_decay}; "
        + ("each framework from its own seed" if args.own_init else "PyTorch starts from toynn's initial weights")
        + f"; {args.threads} thread(s) per run, {args.jobs} run(s) at a time",
        flush=True,
    )
    frameworks = [fw for fw in ("toynn", "torch") if args.only in (None, fw)]
    tasks = [(fw, seed) for seed in args.seeds for fw in frameworks]
    # Each run in a fresh spawned process: it inherits this environment, so NumPy's BLAS sees the thread count
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(args.jobs, mp_context=ctx, max_tasks_per_child=1) as pool:
        done = list(pool.map(run_one, *zip(*tasks), [args] * len(tasks)))
    results = {fw: {} for fw in frameworks}
    for (fw, seed), r in zip(tasks, done):
        results[fw][seed] = r
    report(results, args)


def report(results: dict, args) -> None:
    med = statistics.median
    print()
    print("final test accuracy (%) after the last epoch; median seconds per training epoch (wall and CPU)")
    head = f"{'seed':>6s}" + "".join(f" {fw + ' %':>9s}" for fw in results)
    head += "".join(f" {fw + ' wall s':>13s} {fw + ' CPU s':>12s}" for fw in results)
    print(head)
    for seed in args.seeds:
        row = f"{seed:6d}" + "".join(f" {results[fw][seed]['acc']:9.2f}" for fw in results)
        row += "".join(
            f" {med(results[fw][seed]['wall']):13.1f} {med(results[fw][seed]['cpu']):12.1f}" for fw in results
        )
        print(row)
    means = {fw: statistics.mean(r["acc"] for r in res.values()) for fw, res in results.items()}
    print("mean: " + ", ".join(f"{fw} {m:.2f}%" for fw, m in means.items()))
    if len(means) == 2:
        diff = means["toynn"] - means["torch"]
        print(f"difference toynn - PyTorch: {diff:+.2f} points ({'within' if abs(diff) <= 0.3 else 'NOT within'} 0.3)")
        for kind in ("wall", "CPU"):
            key = kind.lower()
            a, b = (med([t for r in results[fw].values() for t in r[key]]) for fw in ("toynn", "torch"))
            print(f"{kind} seconds per epoch: toynn {a:.1f}, PyTorch {b:.1f}, ratio {a / b:.2f}")
    if "toynn" in means:
        print(f"toynn mean >= 98.8%: {'yes' if means['toynn'] >= 98.8 else 'NO'}")


if __name__ == "__main__":
    main()
