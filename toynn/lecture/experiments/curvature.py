"""`curvature`: second derivatives in use. Newton's method next to gradient descent on Rosenbrock's valley (the
Hessian from toynn.autodiff.hessian), and the largest Hessian eigenvalues of the lecture's two-layer network's
cross-entropy at initialisation and after training, for sigmoid, tanh and ReLU (the saturation experiment's
networks, smaller): power iteration on Hessian-vector products, never the full Hessian."""

from __future__ import annotations

import numpy as np

from ... import autograd
from ...autodiff import hessian
from ...backend import to_device
from ...nn import functional as F
from ...tensor import Tensor
from .common import Column, Log, Result, load_data, pyplot, quick_subset, report_dir, save_figure, seeded, settings
from .common import train as train_net
from .nets import two_layer_net

QUICK = dict(hidden=32, epochs=3, batch_size=32, lr=0.1, batch=500, iters=20, k=3, gd_steps=2000)
FULL = dict(hidden=100, epochs=5, batch_size=32, lr=0.1, batch=2000, iters=50, k=3, gd_steps=20000)
ACTIVATIONS = ("sigmoid", "tanh", "relu")

COLUMNS = [
    Column("case", "case"),
    Column("steps", "steps"),
    Column("final loss", "loss"),
    Column("top Hessian eigenvalues", "eigenvalues"),
    Column("test accuracy", "test_acc"),
]


def rosenbrock(p: Tensor) -> Tensor:
    """(1 - a)^2 + 100 (b - a^2)^2: a curved valley, minimum 0 at (1, 1)."""
    a, b = p[0], p[1]
    return (1 - a) ** 2 + 100 * (b - a * a) ** 2


def newton(f, x0: np.ndarray, steps: int) -> list[float]:
    """x <- x - H^-1 grad f: f's values along the way (grad and H by toynn's reverse mode, twice)."""
    x, values = np.array(x0, dtype=np.float64), []
    for _ in range(steps + 1):
        p = Tensor(x, requires_grad=True)
        y = f(p)
        values.append(float(y.item()))
        (g,) = autograd.grad(y, p)
        h = hessian(f, Tensor(x)).array
        x = x - np.linalg.solve(to_device(h, "cpu"), to_device(g.array, "cpu"))
    return values


def gradient_descent(f, x0: np.ndarray, steps: int, lr: float) -> list[float]:
    x, values = np.array(x0, dtype=np.float64), []
    for _ in range(steps + 1):
        p = Tensor(x, requires_grad=True)
        y = f(p)
        values.append(float(y.item()))
        (g,) = autograd.grad(y, p)
        x = x - lr * to_device(g.array, "cpu")
    return values


def hvp_params(loss_fn, params: list[Tensor], vs: list[np.ndarray]) -> list[np.ndarray]:
    """H v for the loss over all parameters at once: grad with create_graph, then the gradient of <grad, v>.
    vs and the result are NumPy arrays; the parameters may live on a GPU."""
    grads = autograd.grad(loss_fn(), params, create_graph=True)
    inner = sum((g * Tensor._wrap(to_device(v, p.device))).sum() for g, v, p in zip(grads, vs, params))
    return [to_device(h.array, "cpu") for h in autograd.grad(inner, params)]


def top_eigenvalues(loss_fn, params: list[Tensor], k: int, iters: int, seed: int = 0) -> list[float]:
    """The k eigenvalues of the Hessian largest in magnitude: power iteration on hvp, deflating the ones found."""
    rng = np.random.default_rng(seed)
    found: list[tuple[float, list[np.ndarray]]] = []

    def dot(a, b):
        return float(sum((x * y).sum() for x, y in zip(a, b)))

    for _ in range(k):
        v = [rng.standard_normal(p.shape) for p in params]
        lam = 0.0
        for _ in range(iters):
            norm = np.sqrt(dot(v, v))
            v = [x / norm for x in v]
            hv = hvp_params(loss_fn, params, v)
            for mu, u in found:  # deflate: H - sum mu u u^T
                c = mu * dot(u, v)
                hv = [h - c * x for h, x in zip(hv, u)]
            lam = dot(v, hv)
            v = hv
        norm = np.sqrt(dot(v, v))
        found.append((lam, [x / norm for x in v]))
    return sorted((lam for lam, _ in found), key=abs, reverse=True)


def curvature(
    quick: bool = False,
    data: str = "digits",
    data_dir=None,
    out=None,
    epochs: int | None = None,
    seed: int = 0,
    log: Log = None,
) -> Result:
    """Newton vs gradient descent on Rosenbrock; top Hessian eigenvalues of the two-layer net before and after
    training, per activation."""
    s = settings(QUICK, FULL, quick, data, epochs)
    out = report_dir("curvature", out)
    x0 = np.array([-1.2, 1.0])
    runs = {
        "Newton's method": newton(rosenbrock, x0, 8),
        "gradient descent (lr 1e-3)": gradient_descent(rosenbrock, x0, s["gd_steps"], 1e-3),
    }
    rows = []
    for name, values in runs.items():
        below = next((i for i, v in enumerate(values) if v < 1e-10), None)
        rows.append(
            dict(
                case=f"Rosenbrock, {name}",
                steps=f"{len(values) - 1} ({'never' if below is None else below} to f < 1e-10)",
                loss=f"{values[-1]:.3g}",
                eigenvalues="",
                test_acc="",
            )
        )
    d = load_data(data, data_dir, quick_subset(quick, data), seed)
    s.update(seed=seed, data_set=d.describe())
    x, y = Tensor(d.x_train[: s["batch"]]), Tensor(d.y_train[: s["batch"]])
    spectra = {}
    for act in ACTIVATIONS:
        model = seeded(seed, two_layer_net, int(np.prod(d.input_shape)), d.num_classes, s["hidden"], act)
        params = list(model.parameters())

        def loss_fn(model=model):
            return F.cross_entropy(model(x), y)

        for point in ("initial", "trained"):
            if point == "trained":
                history = train_net(
                    model, d, s["epochs"], lr=s["lr"], batch_size=s["batch_size"], optimizer="sgd", log=log, label=act
                )
            lams = top_eigenvalues(loss_fn, params, s["k"], s["iters"], seed)
            spectra[f"{act}, {point}"] = lams
            if log:
                log(f"  {act} {point}: top eigenvalues {', '.join(f'{v:.3g}' for v in lams)}")
            rows.append(
                dict(
                    case=f"two-layer {act} net, {point}",
                    steps="",
                    loss=f"{float(loss_fn().item()):.4f}",
                    eigenvalues=", ".join(f"{v:.3g}" for v in lams),
                    test_acc=f"{history[-1]['test_acc']:.2%}" if point == "trained" else "",
                )
            )
    result = Result("curvature", rows, COLUMNS, out, settings=s)
    result.extra.update(newton=runs["Newton's method"], spectra=spectra)
    result.notes.append(
        "Newton's step -H^-1 grad f uses the curvature that gradient descent ignores: it reaches the bottom of "
        "the valley in a few steps, where gradient descent, whose step must stay below 2 / (largest eigenvalue), "
        "crawls along it. Eigenvalues by power iteration on Hessian-vector products over all parameters "
        f"({s['iters']} iterations each, deflated), on {s['batch']} training examples"
    )
    result.plots.append(_plot(runs, out / "newton-vs-gd.png"))
    result.save()
    return result


def _plot(runs, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in runs.items():
        ax.semilogy(
            np.arange(len(values)) + 1, np.maximum(values, 1e-16), marker="o" if len(values) < 20 else None, label=name
        )
    ax.set_xscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("Rosenbrock f")
    ax.legend()
    return save_figure(fig, path)
