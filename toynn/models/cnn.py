"""Convolutional models of the CNN half of the lecture: LeNet-5 and a small VGG-style CIFAR net.

Each takes the input shape (C, H, W) and the class count; the size of the first fully connected layer
is worked out from the input shape with toynn.conv.output_size, so the same class serves 28x28 and 32x32.
"""

from __future__ import annotations

from .. import nn
from ..conv import output_size
from ..errors import ShapeError


def _check_input(name: str, input_shape) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ShapeError(f"{name}: input_shape must be (C, H, W); got {tuple(input_shape)}")
    return tuple(int(s) for s in input_shape)


def _after(name: str, hw: tuple[int, int], layers: list[dict]) -> tuple[int, int]:
    """Spatial size after a list of conv/pool layers given as output_size keyword arguments."""
    for kw in layers:
        hw = output_size(input_size=hw, **kw)
        if min(hw) < 1:
            raise ShapeError(f"{name}: the input is too small: the feature maps vanish at {kw}")
    return hw


class LeNet5(nn.Sequential):
    """LeNet-5 as in the CNN issue: conv 6@5x5 pad 2, ReLU, max-pool 2, conv 16@5x5, ReLU, max-pool 2,
    FC 120, ReLU, FC 84, ReLU, FC num_classes. 61,706 parameters on 1x28x28 with 10 classes.

    Shape: input (N, C, H, W) -> logits (N, num_classes)
    """

    def __init__(self, input_shape=(1, 28, 28), num_classes: int = 10):
        c, h, w = _check_input("LeNet5", input_shape)
        conv1, conv2 = dict(kind="conv", kernel_size=5, padding=2), dict(kind="conv", kernel_size=5)
        pool = dict(kind="pool", kernel_size=2)
        hw = _after("LeNet5", (h, w), [conv1, pool, conv2, pool])
        super().__init__(
            nn.Conv2d(c, 6, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * hw[0] * hw[1], 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, num_classes),
        )


class CifarNet(nn.Sequential):
    """The CNN issue's small VGG-style net: conv3x3 32, conv3x3 32, max-pool 2, conv3x3 64, conv3x3 64,
    max-pool 2, FC 256, FC num_classes; all convs padding 1, ReLU after each layer but the last.
    1,116,970 parameters on 3x32x32 with 10 classes.

    Shape: input (N, C, H, W) -> logits (N, num_classes)
    """

    def __init__(self, input_shape=(3, 32, 32), num_classes: int = 10):
        c, h, w = _check_input("CifarNet", input_shape)
        pool = dict(kind="pool", kernel_size=2)
        hw = _after("CifarNet", (h, w), [pool, pool])
        super().__init__(
            nn.Conv2d(c, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * hw[0] * hw[1], 256),
            nn.ReLU(),
            nn.Linear(256, num_classes),
        )
