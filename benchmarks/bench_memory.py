"""Peak memory of one training step (forward, cross-entropy, backward, SGD with momentum) at batch 64 in
float32, toynn vs PyTorch: LeNet-5 on 1x28x28 and the CIFAR net on 3x32x32.

Each measurement runs in a fresh subprocess, so one library's peak cannot hide inside the other's. The child
imports its library, runs one warm-up step at batch 1 on a throw-away model (so that code pages and thread
start-up are not counted), builds the model, optimizer and batch, then records its resident set size (RSS) as the
baseline, resets the kernel's peak-RSS counter (VmHWM, by writing 5 to /proc/self/clear_refs) and runs
STEPS steps; the result is the peak RSS minus the baseline. Where clear_refs is not writable, ru_maxrss
stands in for the peak. For toynn the child also reports tracemalloc's peak, which counts NumPy's arrays only.

python benchmarks/bench_memory.py            # the table
python benchmarks/bench_memory.py --repeat 3 # medians of 3 fresh subprocesses per cell
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # toynn from this checkout

BATCH = 64
STEPS = 3
MODELS = {"lenet": ("LeNet5", (1, 28, 28)), "cifar": ("CifarNet", (3, 32, 32))}
NAMES = {"lenet": "LeNet-5 step peak memory, batch 64", "cifar": "CIFAR net step peak memory, batch 64"}
TARGETS = {NAMES["lenet"]: 1.5, NAMES["cifar"]: 1.5}  # issue 7: peak memory at most 1.5x PyTorch's


# ---------------------------------------------------------------------------------------------
# The child: one library, one model


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _rss_bytes() -> int:
    kb = _status_kb("VmRSS")
    if kb is None:  # not Linux: fall back to the peak so far
        import resource

        return _maxrss_bytes(resource)
    return kb * 1024


def _maxrss_bytes(resource) -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _torch_model(nn, model: str):
    if model == "lenet":
        return nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
            nn.Linear(84, 10),
        )  # fmt: skip
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4096, 256), nn.ReLU(), nn.Linear(256, 10),
    )  # fmt: skip


def child(lib: str, model: str) -> dict:
    """Run STEPS training steps of `model` in `lib`; return the peak RSS above the baseline, in bytes."""
    import gc
    import resource

    import numpy as np

    rng = np.random.default_rng(0)
    if lib == "toynn":
        import toynn
        import toynn.models
        import toynn.nn.functional as F

        def make_step(batch):
            net = getattr(toynn.models, MODELS[model][0])()
            opt = toynn.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
            xs = toynn.tensor(rng.standard_normal((batch, *MODELS[model][1]), dtype=np.float32))
            ys = toynn.tensor(rng.integers(0, 10, batch))

            def step():
                opt.zero_grad()
                F.cross_entropy(net(xs), ys).backward()
                opt.step()

            return step
    else:
        import torch

        torch.set_num_threads(2)

        def make_step(batch):
            net = _torch_model(torch.nn, model)
            opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
            xs = torch.from_numpy(rng.standard_normal((batch, *MODELS[model][1]), dtype=np.float32))
            ys = torch.from_numpy(rng.integers(0, 10, batch))

            def step():
                opt.zero_grad()
                torch.nn.functional.cross_entropy(net(xs), ys).backward()
                opt.step()

            return step

    # NOTE: a warm-up at batch 1 on another instance pages in the library code and starts the thread pools,
    # which RSS would otherwise count as the step's memory (tens of MB for libtorch); it allocates little.
    make_step(1)()
    step = make_step(BATCH)
    gc.collect()
    baseline = _rss_bytes()
    reset = _reset_peak()
    for _ in range(STEPS):
        step()
    peak_kb = _status_kb("VmHWM") if reset else None
    peak = peak_kb * 1024 if peak_kb is not None else _maxrss_bytes(resource)
    out = {"lib": lib, "model": model, "baseline": baseline, "peak": peak, "delta": peak - baseline, "reset": reset}
    if lib == "toynn":  # NumPy allocations alone, traced on a fresh step
        import tracemalloc

        gc.collect()
        tracemalloc.start()
        step()
        out["tracemalloc_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return out


# ---------------------------------------------------------------------------------------------
# The parent: one fresh subprocess per measurement


def measure(lib: str, model: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", lib, model]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_row(model: str, repeat: int = 1) -> dict:
    """Medians over `repeat` fresh subprocesses per library; MB = 2**20 bytes."""
    ours = [measure("toynn", model) for _ in range(repeat)]
    theirs = [measure("torch", model) for _ in range(repeat)]
    a = statistics.median(r["delta"] for r in ours) / 2**20
    b = statistics.median(r["delta"] for r in theirs) / 2**20
    traced = statistics.median(r["tracemalloc_peak"] for r in ours) / 2**20
    return {"name": NAMES[model], "toynn_mb": a, "torch_mb": b, "ratio": a / b, "toynn_tracemalloc_mb": traced}


def lenet_memory(toynn=None, torch=None) -> dict:
    return memory_row("lenet")


def cifar_memory(toynn=None, torch=None) -> dict:
    return memory_row("cifar")


# NOTE: the rows hold megabytes (toynn_mb, torch_mb), not seconds, so print them with print_memory_table
BENCHMARKS = [lenet_memory, cifar_memory]


def print_memory_table(rows: list[dict]) -> None:
    print(f"{'benchmark':40s} {'toynn':>10s} {'PyTorch':>10s} {'ratio':>7s}  {'NumPy only':>10s}  target")
    for r in rows:
        goal = TARGETS.get(r["name"])
        mark = "" if goal is None else (f"<= {goal:g}  " + ("ok" if r["ratio"] <= goal else "MISSED"))
        print(
            f"{r['name']:40s} {r['toynn_mb']:7.1f} MB {r['torch_mb']:7.1f} MB {r['ratio']:7.2f}  "
            f"{r['toynn_tracemalloc_mb']:7.1f} MB  {mark}"
        )


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--child", nargs=2, metavar=("LIB", "MODEL"), help=argparse.SUPPRESS)
    p.add_argument("--repeat", type=int, default=1, help="fresh subprocesses per cell (the median is shown)")
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    print(f"peak RSS above the baseline over {STEPS} training steps, batch {BATCH}, float32, fresh process each")
    print_memory_table([memory_row(model, args.repeat) for model in MODELS])


if __name__ == "__main__":
    main(sys.argv[1:])
