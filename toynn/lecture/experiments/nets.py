"""The small networks the experiments train, built here so that the experiments stand on their own.

zf_net: a scaled-down Zeiler & Fergus layout (conv1..conv5, fc6, fc7, classifier) from which named layers
can be removed; springenberg_net: one network with max-pooling, stride-2 convolutions or extra stride-2
convolutions in place of pooling; deep_mlp: Glorot & Bengio's MLP with their "standard" initialisation;
two_layer_net for the loss surface. The CNNs start from He initialisation (he_init).
"""

from __future__ import annotations

import math
from collections import OrderedDict

from ... import nn
from ...errors import ShapeError

ZF_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")


def zf_net(
    input_shape,
    num_classes: int,
    widths=(16, 32, 32, 32, 32),
    fc=(128, 128),
    remove=(),
    kernel_size: int | None = None,
) -> nn.Sequential:
    """conv1, pool, conv2, pool, conv3, conv4, conv5, [pool], fc6, fc7, fc8 with ReLUs, minus the layers in `remove`.

    The layers are named as in Zeiler & Fergus (2014), so remove=("fc6", "fc7") is their "layers 6 & 7 removed";
    each remaining layer takes whatever the layer below it now gives. conv1 and conv2 are 5x5 (3x3 for inputs
    under 16 pixels) and each is followed by 2x2 max-pooling; conv3..conv5 are 3x3 with padding 1, and conv5 is
    pooled when its maps are at least 6 pixels wide; kernel_size overrides conv1 and conv2's.
    Shape: (N, C, H, W) -> logits (N, num_classes).
    """
    unknown = set(remove) - set(ZF_LAYERS)
    if unknown:
        raise ValueError(f"zf_net: cannot remove {sorted(unknown)}; removable layers are {', '.join(ZF_LAYERS)}")
    if len(widths) != 5 or len(fc) != 2:
        raise ValueError(f"zf_net: expected 5 conv widths and 2 fc widths; got widths={widths}, fc={fc}")
    c, h, w = (int(s) for s in input_shape)
    k = kernel_size or (5 if min(h, w) >= 16 else 3)
    layers: list[tuple[str, nn.Module]] = []
    for i, width in enumerate(widths, start=1):
        name = f"conv{i}"
        if name in remove:
            continue
        kernel = k if i <= 2 else 3
        layers += [(name, nn.Conv2d(c, width, kernel, padding=kernel // 2)), (f"relu{i}", nn.ReLU())]
        c = width
        if i <= 2 or (i == 5 and min(h, w) >= 6):
            layers.append((f"pool{i}", nn.MaxPool2d(2)))
            h, w = h // 2, w // 2
    if min(h, w) < 1:
        raise ShapeError(f"zf_net: the input {tuple(input_shape)} is too small for two 2x2 poolings")
    layers.append(("flatten", nn.Flatten()))
    features = c * h * w
    for i, width in zip((6, 7), fc):
        if f"fc{i}" in remove:
            continue
        layers += [(f"fc{i}", nn.Linear(features, width)), (f"relu{i}", nn.ReLU())]
        features = width
    layers.append(("fc8", nn.Linear(features, num_classes)))
    return he_init(nn.Sequential(OrderedDict(layers)))


def he_init(model: nn.Module) -> nn.Module:
    """He et al.'s U[-sqrt(6/fan_in), sqrt(6/fan_in)] for every conv and linear weight, zero biases.

    NOTE: PyTorch's default (a=sqrt(5)) keeps a third of the variance per ReLU layer; over eight layers the
    signal shrinks so much that the full network trains far slower than its ablations, which would measure
    trainability rather than depth.
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


DOWNSAMPLING = ("pool", "strided", "all-conv")


def springenberg_net(input_shape, num_classes: int, downsampling: str = "pool", widths=(32, 64)) -> nn.Sequential:
    """Two blocks of two 3x3 convolutions, each block halving the maps, then 3x3, 1x1 and 1x1-to-classes
    convolutions and a global average (Springenberg et al. 2015, model C scaled down).

    downsampling: "pool" halves with 3x3 max-pooling of stride 2 after each block (their base model);
    "strided" drops the pooling and gives the block's second convolution stride 2 (Strided-CNN);
    "all-conv" replaces the pooling by an extra 3x3 convolution of stride 2 (All-CNN).
    Shape: (N, C, H, W) -> logits (N, num_classes).
    """
    if downsampling not in DOWNSAMPLING:
        raise ValueError(f"springenberg_net: downsampling must be one of {DOWNSAMPLING}; got {downsampling!r}")
    c = int(input_shape[0])
    layers: list[tuple[str, nn.Module]] = []
    for b, width in enumerate(widths, start=1):
        stride = 2 if downsampling == "strided" else 1
        layers += [
            (f"conv{b}a", nn.Conv2d(c, width, 3, padding=1)),
            (f"relu{b}a", nn.ReLU()),
            (f"conv{b}b", nn.Conv2d(width, width, 3, stride=stride, padding=1)),
            (f"relu{b}b", nn.ReLU()),
        ]
        if downsampling == "pool":
            layers.append((f"pool{b}", nn.MaxPool2d(3, stride=2, padding=1)))
        elif downsampling == "all-conv":
            layers += [(f"down{b}", nn.Conv2d(width, width, 3, stride=2, padding=1)), (f"relu{b}d", nn.ReLU())]
        c = width
    layers += [
        ("conv3", nn.Conv2d(c, c, 3, padding=1)),
        ("relu3", nn.ReLU()),
        ("conv4", nn.Conv2d(c, c, 1)),
        ("relu4", nn.ReLU()),
        ("conv5", nn.Conv2d(c, num_classes, 1)),
        ("gap", nn.AdaptiveAvgPool2d(1)),
        ("flatten", nn.Flatten()),
    ]
    return he_init(nn.Sequential(OrderedDict(layers)))


ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


def deep_mlp(in_features: int, num_classes: int, hidden=(256,) * 4, activation: str = "sigmoid") -> nn.Sequential:
    """Flatten, then (Linear, activation) per hidden width, then Linear to the classes, initialised as
    Glorot & Bengio's "standard" scheme: W ~ U[-1/sqrt(n), 1/sqrt(n)] (n = fan-in), biases 0.
    Shape: (N, *) with prod(*) = in_features -> logits (N, num_classes).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"deep_mlp: activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}")
    layers: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
    n = in_features
    for i, width in enumerate(hidden, start=1):
        layers += [(f"fc{i}", _standard_linear(n, width)), (f"act{i}", ACTIVATIONS[activation]())]
        n = width
    layers.append(("out", _standard_linear(n, num_classes)))
    return nn.Sequential(OrderedDict(layers))


def _standard_linear(n_in: int, n_out: int) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    bound = 1 / math.sqrt(n_in)
    nn.init.uniform_(layer.weight, -bound, bound)
    nn.init.zeros_(layer.bias)
    return layer


def two_layer_net(in_features: int, num_classes: int, hidden: int = 32, activation: str = "tanh") -> nn.Sequential:
    """Flatten, Linear(in, hidden) "l1", activation, Linear(hidden, classes) "l2": the loss-surface network."""
    return nn.Sequential(
        OrderedDict(
            [
                ("flatten", nn.Flatten()),
                ("l1", _standard_linear(in_features, hidden)),
                ("act", ACTIVATIONS[activation]()),
                ("l2", _standard_linear(hidden, num_classes)),
            ]
        )
    )
