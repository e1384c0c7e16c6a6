"""The lecture's first models: Rosenblatt's perceptron, linear softmax regression and the MLP."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import nn
from ..backend import to_device
from ..creation import zeros
from ..errors import ShapeError
from ..tensor import Tensor, no_grad

_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU}


@dataclass
class PerceptronResult:
    """What Rosenblatt's rule did: converged (no mistakes in an epoch), epochs run, mistakes per epoch."""

    converged: bool
    epochs: int
    mistakes: list[int]
    separable: bool | None  # None when SciPy is not there to decide it
    message: str


class Perceptron(nn.Module):
    """f(x) = 1 if w·x + b > 0 else 0 (Rosenblatt 1957). Shape: (N, in_features) -> (N,) of 0/1."""

    def __init__(self, in_features: int):
        super().__init__()
        self.in_features = in_features
        self.weight = nn.Parameter(zeros(in_features))
        self.bias = nn.Parameter(zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        return (x @ self.weight + self.bias > 0).long()

    def fit(self, x, y, epochs: int = 100, lr: float = 1.0) -> PerceptronResult:
        """Rosenblatt's rule, one sample at a time: on a mistake, w += lr (y - f(x)) x and b += lr (y - f(x)).

        The step has no useful gradient, so this is not backprop. On linearly separable data it stops
        after finitely many mistakes (Novikoff); otherwise it reports the data are not separable.
        """
        # the rule runs one sample at a time in Python: on host arrays, wherever the tensors live
        xs = np.asarray(to_device(x.array, "cpu") if isinstance(x, Tensor) else x, dtype=np.float64)
        ys = np.asarray(to_device(y.array, "cpu") if isinstance(y, Tensor) else y)
        if xs.ndim != 2 or xs.shape[1] != self.in_features:
            raise ShapeError(f"Perceptron.fit: x must be (N, {self.in_features}); got {tuple(xs.shape)}")
        if ys.shape != (len(xs),) or not np.isin(ys, (0, 1)).all():
            raise ValueError(f"Perceptron.fit: y must be {len(xs)} labels in {{0, 1}}; got shape {tuple(ys.shape)}")
        w, b = to_device(self.weight.array, "cpu").astype(np.float64), float(self.bias.array)
        mistakes = []
        for _ in range(epochs):
            errors = 0
            for xi, yi in zip(xs, ys):
                update = lr * (yi - (xi @ w + b > 0))
                if update:
                    w += update * xi
                    b += update
                    errors += 1
            mistakes.append(errors)
            if errors == 0:
                break
        with no_grad():
            self.weight.array[...] = to_device(w.astype(self.weight.dtype), self.weight.device)
            self.bias.array[...] = b
        converged = mistakes[-1] == 0
        separable = True if converged else linearly_separable(xs, ys)
        if converged:
            message = f"converged after {len(mistakes)} epochs ({sum(mistakes)} updates)"
        elif separable is False:
            message = f"the data are not linearly separable: {mistakes[-1]} mistakes remain after {epochs} epochs"
        else:
            message = f"no separating hyperplane found in {epochs} epochs ({mistakes[-1]} mistakes in the last)"
        return PerceptronResult(converged, len(mistakes), mistakes, separable, message)


def linearly_separable(x, y) -> bool | None:
    """Whether some w, b give (2y - 1)(w·x + b) >= 1 for all samples (an LP); None without SciPy."""
    try:
        from scipy.optimize import linprog
    except ImportError:
        return None
    x, s = np.asarray(x, dtype=np.float64), 2.0 * np.asarray(y) - 1
    a_ub = -s[:, None] * np.hstack([x, np.ones((len(x), 1))])  # -s_i (x_i, 1)·(w, b) <= -1
    res = linprog(np.zeros(x.shape[1] + 1), A_ub=a_ub, b_ub=-np.ones(len(x)), bounds=(None, None), method="highs")
    return bool(res.status == 0)


class SoftmaxRegression(nn.Module):
    """Linear softmax: logits = x @ W.T + b; softmax(logits) are class probabilities. (N, in) -> (N, classes)."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.flatten(x))

    def predict_proba(self, x: Tensor) -> Tensor:
        return self.forward(x).softmax(dim=1)


class MLP(nn.Module):
    """N-layer perceptron: Linear, activation, ..., Linear. (N, in_features) -> (N, num_classes) logits."""

    def __init__(
        self,
        in_features: int,
        hidden: tuple[int, ...] | list[int] = (512,),
        num_classes: int = 10,
        activation: str = "relu",
    ):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"MLP: activation must be one of {sorted(_ACTIVATIONS)}; got {activation!r}")
        widths = [in_features, *hidden]
        layers = [nn.Flatten()]
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(a, b), _ACTIVATIONS[activation]()]
        layers.append(nn.Linear(widths[-1], num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


__all__ = ["MLP", "Perceptron", "PerceptronResult", "SoftmaxRegression", "linearly_separable"]
