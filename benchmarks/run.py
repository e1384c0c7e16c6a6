"""Run every benchmark, toynn against PyTorch in this process, and print one table of median ratios.

python benchmarks/run.py            # all
python benchmarks/run.py core       # only benchmarks/bench_core.py
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from harness import machine, print_table  # noqa: E402

SUITES = ["core", "train"]


def main(argv: list[str]) -> None:
    import torch

    import toynn

    torch.set_num_threads(2)
    suites = argv or SUITES
    print(machine())
    rows, targets = [], {}
    for suite in suites:
        mod = importlib.import_module(f"bench_{suite}")
        targets.update(getattr(mod, "TARGETS", {}))
        for bench in mod.BENCHMARKS:
            rows.append(bench(toynn, torch))
    print_table(rows, targets)


if __name__ == "__main__":
    main(sys.argv[1:])
