"""Stateless functions users call as F.name, in PyTorch's signatures."""

from ..ops import log_softmax, pad, relu, sigmoid, softmax, tanh

__all__ = ["log_softmax", "pad", "relu", "sigmoid", "softmax", "tanh"]
