"""Model zoo: the lecture's models, each taking its input shape and class count."""

from .alexnet import AlexNet
from .allconv import AllConvNet
from .classic import MLP, Perceptron, PerceptronResult, SoftmaxRegression, linearly_separable
from .cnn import CifarNet, LeNet5
from .registry import build_model, model_names

__all__ = [
    "AlexNet",
    "AllConvNet",
    "CifarNet",
    "LeNet5",
    "MLP",
    "Perceptron",
    "PerceptronResult",
    "SoftmaxRegression",
    "build_model",
    "linearly_separable",
    "model_names",
]
