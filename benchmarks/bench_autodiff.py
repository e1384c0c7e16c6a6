"""The cost of the four ways to differentiate, measured: the full Jacobian of tanh(W x) for n, m in 1..1000,
and forward mode on the 784-512-10 MLP against a forward pass.

python benchmarks/bench_autodiff.py --out results/autodiff     # writes sweep.md, sweep.png, mlp.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")


def mlp_forward_mode(batch: int = 64, runs: int = 300, seed: int = 0) -> dict:
    """Median seconds of a forward pass and of one jvp (one direction) on Linear(784,512)-ReLU-Linear(512,10).

    Forward pass and jvp alternate, and the ratio is the median of per-pair ratios, so machine drift cancels.
    Two directions: the input only (the parameters are constants), and input and parameters together.
    """
    import toynn
    from toynn import nn
    from toynn.autodiff import jvp
    from toynn.nn import functional as F

    toynn.manual_seed(seed)
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
    x, u = toynn.randn(batch, 784), toynn.randn(batch, 784)
    params = [p.detach() for p in model.parameters()]  # W1, b1, W2, b2
    dparams = [toynn.randn(*p.shape) for p in params]

    def functional_mlp(x, w1, b1, w2, b2):
        return F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)

    cases = {
        "input direction": lambda: jvp(model, (x,), (u,)),
        "input + parameter direction": lambda: jvp(functional_mlp, (x, *params), (u, *dparams)),
    }
    result = {}
    for name, run in cases.items():
        for _ in range(20):  # warm-up
            model(x)
            run()
        fwd, tan = [], []
        for _ in range(runs):
            start = time.perf_counter()
            model(x)
            fwd.append(time.perf_counter() - start)
            start = time.perf_counter()
            run()
            tan.append(time.perf_counter() - start)
        result[name] = {
            "forward_s": statistics.median(fwd),
            "jvp_s": statistics.median(tan),
            "ratio": statistics.median(t / f for f, t in zip(fwd, tan)),
        }
    return result


def format_mlp(result: dict, batch: int = 64) -> str:
    lines = [
        f"| MLP 784-512-10, batch {batch}, float32 | forward pass | jvp (one direction) | jvp / forward |",
        "|---|---:|---:|---:|",
    ]
    for name, r in result.items():
        lines.append(f"| {name} | {r['forward_s'] * 1e3:.3f} ms | {r['jvp_s'] * 1e3:.3f} ms | {r['ratio']:.2f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    import numpy as np

    from toynn.lecture.compare import cost_sweep, format_sweep, plot_sweep

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("autodiff-results"), help="folder for the table and plot")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per point (the median is kept)")
    parser.add_argument("--fixed", type=int, default=10, help="m while n grows, and n while m grows")
    parser.add_argument("--mlp-runs", type=int, default=300, help="alternating forward/jvp pairs for the MLP")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, NumPy {np.__version__}"
    )
    start = time.perf_counter()
    rows = cost_sweep(fixed=args.fixed, repeats=args.repeats)
    sweep = format_sweep(rows)
    plot_sweep(rows, args.out / "sweep.png")
    (args.out / "sweep.md").write_text(f"{machine}\n\n{sweep}")
    print(machine)
    print(f"\nFull Jacobian of f(x) = tanh(W x), W (m, n), float64 (median of {args.repeats}):\n\n{sweep}")
    print(f"sweep: {time.perf_counter() - start:.1f} s; wrote {args.out / 'sweep.md'} and {args.out / 'sweep.png'}")

    mlp = format_mlp(mlp_forward_mode(runs=args.mlp_runs))
    (args.out / "mlp.md").write_text(f"{machine}\n\n{mlp}\n")
    print(f"\n{mlp}\nwrote {args.out / 'mlp.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
