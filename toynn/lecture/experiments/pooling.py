"""`pooling-vs-strided`: one network with max-pooling, with stride-2 convolutions instead (Strided-CNN) and
with an extra stride-2 convolution in place of each pooling (All-CNN), as Springenberg et al. (2015) compared."""

from __future__ import annotations

from .common import (
    Column,
    Log,
    Result,
    count_params,
    load_data,
    profile,
    pyplot,
    quick_subset,
    report_dir,
    save_figure,
    seeded,
    settings,
    train,
)
from .nets import springenberg_net

VARIANTS = (
    ("pool", "3x3 max-pool, stride 2, after each block (base)"),
    ("strided", "pooling removed; the block's last conv has stride 2"),
    ("all-conv", "pooling replaced by a 3x3 conv of stride 2"),
)

QUICK = dict(widths=(8, 16), epochs=3, batch_size=32, lr=3e-3)
FULL = dict(widths=(8, 16), epochs=4, batch_size=32, lr=2e-3)

COLUMNS = [
    Column("downsampling", "variant"),
    Column("how", "description"),
    Column("parameters", "params", ","),
    Column("multiplications / image", "macs", ","),
    Column("s / epoch", "seconds_per_epoch", ".1f"),
    Column("CPU s / epoch", "cpu_seconds_per_epoch", ".1f"),
    Column("test accuracy", "test_acc", ".2%"),
    Column("best epoch's accuracy", "best_acc", ".2%"),
]


def pooling_vs_strided(
    quick: bool = False,
    data: str = "digits",
    data_dir=None,
    out=None,
    epochs: int | None = None,
    seed: int = 0,
    log: Log = None,
) -> Result:
    """Train springenberg_net with each downsampling from the same seed; accuracy, parameters, multiply-accumulates
    per image and training time per epoch side by side."""
    s = settings(QUICK, FULL, quick, data, epochs)
    d = load_data(data, data_dir, quick_subset(quick, data), seed)
    out = report_dir("pooling-vs-strided", out)
    s.update(seed=seed, data_set=d.describe())
    if log:
        log(f"pooling-vs-strided on {d.describe()}: {s['epochs']} epochs each -> {out}")
    rows = []
    for variant, description in VARIANTS:
        model = seeded(seed, springenberg_net, d.input_shape, d.num_classes, variant, s["widths"])
        history = train(model, d, s["epochs"], lr=s["lr"], batch_size=s["batch_size"], log=log, label=variant)
        rows.append(
            {
                "variant": variant,
                "description": description,
                "params": count_params(model),
                "macs": sum(r["macs"] for r in profile(model, d.input_shape)),
                "seconds_per_epoch": sum(h["seconds"] for h in history) / len(history),
                "cpu_seconds_per_epoch": sum(h["cpu_seconds"] for h in history) / len(history),
                "test_acc": history[-1]["test_acc"],
                "best_acc": max(h["test_acc"] for h in history),
                "history": history,
            }
        )
    result = Result("pooling-vs-strided", rows, COLUMNS, out, settings=s)
    result.notes.append(
        "multiplications count the multiply-accumulates of the conv layers for one image; max-pooling's "
        "comparisons are not counted. s / epoch is training time only (forward, backward, update), wall clock and "
        "this process's CPU time (which a busy machine disturbs less)."
    )
    result.plots.append(_plot(rows, out / "pooling-vs-strided.png"))
    result.save()
    return result


def _plot(rows: list[dict], path):
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.4))
    names = [r["variant"] for r in rows]
    for r in rows:
        h = r["history"]
        axes[0].plot([e["epoch"] for e in h], [100 * e["test_acc"] for e in h], "o-", label=r["variant"])
    axes[0].set_xticks([e["epoch"] for e in rows[0]["history"]])
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].legend(fontsize=8)
    axes[0].grid(alpha=0.3)
    for ax, key, title in zip(
        axes[1:],
        ("params", "macs", "cpu_seconds_per_epoch"),
        ("parameters", "multiplications per image", "CPU seconds per epoch"),
    ):
        values = [r[key] for r in rows]
        ax.bar(names, values, color=["#4c72b0", "#dd8452", "#55a868"][: len(rows)])
        for i, v in enumerate(values):
            ax.annotate(f"{v:,.0f}" if key != "cpu_seconds_per_epoch" else f"{v:.1f}", (i, v), ha="center", va="bottom")
        ax.set_ylim(0, 1.15 * max(values))  # room for the labels
        if max(values) >= 1000:  # 1,500,000 rather than 1.5 with a 1e6 offset
            ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
        ax.set_title(title)
    return save_figure(fig, path)
