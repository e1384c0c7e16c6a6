"""AlexNet exactly as in Krizhevsky, Sutskever & Hinton 2012 (not torchvision's later single-GPU variant).

The paper's two-GPU split is expressed with groups=2: conv2, conv4 and conv5 see only the half of the
previous layer's maps that lived on their GPU; conv3 and the fully connected layers see all of them.
"""

from __future__ import annotations

from collections import OrderedDict

from .. import nn
from .cnn import _after, _check_input

# the paper's Section 3.3: b = a / (k + alpha * sum of a^2 over n neighbouring maps)^beta
LRN = dict(size=5, alpha=1e-4, beta=0.75, k=2.0)


class AlexNet(nn.Sequential):
    """AlexNet (Krizhevsky et al. 2012, Section 3.5 and Figure 2), 60,965,224 parameters with 1000 classes.

        conv1 96@11x11 stride 4, ReLU, LRN, max-pool 3/2    -> 55x55x96  -> 27x27x96
        conv2 256@5x5 pad 2 groups 2, ReLU, LRN, max-pool 3/2 -> 27x27x256 -> 13x13x256
        conv3 384@3x3 pad 1, ReLU                              -> 13x13x384
        conv4 384@3x3 pad 1 groups 2, ReLU                     -> 13x13x384
        conv5 256@3x3 pad 1 groups 2, ReLU, max-pool 3/2      -> 13x13x256 -> 6x6x256
        fc6 4096, ReLU, dropout 0.5; fc7 4096, ReLU, dropout 0.5; fc8 num_classes

    LRN follows the ReLU (Section 3.3) with the paper's n=5, alpha=1e-4, beta=0.75, k=2 over all 96 or
    256 maps. NOTE: nn.LocalResponseNorm (as PyTorch's) divides alpha by size, so it gets alpha * size.
    The paper's 224x224 input gives 54x54 maps after an unpadded conv1, not the 55x55 its figure shows;
    227x227 gives 55x55 exactly. conv1_padding=None picks 0 when the 11x11 stride-4 windows tile the input
    exactly (227) and 2 otherwise (224, as torchvision does); both give the paper's 55x55.

    Shape: input (N, 3, H, W) -> logits (N, num_classes)
    """

    def __init__(self, input_shape=(3, 224, 224), num_classes: int = 1000, conv1_padding: int | None = None):
        c, h, w = _check_input("AlexNet", input_shape)
        if conv1_padding is None:
            conv1_padding = 0 if (h - 11) % 4 == 0 and (w - 11) % 4 == 0 else 2
        pool = dict(kind="pool", kernel_size=3, stride=2)
        conv1 = dict(kind="conv", kernel_size=11, stride=4, padding=conv1_padding)
        hw = _after("AlexNet", (h, w), [conv1, pool, pool, pool])  # conv2..conv5 keep the size
        lrn = dict(LRN, alpha=LRN["alpha"] * LRN["size"])
        layers = [
            ("conv1", nn.Conv2d(c, 96, 11, stride=4, padding=conv1_padding)),
            ("relu1", nn.ReLU()),
            ("norm1", nn.LocalResponseNorm(**lrn)),
            ("pool1", nn.MaxPool2d(3, stride=2)),
            ("conv2", nn.Conv2d(96, 256, 5, padding=2, groups=2)),
            ("relu2", nn.ReLU()),
            ("norm2", nn.LocalResponseNorm(**lrn)),
            ("pool2", nn.MaxPool2d(3, stride=2)),
            ("conv3", nn.Conv2d(256, 384, 3, padding=1)),
            ("relu3", nn.ReLU()),
            ("conv4", nn.Conv2d(384, 384, 3, padding=1, groups=2)),
            ("relu4", nn.ReLU()),
            ("conv5", nn.Conv2d(384, 256, 3, padding=1, groups=2)),
            ("relu5", nn.ReLU()),
            ("pool5", nn.MaxPool2d(3, stride=2)),
            ("flatten", nn.Flatten()),
            ("fc6", nn.Linear(256 * hw[0] * hw[1], 4096)),
            ("relu6", nn.ReLU()),
            ("drop6", nn.Dropout(0.5)),
            ("fc7", nn.Linear(4096, 4096)),
            ("relu7", nn.ReLU()),
            ("drop7", nn.Dropout(0.5)),
            ("fc8", nn.Linear(4096, num_classes)),
        ]
        super().__init__(OrderedDict(layers))


__all__ = ["LRN", "AlexNet"]
