"""Data-parallel scaling on this machine: training throughput for 1 and 2 ranks, and Allreduce latency/bandwidth.

python benchmarks/bench_distributed.py          # launches the runs below under mpirun and prints the tables
python benchmarks/bench_distributed.py --json out.json

Each run is `mpirun -n R python bench_distributed.py --worker` with T BLAS threads per rank:
R=1,T=1; R=1,T=2 (the whole machine in one process); R=2,T=1. Steps are timed per rank after a barrier,
and split into computation (forward, backward, update) and gradient Allreduce.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import toynn
from toynn import nn

RUNS = [(1, 1), (1, 2), (2, 1)]  # (ranks, BLAS threads per rank)
ALLREDUCE_BYTES = [4 * 4**k for k in range(13)]  # 4 B .. 64 MiB


def _mpirun_prefix(ranks: int) -> list[str]:
    out = subprocess.run(["mpirun", "--version"], capture_output=True, text=True).stdout
    cmd = ["mpirun", "-n", str(ranks)]
    if "Open MPI" in out:  # NOTE: no core binding: one rank with 2 BLAS threads must be free to use both cores
        cmd += ["--oversubscribe", "--bind-to", "none"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    return cmd


def launch(args) -> None:
    results = []
    for ranks, threads in RUNS:
        env = {
            **os.environ,
            **{k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
        }
        cmd = [*_mpirun_prefix(ranks), sys.executable, __file__, "--worker", "--steps", str(args.steps)]
        print(f"$ {' '.join(cmd[:3])} ... --worker   ({threads} BLAS thread(s) per rank, {args.repeat} runs)")
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
            runs += [json.loads(line[7:]) for line in out.splitlines() if line.startswith("RESULT ")]
        results.append({**_median_run(runs), "threads": threads})
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": _machine(), "results": results}, indent=1))


def _median_run(runs: list[dict]) -> dict:
    """Row by row, the run with the median time: a shared machine's hiccups land in the other runs."""

    def pick(rows: list[dict], key: str) -> dict:
        return sorted(rows, key=lambda r: r[key])[len(rows) // 2]

    out = {"ranks": runs[0]["ranks"], "models": [pick(list(ms), "step_ms") for ms in zip(*[r["models"] for r in runs])]}
    if "allreduce" in runs[0]:
        out["allreduce"] = [pick(list(rows), "us") for rows in zip(*[r["allreduce"] for r in runs])]
        out["buckets"] = {k: statistics.median(r["buckets"][k] for r in runs) for k in runs[0]["buckets"]}
    return out


def _machine() -> str:
    from mpi4py import MPI

    mpi = MPI.Get_library_version().splitlines()[0]
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; NumPy {np.__version__}; {mpi}"


def report(results: list[dict]) -> None:
    print(f"\n{_machine()}\n")
    widths = (30, 15, 10, 8, 8, 6, 9, 9)
    head = ("model", "ranks x threads", "batch/rank", "step ms", "compute", "wait", "allreduce", "samples/s")
    print(" ".join(f"{h:{'<' if i == 0 else '>'}{w}s}" for i, (h, w) in enumerate(zip(head, widths))))
    for r in results:
        for m in r["models"]:
            print(
                f"{m['model']:30s} {r['ranks']:>9d} x {r['threads']:<3d} {m['batch']:>10d} {m['step_ms']:8.2f} "
                f"{m['compute_ms']:8.2f} {m['wait_ms']:6.2f} {m['allreduce_ms']:9.3f} {m['samples_per_s']:9.0f}"
            )
    for r in results:
        if r.get("allreduce"):
            print(f"\nAllreduce, {r['ranks']} ranks (float32, in place; bus bandwidth = 2(p-1)/p * bytes / time):")
            print(f"{'bytes':>10s} {'us':>10s} {'GB/s bus':>9s}")
            for a in r["allreduce"]:
                print(f"{a['bytes']:>10d} {a['us']:10.1f} {a['bus_gbs']:9.2f}")
        if r.get("buckets"):
            b = r["buckets"]
            print(
                f"\nall_reduce_gradients of {b['tensors']} small tensors ({b['floats']} floats), {r['ranks']} ranks: "
                f"per-tensor {b['per_tensor_ms']:.3f} ms, bucketed {b['bucketed_ms']:.3f} ms"
            )


# ---------------------------------------------------------------------------------------------
# Under mpirun


def mlp():
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))


class FunctionalCifarNet(nn.Module):
    """cifar_net() written with toynn.conv's functions, for as long as the nn.Conv2d layer does not exist."""

    def __init__(self):
        for i, (c_out, c_in) in enumerate([(32, 3), (32, 32), (64, 32), (64, 64)]):
            bound = 1 / math.sqrt(c_in * 9)
            setattr(self, f"w{i}", nn.Parameter(toynn.rand(c_out, c_in, 3, 3) * (2 * bound) - bound))
            setattr(self, f"b{i}", nn.Parameter(toynn.zeros(c_out)))
        self.fc1, self.fc2 = nn.Linear(64 * 8 * 8, 256), nn.Linear(256, 10)

    def forward(self, x):
        from toynn.conv import conv2d, max_pool2d

        for i in range(4):
            x = nn.functional.relu(conv2d(x, getattr(self, f"w{i}"), getattr(self, f"b{i}"), 1, 1))
            x = max_pool2d(x, 2) if i % 2 else x
        return self.fc2(nn.functional.relu(self.fc1(x.reshape(x.shape[0], -1))))  # (N, 64, 8, 8) -> (N, 4096)


def cifar_net():
    """conv3x3 32, conv3x3 32, max-pool 2, conv3x3 64, conv3x3 64, max-pool 2, FC 256, FC 10 on (3, 32, 32)."""
    if not hasattr(nn, "Conv2d"):
        return FunctionalCifarNet()
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 256), nn.ReLU(), nn.Linear(256, 10),
    )  # fmt: skip


def _median_ms(times: list[float]) -> float:
    return 1e3 * statistics.median(times)


def time_training(dist, build, shape, batch: int, steps: int) -> dict:
    """Median step time (ms) of SGD on random data, batch per rank, split into compute, wait and Allreduce."""
    toynn.manual_seed(0)
    model = build()
    dist.broadcast_parameters(model)
    params = list(model.parameters())  # as fit does: walk the modules once, not every step
    opt = toynn.optim.SGD(params, lr=0.01, momentum=0.9)
    rng = np.random.default_rng(dist.rank)
    x = toynn.tensor(rng.random((batch, *shape), dtype=np.float32))
    y = toynn.tensor(rng.integers(0, 10, batch))
    times = []
    for i in range(steps + 3):  # 3 warm-up steps
        dist.barrier()
        t0 = time.perf_counter()
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        t1 = time.perf_counter()
        dist.barrier()  # NOTE: the time a rank waits for the slower one, kept out of the Allreduce time
        t2 = time.perf_counter()
        dist.all_reduce_gradients(params)
        t3 = time.perf_counter()
        opt.step()
        t4 = time.perf_counter()
        if i >= 3:
            times.append((t4 - t0, t1 - t0 + t4 - t3, t2 - t1, t3 - t2))
    step, compute, wait, reduce = (_median_ms(list(column)) for column in zip(*times))
    samples_per_s = batch * dist.world_size / (step / 1e3)
    return {"batch": batch, "step_ms": step, "compute_ms": compute, "wait_ms": wait, "allreduce_ms": reduce,
            "params": sum(p.array.size for p in params), "samples_per_s": samples_per_s}  # fmt: skip


def time_allreduce(dist, reps: int = 20) -> list[dict]:

    comm, MPI, rows = dist.comm.comm, dist.comm.MPI, []
    for nbytes in ALLREDUCE_BYTES:
        buf = np.ones(nbytes // 4, dtype=np.float32)
        n = max(3, min(reps * 50, int(reps * 2**22 / max(nbytes, 1))))  # many repeats for small messages
        comm.Allreduce(MPI.IN_PLACE, buf)
        times = []
        for _ in range(5):
            comm.Barrier()
            start = time.perf_counter()
            for _ in range(n):
                comm.Allreduce(MPI.IN_PLACE, buf)
            times.append((time.perf_counter() - start) / n)
        t = min(times)
        p = dist.world_size
        rows.append({"bytes": nbytes, "us": t * 1e6, "bus_gbs": 2 * (p - 1) / p * nbytes / t / 1e9})
    return rows


def time_buckets(dist, reps: int = 50) -> dict:
    """all_reduce_gradients of 200 small tensors: one Allreduce per tensor against one per 4 MB bucket."""
    from toynn.train.distributed import Distributed

    model = nn.Sequential(*[nn.Linear(32, 32) for _ in range(100)])
    params = list(model.parameters())
    out = {"tensors": len(params), "floats": sum(p.array.size for p in params)}
    for name, bucket_mb in (("per_tensor_ms", 1e-9), ("bucketed_ms", 4.0)):
        d = Distributed(dist.comm, bucket_mb=bucket_mb)
        times = []
        for _ in range(reps):
            for p in params:
                p.grad = toynn.tensor(np.ones(p.shape, dtype=np.float32))
            d.barrier()
            start = time.perf_counter()
            d.all_reduce_gradients(params)
            times.append(time.perf_counter() - start)
        out[name] = _median_ms(times)
    return out


def worker(args) -> None:
    import toynn.train.distributed as distributed

    dist = distributed.init()
    models = []
    for batch in (32, 64, 128):
        models.append({"model": "MLP 784-512-10", **time_training(dist, mlp, (784,), batch, args.steps)})
    name = "CIFAR net" if hasattr(nn, "Conv2d") else "CIFAR net (toynn.conv funcs)"
    for batch in (16, 32):
        models.append({"model": name, **time_training(dist, cifar_net, (3, 32, 32), batch, max(args.steps // 10, 4))})
    result = {"ranks": dist.world_size, "models": models}
    if dist.world_size > 1:
        result["allreduce"] = time_allreduce(dist)
        result["buckets"] = time_buckets(dist)
    if dist.is_main:
        print("RESULT " + json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help="(internal) the measuring process, under mpirun")
    parser.add_argument("--steps", type=int, default=100, help="timed training steps per configuration")
    parser.add_argument("--repeat", type=int, default=3, help="runs per configuration; the median is reported")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    worker(args) if args.worker else launch(args)


if __name__ == "__main__":
    main()
