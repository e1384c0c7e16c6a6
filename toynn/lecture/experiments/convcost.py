"""`separable`: multiplications, parameters and measured forward time of a standard convolution, a depthwise
separable one and a spatially separable one with the same input and output shapes (the lecture's example:
256 filters of 5x5x3 over a 12x12x3 input, an 8x8 output)."""

from __future__ import annotations

import time

import numpy as np

from ... import nn
from ...creation import manual_seed, randn
from ...tensor import no_grad
from .common import Column, Log, Result, count_params, profile, pyplot, report_dir, save_figure, settings

QUICK = dict(in_channels=3, out_channels=256, kernel_size=5, size=12, timing_size=32, timing_batch=4, repeats=3)
FULL = dict(in_channels=3, out_channels=256, kernel_size=5, size=12, timing_size=64, timing_batch=8, repeats=5)

COLUMNS = [
    Column("layer", "layer"),
    Column("multiplications", "macs", ","),
    Column("as a product", "formula"),
    Column("vs standard", "ratio", ".4f"),
    Column("parameters", "params", ","),
    Column("forward ms (lecture input)", "ms_small", ".3f"),
    Column("forward ms (large input)", "ms_large", ".2f"),
    Column("forward CPU ms (large input)", "cpu_ms_large", ".2f"),
]


def layers(c: int, o: int, k: int) -> list[tuple[str, nn.Module]]:
    """The convolutions compared, each mapping (N, c, H, W) to (N, o, H-k+1, W-k+1)."""
    return [
        ("standard Conv2d", nn.Conv2d(c, o, k)),
        ("DepthwiseSeparableConv2d", nn.DepthwiseSeparableConv2d(c, o, k)),
        (f"SpatiallySeparableConv2d (mid={c})", nn.SpatiallySeparableConv2d(c, o, k, mid_channels=c)),
        (f"SpatiallySeparableConv2d (mid={o}, default)", nn.SpatiallySeparableConv2d(c, o, k)),
    ]


def forward_ms(layer: nn.Module, x, repeats: int) -> tuple[float, float]:
    """Median wall-clock and CPU time of layer(x) without a graph, in milliseconds (after one warm-up call).

    CPU time is this process's, summed over its threads: on a machine shared with other work it stays close
    to the undisturbed time while the wall clock does not.
    """
    wall, cpu = [], []
    with no_grad():
        layer(x)
        for _ in range(repeats):
            start, cpu_start = time.perf_counter(), time.process_time()
            layer(x)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - cpu_start)
    return 1e3 * float(np.median(wall)), 1e3 * float(np.median(cpu))


def separable(
    quick: bool = False,
    data: str = "digits",
    data_dir=None,
    out=None,
    epochs: int | None = None,
    seed: int = 0,
    log: Log = None,
) -> Result:
    """Count and time the layers of `layers` on a (1, C, size, size) input (the lecture's 12x12) and on a
    (timing_batch, C, timing_size, timing_size) one. Nothing is trained: data, data_dir and epochs are unused."""
    s = settings(QUICK, FULL, quick, "none", None)
    s.pop("data")
    s["seed"] = seed
    out = report_dir("separable", out)
    c, o, k, n = s["in_channels"], s["out_channels"], s["kernel_size"], s["size"]
    manual_seed(seed)
    small = randn(1, c, n, n)
    large = randn(s["timing_batch"], c, s["timing_size"], s["timing_size"])
    ho = n - k + 1
    formulas = [
        f"{o}x{c}x{k}x{k}x{ho}x{ho}",
        f"{c}x{k}x{k}x{ho}x{ho} + {o}x{c}x{ho}x{ho}",
        f"{c}x{c}x{k}x1x{ho}x{n} + {o}x{c}x1x{k}x{ho}x{ho}",
        f"{o}x{c}x{k}x1x{ho}x{n} + {o}x{o}x1x{k}x{ho}x{ho}",
    ]
    rows = []
    for (name, layer), formula in zip(layers(c, o, k), formulas):
        parts = profile(layer, (c, n, n))
        ms_large, cpu_ms_large = forward_ms(layer, large, s["repeats"])
        rows.append(
            {
                "layer": name,
                "macs": sum(p["macs"] for p in parts),
                "parts": [(p["name"] or "conv", p["macs"]) for p in parts],
                "formula": formula,
                "params": count_params(layer),
                "out_shape": parts[-1]["shape"],
                "ms_small": forward_ms(layer, small, s["repeats"] * 10)[0],
                "ms_large": ms_large,
                "cpu_ms_large": cpu_ms_large,
            }
        )
        if log:
            log(
                f"  {name}: {rows[-1]['macs']:,} multiplications, {rows[-1]['ms_large']:.2f} ms on {tuple(large.shape)}"
            )
    for r in rows:
        r["ratio"] = r["macs"] / rows[0]["macs"]
    result = Result("separable", rows, COLUMNS, out, settings=s)
    result.notes.append(
        f"lecture input (1, {c}, {n}, {n}) -> output (1, {o}, {ho}, {ho}); large input {tuple(large.shape)}. "
        "Multiplications are those of one image (bias additions not counted); times are medians of forward passes "
        "(CPU time: this process's, over all its threads)."
    )
    result.plots.append(_plot(rows, tuple(large.shape), out / "separable.png"))
    result.save()
    return result


def _plot(rows: list[dict], large_shape, path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    names = [
        r["layer"]
        .replace("Separable", "\nSeparable")
        .replace("Conv2d", "\nConv2d")
        .replace(" (", "\n(")
        .replace(", default", "")
        for r in rows
    ]
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"][: len(rows)]
    for ax, key, title, log_scale in (
        (axes[0], "macs", "multiplications (12x12 input)", True),
        (axes[1], "params", "parameters", True),
        (axes[2], "cpu_ms_large", f"forward CPU ms on {large_shape}", False),
    ):
        values = [r[key] for r in rows]
        ax.bar(range(len(rows)), values, color=colors)
        for i, v in enumerate(values):
            ax.annotate(
                f"{v:,.0f}" if key != "cpu_ms_large" else f"{v:.1f}", (i, v), ha="center", va="bottom", fontsize=8
            )
        ax.set_xticks(range(len(rows)), names, fontsize=7)
        ax.set_title(title)
        if log_scale:
            ax.set_yscale("log")
            ax.set_ylim(top=3 * max(values))  # room for the labels
        else:
            ax.set_ylim(0, 1.15 * max(values))
    return save_figure(fig, path)
