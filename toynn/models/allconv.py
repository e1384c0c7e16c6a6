"""The All-Convolutional Net (Springenberg, Dosovitskiy, Brox & Riedmiller 2015, "Striving for simplicity"):
model C of their Table 1 and its three Table 2 variants, for 32x32 (CIFAR) and 28x28 (MNIST) inputs.
"""

from __future__ import annotations

from collections import OrderedDict

from .. import nn
from .cnn import _after, _check_input

# variant -> (the paper's name, what replaces each of the two 3x3 stride-2 max-pooling layers of model C)
VARIANTS = {
    "strided": ("All-CNN-C", "a 3x3 stride-2 convolution instead of each max-pooling layer"),
    "pool": ("Model C", "the base model: 3x3 max-pooling, stride 2"),
    "convpool": ("ConvPool-CNN-C", "an extra 3x3 convolution before each max-pooling layer"),
    "nopool": ("Strided-CNN-C", "no pooling: the convolution before each pooling layer gets stride 2"),
}


class AllConvNet(nn.Sequential):
    """Springenberg et al.'s model C (Table 1) and its variants (Table 2), one class.

    All variants, with channels=(a, b) = (96, 192) as in the paper ("conv3 a" = 3x3 conv with a filters):
        pool      conv3 a, conv3 a,                  maxpool3/2, conv3 b, conv3 b,                  maxpool3/2, ...
        strided   conv3 a, conv3 a, conv3 a stride 2,            conv3 b, conv3 b, conv3 b stride 2,            ...
        convpool  conv3 a, conv3 a, conv3 a,         maxpool3/2, conv3 b, conv3 b, conv3 b,         maxpool3/2, ...
        nopool    conv3 a, conv3 a stride 2,                     conv3 b, conv3 b stride 2,                     ...
        ... conv3 b (no padding), conv1 b, conv1 num_classes, global average, (softmax in the loss)
    Each convolution is followed by a ReLU, the last (num_classes) one too, as in the paper's Table 1.
    3x3 convolutions and poolings are padded by 1 except the one after the second downsampling, so 32x32
    inputs end at the paper's 6x6 before the global average (28x28 at 5x5). With dropout=True, dropout is
    applied as in the paper's Section 3.2: 20% on the input and 50% after each (replaced) pooling layer.
    channels=(a, b) narrows the net for tests and quick experiments.

    Shape: input (N, C, H, W) -> logits (N, num_classes)
    """

    def __init__(
        self,
        input_shape=(3, 32, 32),
        num_classes: int = 10,
        variant: str = "strided",
        channels: tuple[int, int] = (96, 192),
        dropout: bool = True,
    ):
        if variant not in VARIANTS:
            raise ValueError(f"AllConvNet: variant must be one of {sorted(VARIANTS)}; got {variant!r}")
        name = f"AllConvNet({variant})"
        c, h, w = _check_input(name, input_shape)
        a, b = channels
        down = dict(kind="conv", kernel_size=3, stride=2, padding=1)  # max-pool 3/2 pad 1 has the same size
        _after(name, (h, w), [down, down, dict(kind="conv", kernel_size=3)])
        self.variant, self.num_classes = variant, num_classes
        p_in, p_mid = (0.2, 0.5) if dropout else (0.0, 0.0)
        layers = [("drop0", nn.Dropout(p_in))]
        n = 0  # convolutions so far: layers are named conv1, relu1, conv2, ...

        def conv(c_in, c_out, k=3, stride=1, padding=1):
            nonlocal n
            n += 1
            layers.extend([(f"conv{n}", nn.Conv2d(c_in, c_out, k, stride, padding)), (f"relu{n}", nn.ReLU())])

        c_in = c
        for stage, width in ((1, a), (2, b)):
            conv(c_in, width)
            if variant == "nopool":
                conv(width, width, stride=2)
            else:
                conv(width, width)
                if variant == "strided":
                    conv(width, width, stride=2)
                elif variant == "convpool":
                    conv(width, width)
                if variant != "strided":
                    layers.append((f"pool{stage}", nn.MaxPool2d(3, stride=2, padding=1)))
            layers.append((f"drop{stage}", nn.Dropout(p_mid)))
            c_in = width
        conv(b, b, padding=0)
        conv(b, b, 1, padding=0)
        conv(b, num_classes, 1, padding=0)
        layers += [("avg", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten())]
        super().__init__(OrderedDict(layers))


__all__ = ["VARIANTS", "AllConvNet"]
