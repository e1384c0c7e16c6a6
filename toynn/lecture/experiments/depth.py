"""`ablation`: is depth the key? Train a conv net, then retrain it with layers removed as Zeiler & Fergus
(2014, Table 3) did, and compare test accuracy and parameter counts with the full network."""

from __future__ import annotations

from .common import (
    Column,
    Log,
    Result,
    count_params,
    load_data,
    pyplot,
    quick_subset,
    report_dir,
    save_figure,
    seeded,
    settings,
    train,
)
from .nets import ZF_LAYERS, zf_net

# (label, removed layers, the change in performance the lecture quotes from Zeiler & Fergus on ImageNet)
VARIANTS = (
    ("full", (), None),
    ("top FC removed", ("fc7",), -1.1),
    ("both FC removed", ("fc6", "fc7"), -5.7),
    ("middle convs removed", ("conv3", "conv4"), -3.0),
    ("middle convs and both FC removed", ("conv3", "conv4", "fc6", "fc7"), -33.5),
)

QUICK = dict(widths=(8, 16, 16, 16, 16), fc=(64, 64), kernel_size=3, epochs=3, batch_size=16, lr=3e-3)
FULL = dict(widths=(8, 16, 16, 16, 16), fc=(128, 128), kernel_size=5, epochs=3, batch_size=32, lr=1e-3)

COLUMNS = [
    Column("network", "variant"),
    Column("layers removed", "removed"),
    Column("conv", "conv_layers"),
    Column("FC", "fc_layers"),
    Column("parameters", "params", ","),
    Column("test accuracy", "test_acc", ".2%"),
    Column("change vs full (points)", "change", "+.2f"),
    Column("Z&F on ImageNet (lecture)", "paper_change", "+.1f"),
]


def ablation(
    quick: bool = False,
    data: str = "digits",
    data_dir=None,
    out=None,
    epochs: int | None = None,
    seed: int = 0,
    variants=VARIANTS,
    log: Log = None,
) -> Result:
    """Train zf_net minus the layers of each of `variants` ((label, removed layers, the paper's change) triples)
    from the same seed on the same data; one row per variant with its test accuracy after the last epoch.
    The first variant (the full network by default) is the reference for the change in accuracy."""
    s = settings(QUICK, FULL, quick, data, epochs)
    d = load_data(data, data_dir, quick_subset(quick, data), seed)
    out = report_dir("ablation", out)
    s.update(seed=seed, data_set=d.describe())
    if log:
        log(f"ablation on {d.describe()}: {len(variants)} networks, {s['epochs']} epochs each -> {out}")
    rows, curves = [], {}
    for label, removed, paper in variants:
        model = seeded(seed, zf_net, d.input_shape, d.num_classes, s["widths"], s["fc"], removed, s["kernel_size"])
        history = train(
            model, d, s["epochs"], lr=s["lr"], batch_size=s["batch_size"], log=log, label=label, optimizer="adam"
        )
        kept = [name for name in ZF_LAYERS if name not in removed]
        rows.append(
            {
                "variant": label,
                "removed": ", ".join(removed) or "-",
                "conv_layers": sum(n.startswith("conv") for n in kept),
                "fc_layers": sum(n.startswith("fc") for n in kept) + 1,  # + the classifier, fc8
                "params": count_params(model),
                "test_acc": history[-1]["test_acc"],
                "seconds_per_epoch": sum(h["seconds"] for h in history) / len(history),
                "paper_change": paper,
                "history": history,
            }
        )
        curves[label] = [h["test_acc"] for h in history]
    full = rows[0]["test_acc"]
    for r in rows:
        r["change"] = 100 * (r["test_acc"] - full)
    result = Result("ablation", rows, COLUMNS, out, settings=s)
    result.notes.append(
        "change vs full is in accuracy percentage points; the last column is the drop in performance the lecture "
        "quotes from Zeiler & Fergus (2014, Table 3) for the same removals in their ImageNet network"
    )
    result.plots.append(_plot(rows, curves, out / "ablation.png"))
    result.save()
    return result


def _plot(rows: list[dict], curves: dict, path):
    plt = pyplot()
    fig, (ax_bar, ax_curve) = plt.subplots(1, 2, figsize=(11, 4))
    labels = ["full" if r["removed"] == "-" else "without\n" + r["removed"].replace("4, fc", "4,\nfc") for r in rows]
    accs = [100 * r["test_acc"] for r in rows]
    bars = ax_bar.bar(range(len(rows)), accs, color=["#4c72b0"] + ["#dd8452"] * (len(rows) - 1))
    for bar, r in zip(bars, rows):
        ax_bar.annotate(
            f"{100 * r['test_acc']:.2f}%\n{r['params']:,} p",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    low = min(accs)
    ax_bar.set_ylim(max(0.0, low - (100 - low) * 0.6 - 1), 100.5)
    ax_bar.set_xticks(range(len(rows)), labels, fontsize=7)
    ax_bar.set_ylabel("test accuracy (%)")
    ax_bar.set_title("test accuracy after the last epoch")
    for label, accs in curves.items():
        ax_curve.plot(range(1, len(accs) + 1), [100 * a for a in accs], "o-", label=label)
    ax_curve.set_xticks(range(1, max(len(a) for a in curves.values()) + 1))
    ax_curve.set_xlabel("epoch")
    ax_curve.set_ylabel("test accuracy (%)")
    ax_curve.grid(alpha=0.3)
    ax_curve.legend(fontsize=7)
    return save_figure(fig, path)
