"""Models by name, so that the command line and saved runs can rebuild them from a config."""

from __future__ import annotations

import math

from .classic import MLP, SoftmaxRegression


def _mlp(input_shape, num_classes, hidden=(512,), activation="relu"):
    return MLP(math.prod(input_shape), tuple(hidden), num_classes, activation)


def _softmax(input_shape, num_classes):
    return SoftmaxRegression(math.prod(input_shape), num_classes)


_MODELS = {
    "mlp": (_mlp, "the lecture's two-layer network: Linear(in, 512), ReLU, Linear(512, classes)"),
    "softmax": (_softmax, "linear softmax (multinomial logistic) regression"),
}


def model_names() -> dict[str, str]:
    """Each model name with a one-line description."""
    return {name: doc for name, (_, doc) in _MODELS.items()}


def build_model(name: str, input_shape: tuple, num_classes: int, **kwargs):
    """A fresh model `name` for inputs of input_shape (C, H, W or features) and num_classes outputs."""
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(_MODELS))}")
    return _MODELS[name][0](tuple(input_shape), num_classes, **kwargs)
