"""Run every benchmark, toynn against PyTorch in this process, and print one table of median ratios.

python benchmarks/run.py            # all
python benchmarks/run.py core       # only benchmarks/bench_core.py
python benchmarks/run.py models --json out.json   # also the rows and the machine they ran on, as JSON
OMP_NUM_THREADS=1 python benchmarks/run.py models   # both libraries on one thread (the default is 2)
TOYNN_NO_NUMBA=1 python benchmarks/run.py models    # without the compiled kernels (toynn/compiled.py)

The machine (CPU model, vector extensions, BLAS and its kernel, thread counts) is printed above the table and
stored with the rows: a ratio means little without it (docs/benchmarks.md keeps a table per machine).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent.parent))  # toynn from this checkout, installed or not

from harness import machine, machine_info, print_table  # noqa: E402

SUITES = ["core", "train", "models", "conv", "memory"]


def main(argv: list[str]) -> None:
    import torch

    import toynn
    from toynn import compiled

    parser = argparse.ArgumentParser(description="toynn against PyTorch, median ratios")
    parser.add_argument("suites", nargs="*", default=SUITES, help=f"any of {', '.join(SUITES)} (default: all)")
    parser.add_argument("--json", help="also write the rows and the machine as JSON to this file")
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))  # harness sets 2 unless the caller chose
    compiled.kernels()  # compile (or load) the optional kernels before anything is timed
    info = machine_info()
    print(machine(info))
    rows, targets = [], {}
    for suite in args.suites:
        mod = importlib.import_module(f"bench_{suite}")
        if not hasattr(mod, "BENCHMARKS"):  # bench_autodiff, bench_distributed: their own tables and plots
            sys.exit(f"benchmarks/bench_{suite}.py is not a toynn-vs-PyTorch suite: run python {mod.__file__}")
        targets.update(getattr(mod, "TARGETS", {}))
        for bench in mod.BENCHMARKS:
            rows.append({**bench(toynn, torch), "load": os.getloadavg()[0]})
    print_table(rows, targets)
    if args.json:
        record = {"machine": info, "time": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "rows": rows}
        Path(args.json).write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
