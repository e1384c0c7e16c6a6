"""Receptive fields from layer geometry: which input pixels one unit of a conv/pool layer can see.

Along each axis, a unit of layer l covers `size` input pixels, neighbouring units are `jump` pixels apart,
and the box of unit 0 starts at `offset` (negative where it reaches into the padding). A layer with kernel k,
stride s, padding p and dilation d (k_eff = d (k - 1) + 1) updates them from those of the layer before:

    size_l = size + (k_eff - 1) jump     jump_l = jump s     offset_l = offset - p jump

(Araujo et al., "Computing receptive fields of convolutional neural networks", Distill 2019.) Elementwise
layers (activations, dropout, batch and local response normalisation) keep them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...conv.arithmetic import ntuple
from ...nn import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Dropout2d,
    Identity,
    LeakyReLU,
    LocalResponseNorm,
    LogSoftmax,
    MaxPool1d,
    MaxPool2d,
    Module,
    ReLU,
    Sigmoid,
    Softmax,
    Step,
    Tanh,
)
from .layers import chain_upto, find_layer

POINTWISE = (
    ReLU,
    LeakyReLU,
    Sigmoid,
    Tanh,
    Step,
    Softmax,
    LogSoftmax,
    Dropout,
    Dropout2d,
    Identity,
    BatchNorm2d,
    LocalResponseNorm,
)


@dataclass(frozen=True)
class ReceptiveField:
    """Geometry of one layer's units in input pixels, per axis (rows, columns).

    size: pixels one unit sees; jump: distance in input pixels between neighbouring units; offset: first
    row/column of unit (0, 0)'s box (negative: it starts in the padding); start: the centre of that box.
    """

    layer: str
    size: tuple[int, int]
    jump: tuple[int, int]
    offset: tuple[int, int]

    @property
    def start(self) -> tuple[float, float]:
        return tuple(o + (s - 1) / 2 for o, s in zip(self.offset, self.size))

    def box(self, i: int, j: int, input_size=None) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) of unit (i, j)'s input box, bottom and right exclusive; clipped to
        input_size (H, W) when given (the part of the box that lies on the image)."""
        top, left = self.offset[0] + i * self.jump[0], self.offset[1] + j * self.jump[1]
        bottom, right = top + self.size[0], left + self.size[1]
        if input_size is None:
            return top, left, bottom, right
        H, W = input_size
        return max(top, 0), max(left, 0), min(bottom, H), min(right, W)


def _geometry(name: str, m: Module) -> tuple | None:
    """(kernel, stride, padding, dilation) of a conv/pool layer, each an (h, w) pair; None for pointwise layers."""
    op = f"receptive_field ({name}: {type(m).__name__})"
    if isinstance(m, Conv2d) and m._nd == 2:
        k, s, d = m.kernel_size, m.stride, m.dilation
        if m.padding == "same":  # as Conv2d pads: the smaller half on the top and left
            p = tuple((di * (ki - 1)) // 2 for ki, di in zip(k, d))
        else:
            p = (0, 0) if m.padding == "valid" else m.padding
        return k, s, p, d
    if isinstance(m, MaxPool2d) and not isinstance(m, MaxPool1d):
        k = ntuple(m.kernel_size, 2, "kernel_size", op)
        return k, ntuple(m.stride, 2, "stride", op), ntuple(m.padding, 2, "padding", op), ntuple(m.dilation, 2, "", op)
    if isinstance(m, AvgPool2d):
        k = ntuple(m.kernel_size, 2, "kernel_size", op)
        return k, ntuple(m.stride, 2, "stride", op), ntuple(m.padding, 2, "padding", op), (1, 1)
    if isinstance(m, POINTWISE):
        return None
    raise ValueError(
        f"{op}: cannot follow the geometry through this layer; receptive fields are defined for chains of "
        "Conv2d, MaxPool2d, AvgPool2d and elementwise layers (after Flatten or Linear a unit sees the whole input)"
    )


def receptive_fields(model: Module, layer=None) -> list[ReceptiveField]:
    """The receptive field of every leaf layer from the input up to `layer` (default: up to the last layer
    that keeps the image layout, before Flatten, Linear or global pooling)."""
    chain = chain_upto(model, layer) if layer is not None else _spatial_prefix(model)
    size, jump, offset = (1, 1), (1, 1), (0, 0)
    out = []
    for name, m in chain:
        g = _geometry(name, m)
        if g is not None:
            k, s, p, d = g
            k_eff = tuple(di * (ki - 1) + 1 for ki, di in zip(k, d))
            size = tuple(r + (ke - 1) * j for r, ke, j in zip(size, k_eff, jump))
            offset = tuple(o - pi * j for o, pi, j in zip(offset, p, jump))
            jump = tuple(j * si for j, si in zip(jump, s))
        out.append(ReceptiveField(name, size, jump, offset))
    return out


def receptive_field(model: Module, layer) -> ReceptiveField:
    """The receptive field of `layer` (a name, a leaf index or the module; see toynn.lecture.vision.find_layer) of a
    chain model, from the kernel, stride, padding and dilation of each conv and pool layer up to it."""
    name, _ = find_layer(model, layer)
    rf = receptive_fields(model, layer)[-1]
    return ReceptiveField(name, rf.size, rf.jump, rf.offset)


def _spatial_prefix(model: Module) -> list[tuple[str, Module]]:
    from .layers import leaf_layers

    chain = []
    for name, m in leaf_layers(model):
        try:
            _geometry(name, m)
        except ValueError:
            break
        chain.append((name, m))
    return chain
