"""Run every benchmark, toynn against PyTorch in this process, and print one table of median ratios.

python benchmarks/run.py            # all
python benchmarks/run.py core       # only benchmarks/bench_core.py
OMP_NUM_THREADS=1 python benchmarks/run.py models   # both libraries on one thread (the default is 2)
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parent.parent))  # toynn from this checkout, installed or not

from harness import machine, print_table  # noqa: E402

SUITES = ["core", "train", "models", "conv", "memory"]


def main(argv: list[str]) -> None:
    import torch

    import toynn

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))  # harness sets 2 unless the caller chose
    suites = argv or SUITES
    print(machine())
    rows, targets = [], {}
    for suite in suites:
        mod = importlib.import_module(f"bench_{suite}")
        if not hasattr(mod, "BENCHMARKS"):  # bench_autodiff, bench_distributed: their own tables and plots
            sys.exit(f"benchmarks/bench_{suite}.py is not a toynn-vs-PyTorch suite: run python {mod.__file__}")
        targets.update(getattr(mod, "TARGETS", {}))
        for bench in mod.BENCHMARKS:
            rows.append(bench(toynn, torch))
    print_table(rows, targets)


if __name__ == "__main__":
    main(sys.argv[1:])
