"""Time toynn and PyTorch on the same work in one process: medians of repeated runs, and their ratio."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "2")


def median_time(fn: Callable[[], object], repeat: int = 7, number: int | None = None, min_time: float = 0.05) -> float:
    """Median seconds per call of fn over `repeat` runs of `number` calls (number chosen to last >= min_time)."""
    fn()  # warm-up: first-call costs (imports, allocations) are not the steady state
    if number is None:
        number, elapsed = 1, 0.0
        while True:
            start = time.perf_counter()
            for _ in range(number):
                fn()
            elapsed = time.perf_counter() - start
            if elapsed >= min_time:
                break
            number *= 2
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number)
    return statistics.median(runs)


# seconds to wait before timing one library after the other: the idle worker threads of OpenBLAS (toynn) and of
# OpenMP (PyTorch) spin for up to ~0.1-0.2 s after their last parallel call and would take a core from the next
SETTLE_S = 0.3


def compare(name: str, ours: Callable, theirs: Callable, repeat: int = 7, rounds: int = 5) -> dict:
    """Alternate toynn and PyTorch `rounds` times and report their median times and the median of the rounds'
    ratios.

    NOTE: the ratio of one round compares two timings taken a second apart; the machine's speed drifts by 20-50%
    over minutes (another tenant's load), which the ratio of the two medians would mix in when the drift falls
    between one library's good rounds and the other's.
    """
    t_ours, t_theirs = [], []
    for _ in range(rounds):
        time.sleep(SETTLE_S)
        t_ours.append(median_time(ours, repeat))
        time.sleep(SETTLE_S)
        t_theirs.append(median_time(theirs, repeat))
    ratio = statistics.median(a / b for a, b in zip(t_ours, t_theirs))
    return {"name": name, "toynn_s": statistics.median(t_ours), "torch_s": statistics.median(t_theirs), "ratio": ratio}


def machine() -> str:
    import numpy as np
    import torch

    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"NumPy {np.__version__}, PyTorch {torch.__version__} ({torch.get_num_threads()} threads)"
    )


def print_table(rows: list[dict], target: dict[str, float] | None = None) -> None:
    target = target or {}
    print(f"{'benchmark':44s} {'toynn':>12s} {'PyTorch':>12s} {'ratio':>7s}  target")
    for r in rows:
        goal = target.get(r["name"])
        mark = "" if goal is None else (f"<= {goal:g}  " + ("ok" if r["ratio"] <= goal else "MISSED"))
        if "toynn_mb" in r:  # a peak-memory row (bench_memory): megabytes, not seconds
            ours, theirs = f"{r['toynn_mb']:.1f} MB", f"{r['torch_mb']:.1f} MB"
        else:
            ours, theirs = _fmt(r["toynn_s"]), _fmt(r["torch_s"])
        print(f"{r['name']:44s} {ours:>12s} {theirs:>12s} {r['ratio']:7.2f}  {mark}")


def _fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"
