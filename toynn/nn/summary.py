"""toynn.summary: a model's per-layer output shapes, parameters, neurons and multiply-accumulates.

What is counted (docs/summary.md has the worked examples):
    params   every parameter element a layer owns (weights and biases), each shared tensor once.
    neurons  output elements of the layers that compute weighted sums (Linear, Conv*, ConvTranspose*), as
             Krizhevsky et al. count AlexNet's 650,000 neurons; activations, normalisation, pooling and
             dropout transform those neurons' outputs and add none.
    MACs     multiply-accumulates: Conv  output elements x (C_in / groups) x KH x KW;
             ConvTranspose  input elements x (C_out / groups) x KH x KW; Linear  output elements x
             in_features. Bias additions are not counted; every other layer counts 0 (the comparisons of
             max-pooling and the arithmetic of activations and LRN are not multiply-accumulates).
Neurons and MACs are for the whole batch: batch_size=1 (the default) gives the per-image figures.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from ..creation import zeros
from ..tensor import Tensor, no_grad
from . import Conv2d, ConvTranspose2d, Linear, Module


@dataclass
class LayerRow:
    """One call of a layer during the forward pass: what it produced and what it cost."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    neurons: int
    macs: int


@dataclass
class Summary:
    """The rows of summary(), their totals, and the table: str(s) or s.table(markdown=True)."""

    model: str
    input_shape: tuple[int, ...]  # with the batch dimension
    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0

    @property
    def total_neurons(self) -> int:
        return sum(r.neurons for r in self.rows)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(total_neurons=self.total_neurons, total_macs=self.total_macs)
        return d

    def table(self, markdown: bool = False) -> str:
        """The rows and a totals line, aligned as plain text or as a Markdown table."""
        head = ("Layer", "Type", "Output shape", "Params", "Neurons", "MACs")
        body = [
            (r.name, r.type, _shape(r.output_shape), f"{r.params:,}", f"{r.neurons:,}", f"{r.macs:,}")
            for r in self.rows
        ]
        total = ("Total", "", "", f"{self.total_params:,}", f"{self.total_neurons:,}", f"{self.total_macs:,}")
        title = f"{self.model}, input {_shape(self.input_shape)}"
        if self.trainable_params != self.total_params:
            title += f", {self.trainable_params:,} trainable parameters"
        if markdown:
            lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * 3]
            lines += ["| " + " | ".join(row) + " |" for row in body]
            lines.append("| " + " | ".join(f"**{v}**" if v else "" for v in total) + " |")
            return f"{title}\n\n" + "\n".join(lines)
        rows = [head, *body, total]
        widths = [max(len(row[i]) for row in rows) for i in range(len(head))]

        def fmt(row):
            left = [v.ljust(w) for v, w in zip(row[:3], widths[:3])]
            return "  ".join(left + [v.rjust(w) for v, w in zip(row[3:], widths[3:])]).rstrip()

        rule = "-" * len(fmt(head))
        return "\n".join([title, fmt(head), rule, *map(fmt, body), rule, fmt(total)])

    def __str__(self) -> str:
        return self.table()


def _shape(shape) -> str:
    return "x".join(str(s) for s in shape)


def _cost(m: Module, x: Tensor, y: Tensor) -> tuple[int, int]:
    """(neurons, MACs) of one call of layer m from input x to output y; see the module docstring."""
    if isinstance(m, Linear):
        return y.numel(), y.numel() * m.in_features
    if isinstance(m, ConvTranspose2d):  # and ConvTranspose1d: each input element meets C_out/G kernels
        return y.numel(), x.numel() * (m.out_channels // m.groups) * math.prod(m.kernel_size)
    if isinstance(m, Conv2d):  # and Conv1d
        return y.numel(), y.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size)
    return 0, 0


def summary(model: Module, input_shape, batch_size: int = 1) -> Summary:
    """Run model on zeros of shape (batch_size, *input_shape) and tabulate every layer it calls.

    A layer is a module without sub-modules; a layer called twice gives two rows, with its parameters
    in the first. Parameters owned outside such layers get a row of their own. The model is run in
    eval mode under no_grad and its train/eval flags are restored afterwards.
    """
    input_shape = tuple(int(s) for s in input_shape)
    if batch_size < 1 or not input_shape or min(input_shape) < 1:
        raise ValueError(f"summary: input_shape and batch_size must be positive; got {input_shape}, {batch_size}")
    params = list(model.parameters())
    result = Summary(type(model).__name__, (batch_size, *input_shape))
    result.total_params = sum(p.numel() for p in params)
    result.trainable_params = sum(p.numel() for p in params if p.requires_grad)
    counted: set[int] = set()  # ids of parameters already in a row

    def recording(name: str, m: Module, forward):
        def forward_and_record(x, *args, **kwargs):
            y = forward(x, *args, **kwargs)
            out = y[0] if isinstance(y, tuple) else y  # MaxPool2d(return_indices=True) gives (output, indices)
            own = [p for p in m.parameters() if id(p) not in counted]
            counted.update(id(p) for p in own)
            neurons, macs = _cost(m, x, out)
            row = LayerRow(name, type(m).__name__, tuple(out.shape), sum(p.numel() for p in own), neurons, macs)
            result.rows.append(row)
            return y

        return forward_and_record

    layers = [(name or type(m).__name__, m) for name, m in model.named_modules() if next(m.children(), None) is None]
    flags = [(m, m.training) for m in model.modules()]
    # NOTE: Module has no forward hooks; an instance attribute shadows the class's forward for this one run
    patched = [(m, vars(m).get("forward")) for _, m in layers]
    try:
        for name, m in layers:
            m.forward = recording(name, m, m.forward)
        model.eval()
        like = dict(dtype=params[0].dtype, device=params[0].device) if params else {}
        x = zeros((batch_size, *input_shape), **like)
        with no_grad():
            model(x)
    finally:
        for m, forward in patched:
            if forward is None:
                del m.forward
            else:
                m.forward = forward
        for m, training in flags:
            m.training = training
    rest = result.total_params - sum(r.params for r in result.rows)
    if rest:
        result.rows.append(LayerRow("(other parameters)", "", (), rest, 0, 0))
    return result


def separable_example(in_channels: int = 3, out_channels: int = 256, kernel_size: int = 5, size: int = 12):
    """The lecture's example: (standard, depthwise separable) summaries of Conv2d(3, 256, 5) and
    nn.DepthwiseSeparableConv2d(3, 256, 5) on a 3x12x12 input (8x8 output): 1,228,800 vs 4,800 + 49,152 MACs.
    """
    from .. import nn

    shape = (in_channels, size, size)
    standard = summary(nn.Conv2d(in_channels, out_channels, kernel_size), shape)
    separable = summary(nn.DepthwiseSeparableConv2d(in_channels, out_channels, kernel_size), shape)
    return standard, separable


__all__ = ["LayerRow", "Summary", "separable_example", "summary"]
