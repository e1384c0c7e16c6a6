"""Data loading throughput: an image folder decoded per item (JPEG) through DataLoader with 0, 1 and 2 workers.

python benchmarks/bench_data.py                      # the CIFAR-10 test folder of ../shared/data (10,000 JPEGs)
python benchmarks/bench_data.py --root DIR --items 5000 --repeat 3

The data set is torchvision's call form, ImageFolder(root, transform=Compose([ToTensor(), Normalize(...)])): each
item is one JPEG decoded with Pillow, made a float32 (3, 32, 32) Tensor and normalised, in the process that makes
the batch. One epoch (batch 64, shuffled) is timed from iter() to the last batch, worker start and shutdown
included; the runs alternate between the worker counts, and each count's median over --repeat epochs is reported.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))  # toynn from this checkout, installed or not

import numpy as np  # noqa: E402

import toynn  # noqa: E402
from toynn.data import DataLoader, Subset, datasets, transforms  # noqa: E402
from toynn.data.datasets import find_split  # noqa: E402

DATA = Path(os.environ.get("TOYNN_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
WORKERS = (0, 1, 2)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def epoch(dataset, num_workers: int, batch_size: int) -> float:
    """Seconds for one shuffled epoch, from iter() to the last batch."""
    start = time.perf_counter()
    n = 0
    for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=num_workers):
        n += len(y)
        assert x.dtype == np.float32
    assert n == len(dataset)
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="an image folder root/<class>/<image> (default: CIFAR-10 test)")
    parser.add_argument("--items", type=int, default=10000, help="the first N items of the folder")
    parser.add_argument("--repeat", type=int, default=3, help="epochs per worker count (the median is reported)")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    root = args.root or find_split(DATA / "cifar10-jpeg", "test")
    if root is None:
        sys.exit(f"no image folder: pass --root, or put the CIFAR-10 JPEG archives in {DATA / 'cifar10-jpeg'}")
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    folder = datasets.ImageFolder(root, transform=tf)
    dataset = Subset(folder, range(min(args.items, len(folder))))
    print(f"{_cpu()}, {os.cpu_count()} cores; Python {platform.python_version()}, NumPy {np.__version__}")
    print(f"{len(dataset)} items of {root} (ImageFolder decoding per item), batch {args.batch_size}, shuffled")
    toynn.manual_seed(0)
    epoch(dataset, 0, args.batch_size)  # warm the page cache and the imports
    times = {w: [] for w in WORKERS}
    for _ in range(args.repeat):
        for w in WORKERS:
            times[w].append(epoch(dataset, w, args.batch_size))
    base = len(dataset) / statistics.median(times[0])
    print(f"{'num_workers':>11s} {'items/s':>9s} {'(min-max)':>17s} {'speed-up':>9s}")
    for w in WORKERS:
        rates = [len(dataset) / t for t in times[w]]
        median = statistics.median(rates)
        print(f"{w:11d} {median:9.0f} {f'({min(rates):.0f}-{max(rates):.0f})':>17s} {median / base:8.2f}x")


if __name__ == "__main__":
    main()
