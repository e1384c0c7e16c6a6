"""The model zoo's All-Convolutional Nets and AlexNet: they build for their input sizes, run forward and
backward, and match PyTorch re-definitions written from the papers (parameter counts, state_dict names,
outputs and gradients after copying the weights across, float64)."""

from __future__ import annotations

import functools
from collections import OrderedDict

import numpy as np
import pytest

import toynn
from toynn.errors import ShapeError
from toynn.models import AlexNet, AllConvNet, build_model, model_names

NARROW = (8, 16)  # channels for the quick All-CNN checks; the paper's are (96, 192)
VARIANTS = ("strided", "pool", "convpool", "nopool")
SHAPES = ((3, 32, 32), (1, 28, 28))


# ---------------------------------------------------------------------------------------------
# PyTorch re-definitions, written from the papers' tables rather than from toynn's code


def torch_allconv(torch, variant, input_shape, num_classes=10, channels=(96, 192)):
    """Springenberg et al. 2015, Table 1 model C and Table 2 (3x3 convs padded by 1 except the 7th)."""
    nn = torch.nn
    a, b = channels
    layers, n = [("drop0", nn.Dropout(0.2))], 0

    def conv(c_in, c_out, k=3, stride=1, padding=1):
        nonlocal n
        n += 1
        layers.extend([(f"conv{n}", nn.Conv2d(c_in, c_out, k, stride, padding)), (f"relu{n}", nn.ReLU())])

    stages = {
        "pool": ["conv", "conv", "pool"],
        "strided": ["conv", "conv", "conv/2"],
        "convpool": ["conv", "conv", "conv", "pool"],
        "nopool": ["conv", "conv/2"],
    }[variant]
    c_in = input_shape[0]
    for stage, width in ((1, a), (2, b)):
        for i, kind in enumerate(stages):
            if kind == "pool":
                layers.append((f"pool{stage}", nn.MaxPool2d(3, 2, padding=1)))
            else:
                conv(c_in if i == 0 else width, width, stride=2 if kind == "conv/2" else 1)
        layers.append((f"drop{stage}", nn.Dropout(0.5)))
        c_in = width
    conv(b, b, padding=0)
    conv(b, b, 1, padding=0)
    conv(b, num_classes, 1, padding=0)
    layers += [("avg", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten())]
    return nn.Sequential(OrderedDict(layers))


def torch_alexnet(torch, num_classes=1000, conv1_padding=2, fc6_in=256 * 6 * 6):
    """Krizhevsky et al. 2012, Section 3.5, the two GPUs' halves as groups=2; torch's LRN divides alpha by n."""
    nn = torch.nn
    return nn.Sequential(
        OrderedDict(
            [
                ("conv1", nn.Conv2d(3, 96, 11, stride=4, padding=conv1_padding)),
                ("relu1", nn.ReLU()),
                ("norm1", nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0)),
                ("pool1", nn.MaxPool2d(3, 2)),
                ("conv2", nn.Conv2d(96, 256, 5, padding=2, groups=2)),
                ("relu2", nn.ReLU()),
                ("norm2", nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0)),
                ("pool2", nn.MaxPool2d(3, 2)),
                ("conv3", nn.Conv2d(256, 384, 3, padding=1)),
                ("relu3", nn.ReLU()),
                ("conv4", nn.Conv2d(384, 384, 3, padding=1, groups=2)),
                ("relu4", nn.ReLU()),
                ("conv5", nn.Conv2d(384, 256, 3, padding=1, groups=2)),
                ("relu5", nn.ReLU()),
                ("pool5", nn.MaxPool2d(3, 2)),
                ("flatten", nn.Flatten()),
                ("fc6", nn.Linear(fc6_in, 4096)),
                ("relu6", nn.ReLU()),
                ("drop6", nn.Dropout(0.5)),
                ("fc7", nn.Linear(4096, 4096)),
                ("relu7", nn.ReLU()),
                ("drop7", nn.Dropout(0.5)),
                ("fc8", nn.Linear(4096, num_classes)),
            ]
        )
    )


def n_params(model) -> int:
    return sum(int(np.prod(p.shape)) for p in model.parameters())


def same_structure(ours, theirs):
    """Same state_dict names in the same order with the same shapes, hence the same parameter count."""
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()
    ]
    assert n_params(ours) == n_params(theirs)


def compare_with_torch(ours, theirs, torch, x_np, grads=True):
    """Copy our float64 weights into theirs; outputs (and gradients) must agree in eval mode."""
    ours.double().eval()
    state = OrderedDict((k, torch.from_numpy(v.numpy())) for k, v in ours.state_dict().items())
    theirs.load_state_dict(state, assign=True)  # assign: theirs may be built on the meta device, without values
    theirs.eval()
    with toynn.set_grad_enabled(grads), torch.set_grad_enabled(grads):
        y = ours(toynn.tensor(x_np))
        ty = theirs(torch.from_numpy(x_np))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-9, atol=1e-12)
    if grads:
        cot = np.random.default_rng(1).standard_normal(y.shape)
        (y * toynn.tensor(cot)).sum().backward()
        (ty * torch.from_numpy(cot)).sum().backward()
        tgrads = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            g, tg = p.grad.numpy().ravel(), tgrads[name].grad.numpy().ravel()
            step = max(1, g.size // 100_000)  # every element of small tensors, a strided sample of AlexNet's FC weights
            np.testing.assert_allclose(g[::step], tg[::step], rtol=1e-8, atol=1e-12, err_msg=name)


# ---------------------------------------------------------------------------------------------
# All-Convolutional Net


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("variant", VARIANTS)
def test_allconv_matches_torch(variant, shape, torch, rng):
    ours = AllConvNet(shape, 10, variant, channels=NARROW)
    theirs = torch_allconv(torch, variant, shape, 10, NARROW)
    same_structure(ours, theirs)
    compare_with_torch(ours, theirs, torch, rng.standard_normal((2, *shape)))


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("variant", VARIANTS)
def test_allconv_forward_backward(variant, shape, rng):
    model = AllConvNet(shape, 7, variant, channels=NARROW)
    model.train()  # dropout on, as in training
    x = toynn.tensor(rng.standard_normal((3, *shape)).astype(np.float32))
    loss = toynn.nn.CrossEntropyLoss()(model(x), toynn.tensor(np.array([0, 3, 6])))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape and np.isfinite(p.grad.numpy()).all(), name
    with toynn.no_grad():
        assert model.eval()(x).shape == (3, 7)


@pytest.mark.parametrize("variant", VARIANTS)
def test_allconv_paper_width(variant, torch):
    """The paper's widths (96, 192) on CIFAR: strided and convpool add a conv per stage, so equal counts."""
    ours = AllConvNet((3, 32, 32), 10, variant)
    same_structure(ours, torch_allconv(torch, variant, (3, 32, 32)))
    expected = {"pool": 954_730, "nopool": 954_730, "strided": 1_369_738, "convpool": 1_369_738}
    assert n_params(ours) == expected[variant]


def test_allconv_ends_at_the_papers_6x6():
    """'global averaging over 6 x 6 spatial dimensions' (Table 1) for 32x32; 5x5 for 28x28."""
    for shape, side in (((3, 32, 32), 6), ((1, 28, 28), 5)):
        model = AllConvNet(shape, 10, "strided", channels=NARROW).eval()
        with toynn.no_grad():
            y = model[: len(model) - 2](toynn.zeros(1, *shape))  # everything before the global average
        assert y.shape == (1, 10, side, side)


def test_allconv_errors():
    with pytest.raises(ValueError, match="variant must be one of"):
        AllConvNet(variant="maxout")
    with pytest.raises(ShapeError, match="too small"):
        AllConvNet((3, 8, 8))


def test_allconv_dropout_off_and_registry():
    plain = AllConvNet(channels=NARROW, dropout=False)
    assert [m.p for m in plain.modules() if isinstance(m, toynn.nn.Dropout)] == [0.0, 0.0, 0.0]
    assert {"allconv", "allconv-pool", "allconv-convpool", "alexnet"} <= set(model_names())
    strided = build_model("allconv", (784,), 10, channels=NARROW)  # flat MNIST reads as 1x28x28
    assert strided.variant == "strided" and strided.conv1.in_channels == 1
    assert build_model("allconv-pool", (3, 32, 32), 5, channels=NARROW).pool1 is not None
    assert build_model("allconv-convpool", (3, 32, 32), 5, channels=NARROW).variant == "convpool"


# ---------------------------------------------------------------------------------------------
# AlexNet


@functools.cache
def paper_alexnet() -> AlexNet:
    """The paper's AlexNet, built once per test session (its 61M parameters take seconds to initialise)."""
    toynn.manual_seed(0)
    return AlexNet()


@pytest.fixture
def alexnet():
    return paper_alexnet()


def test_alexnet_structure_and_count(alexnet, torch):
    with torch.device("meta"):
        same_structure(alexnet, torch_alexnet(torch))
    assert n_params(alexnet) == 60_965_224
    assert abs(n_params(alexnet) - 60e6) / 60e6 < 0.02  # "60 million parameters"
    groups = {n: m.groups for n, m in alexnet.named_modules() if isinstance(m, toynn.nn.Conv2d)}
    assert groups == {"conv1": 1, "conv2": 2, "conv3": 1, "conv4": 2, "conv5": 2}


def test_alexnet_matches_torch_at_224(alexnet, torch, rng):
    with torch.device("meta"):  # no time spent initialising weights that are replaced
        theirs = torch_alexnet(torch)
    compare_with_torch(alexnet, theirs, torch, rng.standard_normal((1, 3, 224, 224)), grads=False)


def test_alexnet_backward_matches_torch_on_a_small_input(torch, rng):
    """67x67 is the smallest input the 11x11/4 windows tile exactly that keeps 1x1 maps after pool5."""
    ours = AlexNet((3, 67, 67), 10)
    assert ours.conv1.padding == (0, 0)
    with torch.device("meta"):
        theirs = torch_alexnet(torch, 10, conv1_padding=0, fc6_in=256)
    same_structure(ours, theirs)
    compare_with_torch(ours, theirs, torch, rng.standard_normal((1, 3, 67, 67)))


def test_alexnet_conv1_gives_55x55(alexnet):
    """The 224 vs 227 discrepancy: unpadded, 224 gives 54x54; padded by 2 (as torchvision does) 55x55, the
    paper's size, as does 227 unpadded. (test_summary checks that a 227 input gives the same totals.)"""
    from toynn.conv import output_size

    assert output_size("conv", 224, 11, 4, 0) == 54
    assert output_size("conv", 224, 11, 4, 2) == output_size("conv", 227, 11, 4, 0) == 55
    assert alexnet.conv1.padding == (2, 2)  # and AlexNet((3, 67, 67)) picks 0, as 227 would: see below
    assert alexnet.fc6.in_features == 256 * 6 * 6


def test_alexnet_lrn_is_the_papers_formula(alexnet, rng):
    """b_i = a_i / (k + alpha sum_{j=i-n/2}^{i+n/2} a_j^2)^beta with n=5, alpha=1e-4, beta=0.75, k=2."""
    a = rng.standard_normal((2, 7, 3, 3)) * 30  # large enough that alpha matters
    s = np.stack([(a[:, max(0, i - 2) : i + 3] ** 2).sum(1) for i in range(7)], axis=1)
    expected = a / (2 + 1e-4 * s) ** 0.75
    np.testing.assert_allclose(alexnet.norm1(toynn.tensor(a)).numpy(), expected, rtol=1e-12)


def test_alexnet_too_small():
    with pytest.raises(ShapeError, match="too small"):
        AlexNet((3, 32, 32), 10)
