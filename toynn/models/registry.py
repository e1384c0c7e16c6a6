"""Models by name, so that the command line and saved runs can rebuild them from a config."""

from __future__ import annotations

import math

from .alexnet import AlexNet
from .allconv import AllConvNet
from .classic import MLP, SoftmaxRegression
from .cnn import CifarNet, LeNet5


def _mlp(input_shape, num_classes, hidden=(512,), activation="relu"):
    return MLP(math.prod(input_shape), tuple(hidden), num_classes, activation)


def _softmax(input_shape, num_classes):
    return SoftmaxRegression(math.prod(input_shape), num_classes)


def _image_shape(name: str, input_shape) -> tuple:
    """(C, H, W); flat square inputs such as MNIST's 784 are read as one channel."""
    if len(input_shape) == 1:
        side = math.isqrt(input_shape[0])
        if side * side == input_shape[0]:
            return (1, side, side)
    if len(input_shape) == 2:
        return (1, *input_shape)
    return tuple(input_shape)


def _lenet(input_shape, num_classes):
    return LeNet5(_image_shape("lenet", input_shape), num_classes)


def _cifarnet(input_shape, num_classes):
    return CifarNet(_image_shape("cifarnet", input_shape), num_classes)


_MODELS = {
    "mlp": (_mlp, "the lecture's two-layer network: Linear(in, 512), ReLU, Linear(512, classes)"),
    "softmax": (_softmax, "linear softmax (multinomial logistic) regression"),
    "lenet": (_lenet, "LeNet-5: conv 6@5x5 pad 2, pool, conv 16@5x5, pool, FC 120, 84, classes (ReLU)"),
    "cifarnet": (_cifarnet, "small VGG-style net: 2x conv3x3 32, pool, 2x conv3x3 64, pool, FC 256, classes"),
    "allconv": (
        lambda shape, classes, **kw: AllConvNet(_image_shape("allconv", shape), classes, "strided", **kw),
        "All-CNN-C (Springenberg et al. 2015): 3x3 convs 96, 192, stride-2 convs instead of pooling, global average",
    ),
    "allconv-pool": (
        lambda shape, classes, **kw: AllConvNet(_image_shape("allconv-pool", shape), classes, "pool", **kw),
        "Springenberg et al.'s base model C: as allconv with 3x3 stride-2 max-pooling instead of strided convs",
    ),
    "allconv-convpool": (
        lambda shape, classes, **kw: AllConvNet(_image_shape("allconv-convpool", shape), classes, "convpool", **kw),
        "ConvPool-CNN-C: model C with an extra 3x3 conv before each max-pooling (allconv's parameter count)",
    ),
    "alexnet": (
        lambda shape, classes, **kw: AlexNet(_image_shape("alexnet", shape), classes, **kw),
        "AlexNet as in Krizhevsky et al. 2012: 5 convs (two-GPU split as groups=2), LRN, 3 FC layers, 3x224x224",
    ),
}


def model_names() -> dict[str, str]:
    """Each model name with a one-line description."""
    return {name: doc for name, (_, doc) in _MODELS.items()}


def build_model(name: str, input_shape: tuple, num_classes: int, **kwargs):
    """A fresh model `name` for inputs of input_shape (C, H, W or features) and num_classes outputs."""
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(_MODELS))}")
    return _MODELS[name][0](tuple(input_shape), num_classes, **kwargs)
