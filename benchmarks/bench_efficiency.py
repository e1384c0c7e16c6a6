"""How close to the machine's limit each training step runs (issue 18, item 4): the multiply-adds of a step's
products (convolutions and linear layers: forward, weight gradient, and input gradient where the input needs one)
per second, for toynn and PyTorch, against the peak measured here with a large float32 GEMM.

python benchmarks/bench_efficiency.py              # batch 64
python benchmarks/bench_efficiency.py --batch 16 256 --json eff.json

The peak is the better of NumPy's (OpenBLAS) and PyTorch's 4096^3 sgemm on the same threads; the step times come
from harness.compare (same process, alternating, medians). Elementwise work, pooling and the loss count no FLOPs:
a step that spends time there reads lower, which is the point.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent.parent))

import numpy as np  # noqa: E402
from bench_models import MODELS, _pair  # noqa: E402
from bench_train import step_fns  # noqa: E402
from harness import compare, machine, machine_info, median_time  # noqa: E402

PEAK_N = 4096


def peak_gflops(torch) -> dict:
    """GFLOP/s of an (n x n) @ (n x n) float32 product in NumPy and in PyTorch, n = PEAK_N."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((PEAK_N, PEAK_N), dtype=np.float32) for _ in range(2))
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    flops = 2 * PEAK_N**3
    out = {}
    for name, fn in (("numpy", lambda: a @ b), ("torch", lambda: ta @ tb)):
        time.sleep(0.3)  # let the other library's idle threads stop spinning
        out[name] = flops / median_time(fn, repeat=5, number=2) / 1e9
    return out


def step_macs(torch, name: str, batch: int) -> int:
    """Multiply-adds of one training step's products, counted on the PyTorch twin's layer shapes."""
    build, shape = MODELS[name]
    model = build(torch)
    total, first = 0, [True]

    def hook(module, inputs, output):
        x = inputs[0]
        if isinstance(module, torch.nn.Conv2d):
            O, Cg, KH, KW = module.weight.shape
            macs = output.numel() * Cg * KH * KW  # N*O*Ho*Wo outputs, each C/G*KH*KW multiply-adds
        else:
            macs = x.shape[0] * module.in_features * module.out_features
        nonlocal total
        total += macs * (2 if first[0] else 3)  # forward, weight gradient, input gradient (not for the input)
        first[0] = False

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.zeros((batch, *shape)))
    return total


def main(argv: list[str]) -> None:
    import torch

    import toynn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[64])
    parser.add_argument("--json", help="write the rows, the peak and the machine as JSON to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    toynn.compiled.kernels()
    info = machine_info()
    print(machine(info))
    peak = peak_gflops(torch)
    best = max(peak.values())
    print(f"peak: {PEAK_N}^3 sgemm, NumPy {peak['numpy']:.0f} GFLOP/s, PyTorch {peak['torch']:.0f} GFLOP/s\n")
    print(f"{'step':34s} {'GMAC':>6s} {'toynn':>9s} {'PyTorch':>9s}   {'toynn GFLOP/s':>14s} {'PyTorch GFLOP/s':>16s}")
    rows = []
    for name in MODELS:
        for batch in args.batch:
            macs = step_macs(torch, name, batch)
            ours, theirs = step_fns(toynn, torch, *_pair(toynn, torch, name, batch))
            r = compare(f"{name} train step, batch {batch}", ours, theirs, repeat=5)
            ours_gf, theirs_gf = 2 * macs / r["toynn_s"] / 1e9, 2 * macs / r["torch_s"] / 1e9
            rows.append({**r, "macs": macs, "toynn_gflops": ours_gf, "torch_gflops": theirs_gf})
            print(
                f"{r['name']:34s} {macs / 1e9:6.3f} {r['toynn_s'] * 1e3:7.2f}ms {r['torch_s'] * 1e3:7.2f}ms   "
                f"{ours_gf:6.1f} ({ours_gf / best:4.0%}) {theirs_gf:8.1f} ({theirs_gf / best:4.0%})"
            )
    if args.json:
        record = {"machine": info, "peak_gflops": peak, "rows": rows}
        Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
