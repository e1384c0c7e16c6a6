"""`loss-surface`: cross-entropy and the quadratic cost of a briefly trained two-layer network as surfaces over two
of its weights, one in each layer, as in Glorot & Bengio (2010, Figure 5)."""

from __future__ import annotations

import numpy as np

from ... import nn
from ...nn import functional as F
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
from .nets import two_layer_net

QUICK = dict(hidden=32, activation="tanh", epochs=10, batch_size=32, lr=0.1, grid=21, span=12.0, batch=300)
FULL = dict(hidden=100, activation="tanh", epochs=2, batch_size=64, lr=0.1, grid=41, span=12.0, batch=2000)

PLATEAU = 0.02  # a grid point is on a plateau where |grad| < 2% of the chance-level cost per unit of weight

COLUMNS = [
    Column("cost", "cost"),
    Column("at trained weights", "at_trained", ".4f"),
    Column("min", "min", ".4f"),
    Column("max", "max", ".4f"),
    Column("range", "range", ".4f"),
    Column("argmin offset (w1, w2)", "argmin_offset"),
    Column("grad norm at trained", "grad_at_trained", ".4f"),
    Column("mean grad norm / chance cost", "steepness", ".4f"),
    Column("plateau (% of grid)", "plateau", ".1%"),
]


def costs(model: nn.Module, x: Tensor, y: Tensor) -> tuple[float, float]:
    """(cross-entropy, quadratic cost) of model on (x, y): quadratic = mean over examples of ||softmax - one-hot||^2."""
    with no_grad():
        logits = model(x)
        ce = F.cross_entropy(logits, y)
        p = logits.softmax(dim=1)
        quad = ((p - F.one_hot(y, p.shape[1]).float()) ** 2).sum(dim=1).mean()
    return float(ce.item()), float(quad.item())


def choose_weights(model: nn.Sequential) -> tuple[tuple[int, int], tuple[int, int]]:
    """Two connected weights: w2 = the output layer's largest |W2[k, l]|, w1 = the largest |W1[l, j]| into unit l."""
    w1, w2 = model.l1.weight.array, model.l2.weight.array
    k, l = np.unravel_index(np.abs(w2).argmax(), w2.shape)
    j = int(np.abs(w1[l]).argmax())
    return (int(l), j), (int(k), int(l))


def loss_surface(
    quick: bool = False,
    data: str = "digits",
    data_dir=None,
    out=None,
    epochs: int | None = None,
    seed: int = 0,
    w1_index: tuple[int, int] | None = None,
    w2_index: tuple[int, int] | None = None,
    log: Log = None,
) -> Result:
    """Train two_layer_net briefly with cross-entropy, then evaluate both costs on a grid of (W1[w1_index] + a,
    W2[w2_index] + b), |a|, |b| <= span, over `batch` training examples. The weights default to choose_weights."""
    s = settings(QUICK, FULL, quick, data, epochs)
    d = load_data(data, data_dir, quick_subset(quick, data), seed)
    out = report_dir("loss-surface", out)
    s.update(seed=seed, data_set=d.describe())
    in_features = int(np.prod(d.input_shape))
    model = seeded(seed, two_layer_net, in_features, d.num_classes, s["hidden"], s["activation"])
    history = train(
        model, d, s["epochs"], lr=s["lr"], batch_size=s["batch_size"], optimizer="sgd", log=log, label="net"
    )
    auto1, auto2 = choose_weights(model)
    w1_index, w2_index = tuple(w1_index or auto1), tuple(w2_index or auto2)
    w1, w2 = model.l1.weight.array, model.l2.weight.array
    trained = (float(w1[w1_index]), float(w2[w2_index]))
    s.update(w1_index=w1_index, w2_index=w2_index, trained=trained, test_acc=history[-1]["test_acc"])
    if log:
        log(f"surface over W1{list(w1_index)} = {trained[0]:.3f}, W2{list(w2_index)} = {trained[1]:.3f} -> {out}")
    x, y = Tensor(d.x_train[: s["batch"]]), Tensor(d.y_train[: s["batch"]])
    offsets = np.linspace(-s["span"], s["span"], s["grid"])  # odd grid: the middle point is the trained weights
    surfaces = np.empty((2, len(offsets), len(offsets)))  # (cost, w1 offset, w2 offset)
    for i, a in enumerate(offsets):
        w1[w1_index] = trained[0] + a
        for j, b in enumerate(offsets):
            w2[w2_index] = trained[1] + b
            surfaces[:, i, j] = costs(model, x, y)
    w1[w1_index], w2[w2_index] = trained
    k = d.num_classes  # the costs of a uniform softmax: ln k and (1 - 1/k)^2 + (k - 1)/k^2 = 1 - 1/k
    chance = (float(np.log(k)), 1 - 1 / k)
    rows = [_summary(*args, offsets) for args in zip(("cross-entropy", "quadratic"), surfaces, chance)]
    result = Result("loss-surface", rows, COLUMNS, out, settings=s)
    result.extra["surfaces"] = {
        "offsets": offsets.tolist(),
        "cross_entropy": surfaces[0].tolist(),
        "quadratic": surfaces[1].tolist(),
    }
    result.notes.append(
        f"grid: {s['grid']}x{s['grid']} offsets in [-{s['span']}, {s['span']}] around W1{list(w1_index)} and "
        f"W2{list(w2_index)}; |grad| is the norm of the finite-difference gradient on the grid. To compare the two "
        f"costs, slopes are divided by each cost's value for a uniform softmax (ln {k} and 1 - 1/{k}): a plateau "
        f"point has |grad| below {PLATEAU:.0%} of that per unit of weight"
    )
    result.plots.append(_plot(surfaces, offsets, trained, w1_index, w2_index, out / "loss-surface.png"))
    result.save()
    return result


def _summary(name: str, surf: np.ndarray, chance: float, offsets: np.ndarray) -> dict:
    """Value, range, minimum and slopes of one cost surface (w1 offset, w2 offset)."""
    step = offsets[1] - offsets[0]
    ga, gb = np.gradient(surf, step, step)
    grad = np.hypot(ga, gb)
    i, j = np.unravel_index(surf.argmin(), surf.shape)
    mid = len(offsets) // 2
    rng = float(surf.max() - surf.min())
    return {
        "cost": name,
        "at_trained": float(surf[mid, mid]),
        "min": float(surf.min()),
        "max": float(surf.max()),
        "range": rng,
        "argmin_offset": f"({offsets[i]:+.2f}, {offsets[j]:+.2f})",
        "argmin": (float(offsets[i]), float(offsets[j])),
        "grad_at_trained": float(grad[mid, mid]),
        "chance": chance,
        "mean_grad": float(grad.mean()),
        "max_grad": float(grad.max()),
        "steepness": float(grad.mean() / chance),
        "plateau": float((grad < PLATEAU * chance).mean()),
    }


def _plot(surfaces, offsets, trained, w1_index, w2_index, path):
    plt = pyplot()
    fig = plt.figure(figsize=(11, 8.4))
    a, b = np.meshgrid(trained[0] + offsets, trained[1] + offsets, indexing="ij")
    for col, (name, surf, cmap) in enumerate(zip(("cross-entropy", "quadratic cost"), surfaces, ("viridis", "magma"))):
        ax = fig.add_subplot(2, 2, col + 1, projection="3d")
        ax.plot_surface(a, b, surf, cmap=cmap, linewidth=0, antialiased=False, rcount=30, ccount=30)
        ax.set_title(name)
        ax.set_xlabel(f"W1{list(w1_index)}", fontsize=8)
        ax.set_ylabel(f"W2{list(w2_index)}", fontsize=8)
        ax.view_init(elev=28, azim=-130)
        ax2 = fig.add_subplot(2, 2, col + 3)
        cs = ax2.contourf(a, b, surf, levels=20, cmap=cmap)
        fig.colorbar(cs, ax=ax2)
        ax2.plot(*trained, "w+", ms=12, mew=2, label="trained")
        i, j = np.unravel_index(surf.argmin(), surf.shape)
        ax2.plot(a[i, j], b[i, j], "rx", ms=9, mew=2, label="grid minimum")
        ax2.set_xlabel(f"W1{list(w1_index)}")
        ax2.set_ylabel(f"W2{list(w2_index)}")
        ax2.legend(fontsize=7, loc="upper right")
    return save_figure(fig, path)
