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


def cpu() -> dict:
    """The CPU as /proc/cpuinfo names it: model name, vendor, family/model and the vector extensions it has."""
    info = {"model": platform.processor() or platform.machine(), "vendor": "", "family": "", "cpu_model": ""}
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name":
                    info["model"] = value
                elif key == "vendor_id":
                    info["vendor"] = value
                elif key == "cpu family":
                    info["family"] = value
                elif key == "model":
                    info["cpu_model"] = value
                elif key == "flags":
                    flags = set(value.split())
                    break  # the first core's entry says it all
    except OSError:  # not Linux: the platform's name only
        pass
    wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile")
    info["vector"] = [f for f in wanted if f in flags]
    return info


def blas() -> list[dict]:
    """Each BLAS and OpenMP library loaded in this process (threadpoolctl): its name, version, kernel and threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "prefix", "version", "architecture", "threading_layer", "num_threads", "user_api")
    return [{k: lib.get(k) for k in keys} for lib in threadpool_info()]


def machine_info() -> dict:
    """What a result depends on besides the code: CPU, vector extensions, BLAS and its kernel, thread counts."""
    import numpy as np
    import torch

    import toynn
    from toynn import compiled

    return {
        "cpu": cpu(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "toynn_threads": toynn.runtime.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "blas": blas(),
        "compiled_kernels": compiled.describe(),
    }


def machine(info: dict | None = None) -> str:
    """machine_info() as the one paragraph printed above a table."""
    m = info or machine_info()
    c = m["cpu"]
    ident = f"family {c['family']} model {c['cpu_model']}" if c["family"] else ""
    libs = "; ".join(
        f"{b['prefix']} {b['version'] or ''} ({b['user_api']}, kernel {b['architecture'] or '-'}, "
        f"{b['num_threads']} threads)"
        for b in m["blas"]
    )
    return (
        f"{c['model']} ({ident}), {m['cores']} cores, vector: {' '.join(c['vector']) or '-'}; Python {m['python']}, "
        f"NumPy {m['numpy']}, PyTorch {m['torch']} ({m['torch_threads']} threads, {m['torch_cpu_capability']}); "
        f"toynn {m['toynn_threads']} threads, compiled kernels: {m['compiled_kernels']}; "
        f"OMP_NUM_THREADS={m['OMP_NUM_THREADS']}; {libs or 'threadpoolctl missing: BLAS not identified'}"
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
