"""`saturation`: per-layer activation statistics during training of sigmoid, tanh and ReLU MLPs with several
hidden layers, initialised and trained as in Glorot & Bengio (2010), plotted as their Figure 2."""

from __future__ import annotations

import numpy as np

from ... import nn
from ...tensor import Tensor, no_grad
from .common import (
    Column,
    Log,
    Result,
    load_data,
    pyplot,
    quick_subset,
    report_dir,
    save_figure,
    seeded,
    settings,
    train,
)
from .nets import deep_mlp

ACTIVATIONS = ("sigmoid", "tanh", "relu")

QUICK = dict(hidden=(128,) * 4, epochs=3, batch_size=10, lr=0.1, every=20, probe=300)
FULL = dict(hidden=(500,) * 4, epochs=2, batch_size=10, lr=0.1, every=500, probe=300)

COLUMNS = [
    Column("activation", "activation"),
    Column("layer", "layer"),
    Column("mean at start", "mean_start", ".3f"),
    Column("std at start", "std_start", ".3f"),
    Column("saturated at start", "sat_start", ".1%"),
    Column("mean at end", "mean_end", ".3f"),
    Column("std at end", "std_end", ".3f"),
    Column("saturated at end", "sat_end", ".1%"),
    Column("most saturated (any checkpoint)", "sat_peak", ".1%"),
    Column("test accuracy", "test_acc", ".2%"),
]


def saturated(activation: str, h: np.ndarray) -> np.ndarray:
    """Where a unit is saturated: |tanh| > 0.99, sigmoid < 0.01 or > 0.99, ReLU == 0 (no gradient flows)."""
    if activation == "tanh":
        return np.abs(h) > 0.99
    if activation == "sigmoid":
        return (h < 0.01) | (h > 0.99)
    return h == 0


def hidden_activations(model: nn.Sequential, x: Tensor) -> list[np.ndarray]:
    """The output of every activation layer of a deep_mlp for the batch x, each (N, width)."""
    acts = []
    with no_grad():
        for m in model:
            x = m(x)
            if isinstance(m, (nn.Sigmoid, nn.Tanh, nn.ReLU)):
                acts.append(x.array.copy())
    return acts


def saturation(
    quick: bool = False,
    data: str = "digits",
    data_dir=None,
    out=None,
    epochs: int | None = None,
    seed: int = 0,
    activations=ACTIVATIONS,
    log: Log = None,
) -> Result:
    """Train deep_mlp with each activation by plain SGD (minibatches of 10, as Glorot & Bengio); every `every`
    steps record each hidden layer's mean, std and fraction saturated over `probe` fixed test examples."""
    s = settings(QUICK, FULL, quick, data, epochs)
    d = load_data(data, data_dir, quick_subset(quick, data), seed)
    out = report_dir("saturation", out)
    s.update(seed=seed, data_set=d.describe())
    probe = Tensor(d.x_test[: s["probe"]])
    in_features = int(np.prod(d.input_shape))
    if log:
        log(f"saturation on {d.describe()}: hidden {s['hidden']}, {s['epochs']} epochs, stats every {s['every']} steps")
    rows, traces = [], {}
    for act in activations:
        model = seeded(seed, deep_mlp, in_features, d.num_classes, s["hidden"], act)
        trace = {"step": [], "mean": [], "std": [], "saturated": []}  # each (checkpoints, layers) once stacked

        steps = [0]

        def record(step, model=model, trace=trace, act=act, steps=steps):
            steps[0] = step
            if step % s["every"] == 0:
                _snapshot(model, probe, act, step, trace)

        history = train(
            model, d, s["epochs"], lr=s["lr"], batch_size=s["batch_size"], optimizer="sgd", on_step=record, log=log,
            label=act,
        )  # fmt: skip
        if trace["step"][-1] != steps[0]:  # "at end" is after the last update
            _snapshot(model, probe, act, steps[0], trace)
        trace = {k: np.asarray(v) for k, v in trace.items()}
        traces[act] = trace
        for layer in range(len(s["hidden"])):
            rows.append(
                {
                    "activation": act,
                    "layer": layer + 1,
                    "mean_start": trace["mean"][0, layer],
                    "std_start": trace["std"][0, layer],
                    "sat_start": trace["saturated"][0, layer],
                    "mean_end": trace["mean"][-1, layer],
                    "std_end": trace["std"][-1, layer],
                    "sat_end": trace["saturated"][-1, layer],
                    "sat_peak": trace["saturated"][:, layer].max(),
                    "test_acc": history[-1]["test_acc"],
                }
            )
    result = Result("saturation", rows, COLUMNS, out, settings=s)
    result.extra["traces"] = {a: {k: v.tolist() for k, v in t.items()} for a, t in traces.items()}
    result.notes.append(
        "saturated: |tanh| > 0.99, sigmoid < 0.01 or > 0.99, ReLU == 0; statistics over "
        f"{s['probe']} fixed test examples; layer 1 is the lowest hidden layer"
    )
    result.plots.append(_plot(traces, out / "saturation.png"))
    result.save()
    return result


def _snapshot(model, probe: Tensor, activation: str, step: int, trace: dict) -> None:
    """Append each hidden layer's mean, std and fraction saturated over the probe batch to trace."""
    hs = hidden_activations(model, probe)
    trace["step"].append(step)
    trace["mean"].append([float(h.mean()) for h in hs])
    trace["std"].append([float(h.std()) for h in hs])
    trace["saturated"].append([float(saturated(activation, h).mean()) for h in hs])


def _plot(traces: dict, path):
    """Glorot & Bengio's Figure 2: mean (line) and std (bars) per hidden layer vs steps; below, % saturated."""
    plt = pyplot()
    fig, axes = plt.subplots(2, len(traces), figsize=(4.6 * len(traces), 6.4), squeeze=False)
    for col, (act, t) in enumerate(traces.items()):
        steps, layers = t["step"], t["mean"].shape[1]
        width = (steps[-1] - steps[0]) / max(len(steps) - 1, 1)
        for layer in range(layers):
            shift = (layer - (layers - 1) / 2) * width * 0.12  # keep the error bars of the layers apart
            axes[0, col].errorbar(
                steps + shift, t["mean"][:, layer], yerr=t["std"][:, layer], label=f"layer {layer + 1}",
                capsize=2, lw=1.2, elinewidth=0.8, errorevery=max(1, len(steps) // 12),
            )  # fmt: skip
            axes[1, col].plot(steps, 100 * t["saturated"][:, layer], label=f"layer {layer + 1}")
        axes[0, col].set_title(f"{act}: mean and std of the activations")
        axes[1, col].set_title(f"{act}: % saturated" + (" (== 0)" if act == "relu" else ""))
        axes[1, col].set_xlabel("training step")
        axes[1, col].set_ylim(-2, 102)
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    return save_figure(fig, path)
