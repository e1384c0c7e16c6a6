"""`toynn report RUN`: one self-contained HTML page for a run folder written by `toynn train`.

The page holds the training curves, the per-epoch metrics, the model summary, the first layer's
filters, the top-activating test crops of each conv layer, and the confusion matrix on the test set.
Images are PNG data URIs and the styling is inline, so the file reads offline and can be mailed alone.
"""

from __future__ import annotations

import base64
import html
import json
import math
import time
from pathlib import Path

import numpy as np

from ..nn import Conv2d, Linear
from . import vision

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
img { image-rendering: pixelated; border: 1px solid #ddd; max-width: 100%; }
img.plot { image-rendering: auto; }
.note { color: #666; font-size: 0.9em; } .bad { color: #a00; }
table.cm td { min-width: 2.6em; } figure { display: inline-block; margin: 0 1.5em 1em 0; vertical-align: top; }
figcaption { font-size: 0.85em; color: #555; }
"""


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _img(png: bytes, alt: str, cls: str = "") -> str:
    extra = f' class="{cls}"' if cls else ""
    return f'<img{extra} alt="{html.escape(alt)}" src="{_data_uri(png)}">'


def _table(head, rows, left: int = 1, cls: str = "") -> str:
    """An HTML table (head None: no header row); the first `left` columns are left-aligned, the rest right-aligned."""

    def cells(tag, row):
        return "".join(
            f"<{tag}{' class=l' if i < left else ''}>{html.escape(str(v))}</{tag}>" for i, v in enumerate(row)
        )

    body = "".join(f"<tr>{cells('td', r)}</tr>" for r in rows)
    top = f"<tr>{cells('th', head)}</tr>" if head else ""
    return f"<table{f' class={cls}' if cls else ''}>{top}{body}</table>"


def _scale_for(image: np.ndarray, target: int = 360, most: int = 12) -> int:
    """An integer enlargement that makes the longer side of a small image about `target` pixels."""
    return int(max(1, min(most, target // max(image.shape[:2]))))


# ---------------------------------------------------------------------------------------------
# sections: each returns an HTML fragment


def _curves(run_dir: Path, epochs: list[dict]) -> str:
    path = run_dir / "curves.png"
    if path.exists():
        picture = _img(path.read_bytes(), "training curves", "plot")
    elif epochs:
        import tempfile

        from ..train import History, plot_history

        with tempfile.TemporaryDirectory() as tmp:
            picture = _img(plot_history(History(epochs), Path(tmp) / "c.png").read_bytes(), "training curves", "plot")
    else:
        picture = '<p class="note">no curves.png and no metrics.json in the run folder</p>'
    keys = [
        k
        for k in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")
        if epochs and k in epochs[-1]
    ]

    def fmt(key, v):
        if v is None:
            return ""
        if key == "epoch":
            return str(v)
        if key == "seconds":
            return f"{v:.1f}"
        return f"{v:.4g}" if key == "lr" else f"{v:.4f}"

    rows = [[fmt(k, e.get(k)) for k in keys] for e in epochs]
    return f"<h2>Training curves</h2>{picture}" + (_table(keys, rows, left=0) if rows else "")


def _summary(model, input_shape) -> str:
    import toynn

    summarize = getattr(toynn, "summary", None)
    if callable(summarize):
        s = summarize(model, tuple(input_shape))
        rows = [
            [r.name, r.type, "x".join(map(str, r.output_shape)), f"{r.params:,}", f"{r.neurons:,}", f"{r.macs:,}"]
            for r in s.rows
        ]
        rows.append(["Total", "", "", f"{s.total_params:,}", f"{s.total_neurons:,}", f"{s.total_macs:,}"])
        head = ["Layer", "Type", "Output shape", "Params", "Neurons", "MACs"]
        return "<h2>Model</h2>" + _table(head, rows, left=3)
    rows, total = [], 0
    for name, m in vision.leaf_layers(model):
        n = sum(p.numel() for p in m.parameters())
        total += n
        rows.append([name, type(m).__name__, f"{n:,}"])
    rows.append(["Total", "", f"{total:,}"])
    return "<h2>Model</h2>" + _table(["Layer", "Type", "Params"], rows, left=2)


def _first_layer(model, input_shape) -> str:
    """The first conv layer's filters, or the first linear layer's weight rows shown as input-shaped images."""
    for name, m in vision.leaf_layers(model):
        if isinstance(m, Conv2d) and m._nd == 2:
            grid = vision.filter_grid(m.weight)
            what = f"{name}: {m.out_channels} filters of {m.in_channels}x{m.kernel_size[0]}x{m.kernel_size[1]}"
            break
        if isinstance(m, Linear):
            shape = _image_shape(input_shape)
            if shape is None or math.prod(shape) != m.in_features:
                return ""
            w = m.weight.array[:64].reshape(-1, *shape)  # (64, in) -> (64, C, H, W): one unit's weights per tile
            grid = vision.filter_grid(w) if shape[0] in (1, 3) else vision.filter_grid(w[:, :1])
            what = (
                f"{name}: the weights of the first {len(w)} of {m.out_features} units, as {shape[1]}x{shape[2]} images"
            )
            break
    else:
        return ""
    note = f'<p class="note">{html.escape(what)}; each scaled on its own, 0 = grey, white = positive.</p>'
    return "<h2>First-layer filters</h2>" + note + _img(vision.png_bytes(grid, _scale_for(grid)), "first-layer filters")


def _image_shape(input_shape) -> tuple | None:
    if len(input_shape) == 3:
        return tuple(input_shape)
    if len(input_shape) == 1 and math.isqrt(input_shape[0]) ** 2 == input_shape[0]:
        side = math.isqrt(input_shape[0])
        return (1, side, side)
    return None


def _top_crops(model, x, k: int, max_filters: int) -> str:
    names = vision.conv_layers(model)
    if not names:
        return ""
    parts = [
        "<h2>Top crops</h2>",
        f'<p class="note">For each filter (one row), the {k} images of {len(x)} test images that excite it most, '
        "cropped to the receptive field of the unit that fired; blue is outside the image. "
        f"At most {max_filters} filters per layer.</p>",
    ]
    lo, hi = float(x.min()), float(x.max())
    for name in names:
        try:
            rf = vision.receptive_field(model, name)
        except ValueError as err:
            parts.append(f'<p class="note">{html.escape(name)}: {html.escape(str(err))}</p>')
            continue
        channels = list(range(min(max_filters, _out_channels(model, name))))
        tc = vision.top_crops(model, name, x, k=k, channels=channels)
        grid = tc.grid(lo, hi)
        caption = (
            f"layer {name}: receptive field {rf.size[0]}x{rf.size[1]}, jump {rf.jump[0]}; "
            f"top activations of filter 0: {', '.join(f'{v:.3g}' for v in tc.values[0][:3])}"
        )
        parts.append(
            f"<figure>{_img(vision.png_bytes(grid, max(2, min(10, 56 // max(rf.size)))), f'top crops {name}')}"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )
    return "".join(parts)


def _out_channels(model, name) -> int:
    return vision.find_layer(model, name)[1].out_channels


def confusion_matrix(model, x, y, num_classes: int, batch_size: int = 512) -> np.ndarray:
    """counts[true, predicted] of model on images x (N, ...) with labels y (N,), in eval mode without a graph."""
    from ..creation import tensor
    from ..tensor import no_grad

    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    was_training = model.training
    model.eval()
    with no_grad():
        for a in range(0, len(x), batch_size):
            pred = vision.images.as_numpy(model(tensor(x[a : a + batch_size])).array).argmax(axis=1)
            np.add.at(counts, (y[a : a + batch_size], pred), 1)
    model.train(was_training)
    return counts


def _confusion(counts: np.ndarray, classes: list[str]) -> str:
    total = counts.sum()
    acc = np.trace(counts) / max(total, 1)
    top = max(int(counts.max()), 1)

    def cell(i, j):
        v = int(counts[i, j])
        alpha = 0.85 * v / top
        color = f"rgba(30, 100, 200, {alpha:.2f})" if i == j else f"rgba(210, 50, 40, {min(1, 4 * alpha):.2f})"
        ink = "#fff" if i == j and alpha > 0.45 else "#222"
        return f'<td style="background:{color};color:{ink}">{v}</td>'

    head = "<tr><th class=l>true \\ predicted</th>" + "".join(f"<th>{html.escape(c)}</th>" for c in classes)
    head += "<th>recall</th></tr>"
    rows = ""
    for i, c in enumerate(classes):
        recall = counts[i, i] / max(counts[i].sum(), 1)
        rows += f"<tr><th class=l>{html.escape(c)}</th>" + "".join(cell(i, j) for j in range(len(classes)))
        rows += f"<td>{recall:.3f}</td></tr>"
    return (
        f"<h2>Confusion matrix</h2><p>Test accuracy <b id=test-accuracy>{acc:.4f}</b> "
        f"({int(np.trace(counts))} of {int(total)} test images correct).</p>"
        f'<table class="cm">{head}{rows}</table>'
    )


# ---------------------------------------------------------------------------------------------


def build_report(run_dir, data_dir=None, samples: int = 1000, k: int = 8, max_filters: int = 16) -> str:
    """The HTML text of the report for run folder run_dir (see make_report)."""
    from ..data.registry import run_dataset
    from ..io.runs import load_run

    run_dir = Path(run_dir)
    model, config = load_run(run_dir)
    metrics = run_dir / "metrics.json"
    epochs = json.loads(metrics.read_text())["epochs"] if metrics.exists() else []
    input_shape, classes = config["input_shape"], config["classes"]
    args = config.get("args", {})
    data_dir = data_dir or args.get("data_dir")
    sections = [_curves(run_dir, epochs), _summary(model, input_shape), _first_layer(model, input_shape)]
    try:
        x, y = run_dataset(config, data_dir, train=False).arrays()  # the test split only
    except (FileNotFoundError, ValueError) as err:
        sections.append(
            f'<h2>Test set</h2><p class="bad">The test set of {html.escape(config["data"])} could not be read '
            f"({html.escape(str(err))}); pass --data-dir. Top crops and the confusion matrix are left out.</p>"
        )
    else:
        pick = np.random.default_rng(0).permutation(len(x))[:samples]
        sections.append(_top_crops(model, x[np.sort(pick)], k, max_filters))
        sections.append(_confusion(confusion_matrix(model, x, y, len(classes)), classes))
    title = f"toynn run {run_dir.name}"
    facts = [
        ["model", config["model"]],
        ["data", f"{config['data']} (input {'x'.join(map(str, input_shape))}, {len(classes)} classes)"],
        ["epochs", f"{len(epochs)}" + (f" of {args['epochs']}" if "epochs" in args else "")],
    ]
    if epochs and "val_acc" in epochs[-1]:
        facts.append(["final validation accuracy", f"{epochs[-1]['val_acc']:.4f}"])
    settings = ", ".join(f"{k}={v}" for k, v in args.items() if k not in ("model", "data", "handler"))
    facts.append(["settings", settings])
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
        f"<body><h1>{html.escape(title)}</h1>"
        f'<p class="note">{html.escape(str(run_dir))}, report written {time.strftime("%Y-%m-%d %H:%M")}</p>'
        + _table(None, facts, left=2)
        + "".join(sections)
        + "</body></html>\n"
    )


def make_report(run_dir, out=None, data_dir=None, samples: int = 1000, k: int = 8, max_filters: int = 16) -> Path:
    """Write the report of run_dir to out (default RUN/report.html) and return its path.

    samples: how many test images (a fixed random subset) the top crops search; k: crops per filter;
    max_filters: filters shown per conv layer. data_dir overrides the data folder saved in the run.
    """
    out = Path(out) if out is not None else Path(run_dir) / "report.html"
    text = build_report(run_dir, data_dir, samples, k, max_filters)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return out
