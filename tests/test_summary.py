"""toynn.summary and `toynn summary`: the lecture's depthwise-separable numbers exactly, LeNet-5 and AlexNet
against hand-computed and published figures, the counting rules per layer type, and the command's table."""

from __future__ import annotations

import numpy as np
import pytest

import toynn
import toynn.nn as nn
from toynn.cli import main
from toynn.models import LeNet5
from toynn.nn.summary import Summary, separable_example, summary

from .test_zoo import paper_alexnet

# Krizhevsky et al. 2012, Section 3.5: "the number of neurons in the network's remaining layers is given by"
PAPER_NEURONS = (253_440, 186_624, 64_896, 64_896, 43_264, 4096, 4096, 1000)


def by_name(s: Summary) -> dict:
    return {r.name: r for r in s.rows}


def test_the_lectures_separable_example():
    standard, separable = separable_example()
    assert standard.total_macs == 256 * 3 * 5 * 5 * 8 * 8 == 1_228_800
    assert [r.macs for r in separable.rows] == [3 * 5 * 5 * 8 * 8, 256 * 1 * 1 * 3 * 8 * 8] == [4_800, 49_152]
    assert separable.total_macs == 53_952
    assert [r.output_shape for r in separable.rows] == [(1, 3, 8, 8), (1, 256, 8, 8)]
    assert standard.rows[0].output_shape == (1, 256, 8, 8)
    assert (standard.total_params, separable.total_params) == (256 * 75 + 256, 3 * 25 + 3 * 256 + 256)


def test_lenet5_by_hand():
    s = summary(LeNet5((1, 28, 28), 10), (1, 28, 28))
    assert s.total_params == s.trainable_params == 61_706
    weighted = [r for r in s.rows if r.macs]
    # conv1: 6x28x28 outputs x 1x5x5; conv2: 16x10x10 x 6x5x5; FC: 400x120, 120x84, 84x10
    assert [r.macs for r in weighted] == [6 * 28 * 28 * 25, 16 * 10 * 10 * 6 * 25, 400 * 120, 120 * 84, 84 * 10]
    assert s.total_macs == 117_600 + 240_000 + 48_000 + 10_080 + 840 == 416_520
    assert [r.neurons for r in weighted] == [4704, 1600, 120, 84, 10]
    assert [r.params for r in weighted] == [156, 2416, 48_120, 10_164, 850]
    assert [r.output_shape for r in s.rows][:3] == [(1, 6, 28, 28)] * 2 + [(1, 6, 14, 14)]
    assert all(r.neurons == r.macs == r.params == 0 for r in s.rows if r.type in ("ReLU", "MaxPool2d", "Flatten"))


def test_alexnet_against_the_paper():
    s = summary(paper_alexnet(), (3, 224, 224))
    assert s.total_params == 60_965_224
    assert abs(s.total_params / 60e6 - 1) < 0.02  # "60 million parameters"
    assert s.total_neurons == 659_272
    assert abs(s.total_neurons / 650e3 - 1) < 0.02  # "650,000 neurons"
    assert s.total_macs == 724_406_816
    rows = by_name(s)
    ours = [rows[n].neurons for n in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")]
    assert ours[1:] == list(PAPER_NEURONS[1:])  # every layer but the first agrees with the paper's list
    assert ours[0] == 55 * 55 * 96 == 290_400 and PAPER_NEURONS[0] == 253_440 == 55 * 48 * 96
    assert sum(PAPER_NEURONS) == 622_312
    assert rows["pool5"].output_shape == (1, 256, 6, 6)
    assert rows["conv2"].macs == 27 * 27 * 256 * 48 * 25  # groups=2: each filter sees 48 of the 96 maps


def test_alexnet_at_227_has_the_same_totals():
    """AlexNet((3, 227, 227)) differs only in conv1's padding (0; test_zoo checks the choice): swap it in
    on the shared model rather than initialising another 61 million weights."""
    model = paper_alexnet()
    try:
        model.conv1.padding = (0, 0)
        s = summary(model, (3, 227, 227))
    finally:
        model.conv1.padding = (2, 2)
    assert by_name(s)["conv1"].output_shape == (1, 96, 55, 55)
    assert (s.total_params, s.total_neurons, s.total_macs) == (60_965_224, 659_272, 724_406_816)


def test_counting_rules():
    grouped = summary(nn.Conv2d(4, 8, 3, groups=2), (4, 6, 6))
    assert grouped.total_macs == 8 * 4 * 4 * (4 // 2) * 9
    # transposed: every input element meets C_out/G kernels of 3x3 taps
    transposed = summary(nn.ConvTranspose2d(4, 6, 3, stride=2), (4, 5, 5))
    assert transposed.rows[0].output_shape == (1, 6, 11, 11)
    assert transposed.total_macs == 4 * 5 * 5 * 6 * 9 and transposed.total_neurons == 6 * 11 * 11
    linear = summary(nn.Linear(5, 3), (7, 5), batch_size=2)  # leading dims multiply, as in F.linear
    assert (linear.total_macs, linear.total_neurons) == (2 * 7 * 3 * 5, 2 * 7 * 3)
    conv1d = summary(nn.Conv1d(2, 4, 3), (2, 10))
    assert conv1d.total_macs == 4 * 8 * 2 * 3
    bn = summary(nn.Sequential(nn.BatchNorm2d(3), nn.AvgPool2d(2), nn.LocalResponseNorm(3)), (3, 4, 4))
    assert bn.total_params == 6 and bn.total_macs == bn.total_neurons == 0


def test_batch_size_scales_neurons_and_macs_not_params():
    one, four = summary(LeNet5(), (1, 28, 28)), summary(LeNet5(), (1, 28, 28), batch_size=4)
    assert four.input_shape == (4, 1, 28, 28) and four.rows[0].output_shape == (4, 6, 28, 28)
    assert (four.total_params, four.total_neurons, four.total_macs) == (
        one.total_params,
        4 * one.total_neurons,
        4 * one.total_macs,
    )


class Tied(nn.Module):
    """A layer called twice and a parameter outside any layer."""

    def __init__(self):
        self.fc = nn.Linear(4, 4)
        self.scale = nn.Parameter(toynn.ones(4))

    def forward(self, x):
        return self.fc(self.fc(x)) * self.scale


def test_shared_layers_and_loose_parameters():
    s = summary(Tied(), (4,))
    assert [(r.name, r.params, r.macs) for r in s.rows] == [("fc", 20, 16), ("fc", 0, 16), ("(other parameters)", 4, 0)]
    assert s.total_params == 24 == sum(r.params for r in s.rows)


def test_model_is_left_as_it_was():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Dropout(0.5))
    model.train()
    mean = model[1].running_mean.numpy().copy()
    summary(model, (1, 5, 5), batch_size=3)
    assert all(m.training for m in model.modules())
    assert all("forward" not in vars(m) for m in model.modules())
    np.testing.assert_array_equal(model[1].running_mean.numpy(), mean)  # run in eval: statistics untouched


def test_table_and_markdown():
    s = summary(LeNet5(), (1, 28, 28))
    text = str(s)
    assert text.splitlines()[0] == "LeNet5, input 1x1x28x28"
    assert "61,706" in text and "416,520" in text and "1x6x14x14" in text
    md = s.table(markdown=True)
    assert "| **Total** |  |  | **61,706** | **6,518** | **416,520** |" in md
    assert s.to_dict()["total_macs"] == 416_520
    assert toynn.summary is summary


def test_summary_errors():
    with pytest.raises(ValueError, match="positive"):
        summary(LeNet5(), (1, 28, 28), batch_size=0)


def test_cli_prints_the_table(capsys):
    assert main(["summary", "lenet"]) == 0
    out = capsys.readouterr().out
    assert "LeNet5, input 1x1x28x28" in out and "61,706" in out and "Total" in out
    assert main(["summary", "separable-example"]) == 0
    out = capsys.readouterr().out
    assert "1,228,800" in out and "4,800 + 49,152 = 53,952" in out
    assert main(["summary", "allconv-pool", "--input-shape", "1", "28", "28", "--classes", "5", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "AllConvNet, input 1x1x28x28" in out and "| pool1 | MaxPool2d | 1x96x14x14 |" in out
    assert main(["summary", "lenet", "--input-shape", "1", "8", "8"]) == 1
    assert "too small" in capsys.readouterr().err
