"""Training-step benchmarks on a GPU: toynn on CuPy vs PyTorch CUDA, in one process, on the same data.

    python scripts/gpu_bench.py                 # MLP 784-512-10 and CifarNet, batch 256, float32
    python scripts/gpu_bench.py --dry-run       # no GPU: toynn on tests/fake_cupy.py, PyTorch on the CPU

Each step is zero_grad, forward, cross-entropy, backward and an SGD (momentum 0.9) update. Both
libraries start from the same weights; the first step's losses are printed side by side as a check.
GPU work is asynchronous, so every timed run ends with a device synchronisation (CuPy's and PyTorch's).
TF32 is switched off in PyTorch so that both sides compute in float32 (CuPy uses float32 GEMMs unless
CUPY_TF32=1). Ratios are toynn's median time over PyTorch's; the issue's target is at most 2x.
--dry-run checks that the script runs (its timings mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere in a checkout, installed or not

TARGET = 2.0  # issue 7: each GPU training step at most 2x PyTorch CUDA's time


def setup(dry_run: bool):
    """(cupy module, torch, torch device): the real ones, or the fake device and PyTorch on the CPU."""
    if dry_run:
        from tests import fake_cupy

        sys.modules["cupy"], sys.modules["cupyx"] = fake_cupy, fake_cupy.cupyx
    import cupy
    import torch

    from toynn.backend import has_cupy

    if not has_cupy():
        sys.exit("gpu_bench: CuPy is not importable or sees no GPU (pip install cupy-cuda12x; or use --dry-run)")
    if not dry_run and not torch.cuda.is_available():
        sys.exit("gpu_bench: PyTorch has no CUDA device; install a CUDA build of torch")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return cupy, torch, torch.device("cpu" if dry_run else "cuda")


def describe(cupy, torch, device) -> str:
    import toynn  # noqa: F401  (its version is the checkout's)

    parts = [f"Python {sys.version.split()[0]}", f"NumPy {np.__version__}", f"CuPy {cupy.__version__}"]
    if device.type == "cuda":
        props = cupy.cuda.runtime.getDeviceProperties(0)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        parts += [f"GPU {name}", f"CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}"]
        parts += [f"PyTorch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()})"]
    else:
        parts += [f"PyTorch {torch.__version__} on the CPU", "DRY RUN: fake device, timings meaningless"]
    return "; ".join(parts)


def models(toynn, torch):
    """name -> (build toynn model, build torch model, input shape without the batch)."""
    from toynn.models import CifarNet

    tnn = torch.nn

    def torch_cifar():  # the same layers as toynn.models.CifarNet
        return tnn.Sequential(
            tnn.Conv2d(3, 32, 3, padding=1), tnn.ReLU(), tnn.Conv2d(32, 32, 3, padding=1), tnn.ReLU(),
            tnn.MaxPool2d(2), tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.Conv2d(64, 64, 3, padding=1),
            tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(64 * 8 * 8, 256), tnn.ReLU(), tnn.Linear(256, 10),
        )  # fmt: skip

    return {
        "MLP 784-512-10": (
            lambda: toynn.nn.Sequential(toynn.nn.Linear(784, 512), toynn.nn.ReLU(), toynn.nn.Linear(512, 10)),
            lambda: tnn.Sequential(tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 10)),
            (784,),
        ),
        "CifarNet": (CifarNet, torch_cifar, (3, 32, 32)),
    }


def step_pair(toynn, torch, device, build, build_ref, x: np.ndarray, y: np.ndarray):
    """(ours, theirs, first losses): one training step in each library, on the device, same weights and batch."""
    model, ref = build(), build_ref()
    params, ref_params = list(model.parameters()), list(ref.parameters())
    assert len(ref_params) == len(params), "the two models differ"
    with torch.no_grad():
        for p, q in zip(params, ref_params):
            assert tuple(p.shape) == tuple(q.shape), f"parameter shapes differ: {p.shape} vs {tuple(q.shape)}"
            q.copy_(torch.from_numpy(p.detach().numpy()))
    model.to("cuda")
    ref.to(device)
    opt = toynn.optim.SGD(params, lr=0.01, momentum=0.9)
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.01, momentum=0.9)
    xt, yt = toynn.tensor(x, device="cuda"), toynn.tensor(y, device="cuda")
    rx, ry = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    loss_fn, ref_loss_fn = toynn.nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()

    def ours():
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()
        return loss

    def theirs():
        ref_opt.zero_grad()
        loss = ref_loss_fn(ref(rx), ry)
        loss.backward()
        ref_opt.step()
        return loss

    first = (float(ours().item()), float(theirs().item()))
    assert all(p.device == "cuda" for p in params), "toynn's parameters left the device"
    return ours, theirs, first


def median_time(fn, sync, repeat: int, min_time: float) -> float:
    """Median seconds per call over `repeat` runs, each of enough calls to last min_time; synchronised."""
    for _ in range(3):  # warm-up: CuPy compiles its kernels and cuBLAS/cuDNN pick algorithms on first use
        fn()
    sync()
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        if time.perf_counter() - start >= min_time:
            break
        number *= 2
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        runs.append((time.perf_counter() - start) / number)
    return statistics.median(runs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per round (median)")
    parser.add_argument("--rounds", type=int, default=3, help="toynn and PyTorch alternate this many times")
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds each timed run lasts at least")
    parser.add_argument("--dry-run", action="store_true", help="no GPU: fake device and PyTorch on the CPU")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.batch, args.repeat, args.rounds, args.min_time = min(args.batch, 8), 1, 1, 0.0

    cupy, torch, device = setup(args.dry_run)
    import toynn

    def sync_cupy():
        cupy.cuda.Device().synchronize()

    def sync_torch():
        if device.type == "cuda":
            torch.cuda.synchronize()

    print(describe(cupy, torch, device))
    print(f"float32, batch {args.batch}, SGD momentum 0.9; medians of {args.repeat} runs x {args.rounds} rounds\n")
    print(f"{'training step':24s} {'toynn (CuPy)':>13s} {'PyTorch CUDA':>13s} {'ratio':>7s}  target  first losses")
    rows, ok = [], True
    rng = np.random.default_rng(0)
    for name, (build, build_ref, shape) in models(toynn, torch).items():
        toynn.manual_seed(0)
        x = rng.standard_normal((args.batch, *shape), dtype=np.float32)
        y = rng.integers(0, 10, args.batch)
        ours, theirs, first = step_pair(toynn, torch, device, build, build_ref, x, y)
        t_ours, t_theirs = [], []
        for _ in range(args.rounds):  # alternate, so that clock and thermal drift hit both sides alike
            t_ours.append(median_time(ours, sync_cupy, args.repeat, args.min_time))
            t_theirs.append(median_time(theirs, sync_torch, args.repeat, args.min_time))
        a, b = statistics.median(t_ours), statistics.median(t_theirs)
        ratio = a / b
        verdict = "ok" if ratio <= TARGET else "SLOW"
        ok &= ratio <= TARGET
        print(
            f"{name:24s} {a * 1e3:10.3f} ms {b * 1e3:10.3f} ms {ratio:6.2f}x  <={TARGET:.0f}x {verdict:4s}  "
            f"{first[0]:.5f} / {first[1]:.5f}"
        )
        if abs(first[0] - first[1]) > 1e-3 * max(1.0, abs(first[1])):
            print(f"  WARNING: the first-step losses differ: toynn {first[0]} vs PyTorch {first[1]}")
            ok = False
        rows.append({"name": name, "batch": args.batch, "toynn_s": a, "torch_s": b, "ratio": ratio, "loss": first})
    if args.json:
        args.json.write_text(json.dumps({"machine": describe(cupy, torch, device), "rows": rows}, indent=1))
    if args.dry_run:
        print("\ndry run finished: the script works; its numbers are not GPU timings")
        return 0
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "2")  # the dry run's PyTorch and NumPy share the CPU
    sys.exit(main())
