"""Zeiler & Fergus's deconvnet: one activation projected back to pixel space.

Forward, layer by layer, recording the max-pooling switches. At the chosen layer keep the strongest
activation of one channel and zero all others. Then go back down: unpool with the switches
(max_unpool2d), rectify (relu), and filter with the transposed conv filters (conv_transpose2d with the
same weights, no bias). The result shows which input structure made the unit fire.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import conv as C
from ...creation import zeros
from ...nn import (
    BatchNorm2d,
    Conv2d,
    Dropout,
    Dropout2d,
    Identity,
    LeakyReLU,
    LocalResponseNorm,
    MaxPool1d,
    MaxPool2d,
    Module,
    ReLU,
)
from ...ops import relu
from ...tensor import no_grad
from .images import as_numpy, normalize
from .layers import batch, chain_upto, find_layer

_PASS = (Dropout, Dropout2d, Identity, BatchNorm2d, LocalResponseNorm)  # projected through unchanged


@dataclass
class Deconv:
    """A deconvnet projection: projection (C_in, H, W) in input space, from unit `position` (row, column)
    of `channel` of `layer`, whose activation was `activation`."""

    layer: str
    channel: int
    position: tuple[int, int]
    activation: float
    projection: np.ndarray

    def image(self) -> np.ndarray:
        """The projection for display, 0 as mid grey: (H, W) for one channel, (H, W, 3) for three."""
        p = self.projection
        img = normalize(p, symmetric=True)
        return img[0] if p.shape[0] == 1 else img.transpose(1, 2, 0) if p.shape[0] == 3 else img.mean(axis=0)


def _conv_padding(name: str, m: Conv2d) -> tuple[int, int]:
    if m.padding == "valid":
        return (0, 0)
    if m.padding != "same":
        return m.padding
    totals = [d * (k - 1) for k, d in zip(m.kernel_size, m.dilation)]
    if any(t % 2 for t in totals):
        raise ValueError(f"deconvnet ({name}): padding='same' with an even kernel pads unevenly; not supported")
    return tuple(t // 2 for t in totals)


def deconvnet(model: Module, x, layer, channel: int, position=None) -> Deconv:
    """Project the strongest activation of `channel` of `layer` (or the one at `position` (row, column))
    for one image x (C, H, W) or (1, C, H, W) back to pixels, through the layers below it in reverse.

    Follows chain models of Conv2d, MaxPool2d, ReLU and elementwise layers; raises ValueError otherwise.
    """
    name, target = find_layer(model, layer)
    chain = chain_upto(model, layer)
    h = batch(x, model)
    if h.shape[0] != 1:
        raise ValueError(f"deconvnet: one image at a time; got a batch of {h.shape[0]} (x.shape={tuple(h.shape)})")
    steps = []  # (layer name, module, its input shape, pooling switches)
    with no_grad():
        for lname, m in chain:
            if isinstance(m, MaxPool2d) and not isinstance(m, MaxPool1d):
                y, switches = C.max_pool2d(h, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, True)
                steps.append((lname, m, h.shape, switches))
            else:
                y = m(h)
                steps.append((lname, m, h.shape, None))
            h = y
        a = h.array  # (1, C, Ho, Wo)
        if a.ndim != 4:
            raise ValueError(
                f"deconvnet: layer {name!r} ({type(target).__name__}) gives {tuple(a.shape[1:])} per image; "
                "a conv or pool layer (C, H, W) is needed"
            )
        if not 0 <= channel < a.shape[1]:
            raise IndexError(f"deconvnet: channel {channel} is out of range for layer {name!r} with {a.shape[1]}")
        plane = as_numpy(a[0, channel])
        i, j = divmod(int(plane.argmax()), plane.shape[1]) if position is None else map(int, position)
        g = zeros(h.shape, dtype=h.dtype, device=h.device)
        g.array[0, channel, i, j] = a[0, channel, i, j]  # all other activations of the layer set to zero
        for lname, m, in_shape, switches in reversed(steps):
            g = _project(lname, m, g, in_shape, switches)
    return Deconv(name, channel, (i, j), float(plane[i, j]), as_numpy(g.array)[0])


def _project(name: str, m: Module, g, in_shape, switches):
    """One layer of the deconvnet: the reconstruction g at m's output -> at m's input (shape in_shape)."""
    if switches is not None:  # unpooling: each value goes back to where the max was
        return C.max_unpool2d(g, switches, m.kernel_size, m.stride, m.padding, output_size=in_shape[-2:])
    if isinstance(m, (ReLU, LeakyReLU)):  # rectification keeps the reconstruction positive, as in the forward
        return relu(g)
    if isinstance(m, Conv2d) and m._nd == 2:
        pad = _conv_padding(name, m)
        # output_padding restores the rows and columns the forward's floor division dropped
        base = [
            (o - 1) * s - 2 * p + d * (k - 1) + 1
            for o, s, p, d, k in zip(g.shape[-2:], m.stride, pad, m.dilation, m.kernel_size)
        ]
        extra = tuple(n - b for n, b in zip(in_shape[-2:], base))
        return C.conv_transpose2d(g, m.weight.detach(), None, m.stride, pad, extra, m.groups, m.dilation)
    if isinstance(m, _PASS):
        return g
    raise ValueError(
        f"deconvnet ({name}: {type(m).__name__}): no projection for this layer; the deconvnet follows Conv2d, "
        "MaxPool2d, ReLU and elementwise layers"
    )
