"""toynn.nn's convolution, pooling, unpooling and upsampling layers against the PyTorch layer of the same name
(weights copied across): outputs and input/weight/bias gradients in float64 and float32, state_dict layout,
default initialisation, repr and errors; the separable layers; a PyTorch LeNet-5 ported by changing the import."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest

import toynn
import toynn.nn as nn
from toynn import ShapeError
from toynn.autodiff import gradcheck

from .cases import distinct, randn
from .devices import host

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")


def _rel_err(a, b):
    a, b = host(a).astype(np.float64), host(b).astype(np.float64)
    return np.abs(a - b).max() / max(np.abs(b).max(), 1e-30) if a.size else 0.0


def copy_into_torch(ours, theirs, torch):
    """Load our state_dict into the torch module: strict, so names and shapes must agree."""
    theirs.load_state_dict(OrderedDict((k, torch.tensor(v.numpy())) for k, v in ours.state_dict().items()))


# ---------------------------------------------------------------------------------------------
# Layers against PyTorch, weights copied across


def _plain(layer, x):
    return layer(x)


def _first(layer, x):
    """Layers with return_indices: the values (the indices are checked on their own below)."""
    return layer(x)[0]


def _conv_t_to(size):
    return lambda layer, x: layer(x, output_size=size)


def L(name, build, shape, make=randn, call=_plain):
    """A case: (id, build(m) with m = toynn or torch, input shape, input maker, call(layer, x))."""
    return name, build, shape, make, call


LAYERS = [
    # Conv1d
    L("Conv1d", lambda m: m.nn.Conv1d(3, 4, 3), (2, 3, 11)),
    L("Conv1d/stride-pad-dil-groups", lambda m: m.nn.Conv1d(4, 6, 3, 2, 1, 2, 2), (2, 4, 13)),
    L("Conv1d/depthwise-no-bias", lambda m: m.nn.Conv1d(4, 8, 3, groups=4, bias=False), (2, 4, 9)),
    L("Conv1d/same-reflect", lambda m: m.nn.Conv1d(3, 4, 4, padding="same", padding_mode="reflect"), (2, 3, 9)),
    L("Conv1d/circular", lambda m: m.nn.Conv1d(3, 2, 3, padding=2, padding_mode="circular"), (2, 3, 7)),
    L("Conv1d/replicate-stride", lambda m: m.nn.Conv1d(2, 3, 3, 2, 1, padding_mode="replicate"), (2, 2, 8)),
    # Conv2d
    L("Conv2d", lambda m: m.nn.Conv2d(3, 4, 3), (2, 3, 9, 8)),
    L("Conv2d/pad-int-stride", lambda m: m.nn.Conv2d(3, 4, 3, stride=2, padding=1), (2, 3, 9, 8)),
    L("Conv2d/pad-tuple", lambda m: m.nn.Conv2d(3, 4, (3, 5), padding=(1, 2)), (2, 3, 7, 9)),
    L("Conv2d/same", lambda m: m.nn.Conv2d(3, 4, (3, 4), padding="same", dilation=(1, 2)), (2, 3, 7, 9)),
    L("Conv2d/valid", lambda m: m.nn.Conv2d(3, 4, 3, padding="valid"), (2, 3, 6, 7)),
    L("Conv2d/reflect", lambda m: m.nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="reflect"), (2, 2, 6, 7)),
    L("Conv2d/replicate", lambda m: m.nn.Conv2d(2, 3, 3, padding=(2, 1), padding_mode="replicate"), (2, 2, 6, 7)),
    L("Conv2d/circular", lambda m: m.nn.Conv2d(2, 3, 3, 2, padding=(1, 2), padding_mode="circular"), (2, 2, 6, 7)),
    L("Conv2d/same-reflect", lambda m: m.nn.Conv2d(2, 3, 4, padding="same", padding_mode="reflect"), (2, 2, 7, 6)),
    L("Conv2d/groups", lambda m: m.nn.Conv2d(4, 6, 3, padding=1, groups=2), (2, 4, 7, 6)),
    L("Conv2d/depthwise", lambda m: m.nn.Conv2d(3, 6, 3, padding=1, groups=3), (2, 3, 7, 6)),
    L("Conv2d/dilation", lambda m: m.nn.Conv2d(3, 2, 3, dilation=(2, 3), padding=2), (2, 3, 11, 12)),
    L("Conv2d/stride>kernel", lambda m: m.nn.Conv2d(3, 2, 2, stride=3, bias=False), (2, 3, 11, 10)),
    # ConvTranspose1d / 2d
    L("ConvTranspose1d", lambda m: m.nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1, output_padding=1), (2, 3, 7)),
    L("ConvTranspose1d/groups-dil", lambda m: m.nn.ConvTranspose1d(4, 6, 3, groups=2, dilation=2), (2, 4, 5)),
    L(
        "ConvTranspose1d/output_size",
        lambda m: m.nn.ConvTranspose1d(3, 2, 3, stride=3),
        (2, 3, 5),
        call=_conv_t_to([17]),
    ),
    L("ConvTranspose2d", lambda m: m.nn.ConvTranspose2d(3, 4, (3, 2), (2, 3), (1, 0), (1, 2)), (2, 3, 5, 4)),
    L(
        "ConvTranspose2d/groups-dil-no-bias",
        lambda m: m.nn.ConvTranspose2d(4, 6, 3, 2, groups=2, bias=False, dilation=2),
        (2, 4, 4, 5),
    ),
    L("ConvTranspose2d/depthwise", lambda m: m.nn.ConvTranspose2d(3, 3, 3, 2, 1, groups=3), (2, 3, 5, 5)),
    L(
        "ConvTranspose2d/output_size",
        lambda m: m.nn.ConvTranspose2d(3, 2, 3, 2, 1),
        (2, 3, 5, 4),
        call=_conv_t_to((2, 2, 10, 8)),
    ),
    # Pooling
    L("MaxPool1d", lambda m: m.nn.MaxPool1d(3, 2, 1), (2, 3, 10), distinct),
    L("MaxPool1d/ceil-dilation", lambda m: m.nn.MaxPool1d(2, 2, dilation=2, ceil_mode=True), (2, 3, 10), distinct),
    L("MaxPool1d/indices", lambda m: m.nn.MaxPool1d(3, return_indices=True), (2, 3, 10), distinct, call=_first),
    L("MaxPool2d", lambda m: m.nn.MaxPool2d(2), (2, 3, 8, 6), distinct),
    L("MaxPool2d/overlap-pad-ceil", lambda m: m.nn.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 3, 8, 7), distinct),
    L("MaxPool2d/dilation", lambda m: m.nn.MaxPool2d((2, 3), (1, 2), (1, 1), dilation=2), (2, 3, 9, 8), distinct),
    L("MaxPool2d/indices", lambda m: m.nn.MaxPool2d(2, return_indices=True), (2, 3, 8, 6), distinct, call=_first),
    L("AvgPool1d", lambda m: m.nn.AvgPool1d(3, 2, 1), (2, 3, 10)),
    L(
        "AvgPool1d/ceil-no-pad-count",
        lambda m: m.nn.AvgPool1d(3, 2, 1, ceil_mode=True, count_include_pad=False),
        (2, 3, 10),
    ),
    L("AvgPool2d", lambda m: m.nn.AvgPool2d(2), (2, 3, 8, 6)),
    L("AvgPool2d/ceil-no-pad-count", lambda m: m.nn.AvgPool2d(3, 2, 1, True, False), (2, 3, 8, 7)),
    L("AvgPool2d/divisor", lambda m: m.nn.AvgPool2d((2, 3), padding=1, divisor_override=4), (2, 3, 7, 8)),
    L("AdaptiveAvgPool1d", lambda m: m.nn.AdaptiveAvgPool1d(4), (2, 3, 11)),
    L("AdaptiveAvgPool2d", lambda m: m.nn.AdaptiveAvgPool2d((3, 5)), (2, 3, 8, 11)),
    L("AdaptiveAvgPool2d/None", lambda m: m.nn.AdaptiveAvgPool2d((None, 2)), (2, 3, 5, 7)),
    L("AdaptiveMaxPool1d", lambda m: m.nn.AdaptiveMaxPool1d(4), (2, 3, 11), distinct),
    L("AdaptiveMaxPool2d", lambda m: m.nn.AdaptiveMaxPool2d((3, 4)), (2, 3, 8, 11), distinct),
    L(
        "AdaptiveMaxPool2d/indices",
        lambda m: m.nn.AdaptiveMaxPool2d(3, return_indices=True),
        (2, 3, 7, 8),
        distinct,
        call=_first,
    ),
    # Upsampling
    L("Upsample/nearest", lambda m: m.nn.Upsample(scale_factor=2), (2, 3, 4, 5)),
    L("Upsample/nearest-size", lambda m: m.nn.Upsample(size=(7, 9)), (2, 3, 4, 5)),
    L("Upsample/nearest-1d", lambda m: m.nn.Upsample(scale_factor=3), (2, 3, 5)),
    L("Upsample/linear", lambda m: m.nn.Upsample(size=9, mode="linear"), (2, 3, 5)),
    L("Upsample/bilinear", lambda m: m.nn.Upsample(scale_factor=2, mode="bilinear"), (2, 3, 4, 5)),
    L("Upsample/bilinear-align", lambda m: m.nn.Upsample((7, 6), mode="bilinear", align_corners=True), (2, 3, 4, 5)),
    L("Upsample/bilinear-down", lambda m: m.nn.Upsample(scale_factor=0.5, mode="bilinear"), (2, 3, 8, 6)),
    L("Upsample/bicubic", lambda m: m.nn.Upsample(scale_factor=(1.5, 2), mode="bicubic"), (2, 3, 4, 5)),
    L("Upsample/bicubic-align", lambda m: m.nn.Upsample((9, 7), mode="bicubic", align_corners=True), (2, 3, 4, 5)),
    L("UpsamplingNearest2d", lambda m: m.nn.UpsamplingNearest2d(scale_factor=3), (2, 3, 4, 5)),
    L("UpsamplingBilinear2d", lambda m: m.nn.UpsamplingBilinear2d(size=(7, 9)), (2, 3, 4, 5)),
]
layer_ids = [c[0] for c in LAYERS]


def _build_pair(build, dtype, torch):
    ours, theirs = build(toynn), build(torch)
    if dtype == np.float64:
        ours, theirs = ours.double(), theirs.double()
    copy_into_torch(ours, theirs, torch)
    return ours, theirs


@pytest.mark.parametrize("case", LAYERS, ids=layer_ids)
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_layer_matches_torch(case, dtype, tol, rng, torch):
    _, build, shape, make, call = case
    ours, theirs = _build_pair(build, dtype, torch)
    x_np = make(rng, shape).astype(dtype)
    x, tx = toynn.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    out, ref = call(ours, x), call(theirs, tx)
    assert tuple(out.shape) == tuple(ref.shape) and out.dtype == dtype
    assert _rel_err(out.array, ref.detach().numpy()) < tol
    cot = rng.standard_normal(ref.shape).astype(dtype)
    out.backward(cot)
    ref.backward(torch.tensor(cot))
    assert x.grad.dtype == dtype
    assert _rel_err(x.grad.array, tx.grad.numpy()) < tol, "input gradient"
    tparams = dict(theirs.named_parameters())
    assert sorted(tparams) == sorted(name for name, _ in ours.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad.dtype == dtype
        assert _rel_err(p.grad.array, tparams[name].grad.numpy()) < tol, name


GRADCHECK = ["Conv1d/same-reflect", "Conv2d/circular", "Conv2d/depthwise", "ConvTranspose2d/output_size"]


@pytest.mark.parametrize("case", [c for c in LAYERS if c[0] in GRADCHECK], ids=GRADCHECK)
def test_layer_gradcheck(case, rng):
    _, build, shape, make, call = case
    layer = build(toynn).double()
    x = toynn.tensor(make(rng, (1, *shape[1:])), requires_grad=True)
    assert gradcheck(lambda x, *params: call(layer, x), [x, *layer.parameters()])


@pytest.mark.parametrize("nd", [1, 2])
def test_max_pool_indices_and_unpool_match_torch(nd, rng, torch):
    """return_indices gives PyTorch's indices; MaxUnpool puts each maximum back where it was, output_size too."""
    shape = (2, 3, 11) if nd == 1 else (2, 3, 7, 9)
    size = shape[2:]
    x_np = distinct(rng, shape)
    for m_pool, m_unpool in [("MaxPool1d", "MaxUnpool1d"), ("MaxPool2d", "MaxUnpool2d")][nd - 1 : nd]:
        for kw in [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)]:
            pool = getattr(nn, m_pool)(return_indices=True, **kw)
            tpool = getattr(torch.nn, m_pool)(return_indices=True, **kw)
            y, idx = pool(toynn.tensor(x_np))
            ty, tidx = tpool(torch.tensor(x_np))
            np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
            np.testing.assert_array_equal(y.numpy(), ty.numpy())
            unpool, tunpool = getattr(nn, m_unpool)(**kw), getattr(torch.nn, m_unpool)(**kw)
            u = toynn.tensor(y.numpy(), requires_grad=True)
            tu = torch.tensor(y.numpy(), requires_grad=True)
            out, ref = unpool(u, idx, output_size=size), tunpool(tu, tidx, output_size=size)
            assert tuple(out.shape) == tuple(ref.shape) == shape
            np.testing.assert_array_equal(out.array, ref.detach().numpy())
            kept = host(out.array) != 0  # the maxima are back where they were, zeros elsewhere
            np.testing.assert_array_equal(host(out.array)[kept], x_np[kept])
            cot = rng.standard_normal(shape)
            out.backward(cot)
            ref.backward(torch.tensor(cot))
            np.testing.assert_array_equal(u.grad.numpy(), tu.grad.numpy())
            # the default size, (L - 1) stride - 2 padding + kernel, may be too small for the switches: both refuse
            default = [(n - 1) * s - 2 * p + k for n, s, p, k in zip(y.shape[2:], *_geometry(kw, nd))]
            if idx.numpy().max() < math.prod(default):
                assert tuple(unpool(y, idx).shape) == tuple(tunpool(ty, tidx).shape) == (2, 3, *default)
            else:
                with pytest.raises(ShapeError, match=f"max_unpool{nd}d: index .* is out of range"):
                    unpool(y, idx)
                with pytest.raises(RuntimeError, match="invalid max index"):
                    tunpool(ty, tidx)


def _geometry(kw, nd):
    k = kw["kernel_size"]
    return [kw.get("stride", k)] * nd, [kw.get("padding", 0)] * nd, [k] * nd


def test_adaptive_max_pool_indices_match_torch(rng, torch):
    x_np = distinct(rng, (2, 3, 7, 8))
    _, idx = nn.AdaptiveMaxPool2d((3, 5), return_indices=True)(toynn.tensor(x_np))
    _, tidx = torch.nn.AdaptiveMaxPool2d((3, 5), return_indices=True)(torch.tensor(x_np))
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())


def test_conv_transpose_output_size_unreachable(torch):
    layer = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    x = toynn.randn(1, 3, 5, 4)
    assert layer(x, output_size=(9, 7)).shape == (1, 2, 9, 7)  # output_padding 0
    assert layer(x, output_size=[1, 2, 10, 8]).shape == (1, 2, 10, 8)  # N, C included; output_padding 1
    with pytest.raises(ShapeError, match=r"ConvTranspose2d.*output_size.*\[9, 10\]"):
        layer(x, output_size=(11, 8))  # stride 2 reaches 9 or 10 only
    with pytest.raises(ShapeError, match="ConvTranspose2d: output_size must have 2 or 4 elements"):
        layer(x, output_size=(9, 7, 1))
    with pytest.raises(ValueError):  # PyTorch refuses it too
        torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)(torch.randn(1, 3, 5, 4), output_size=(11, 8))
    with pytest.raises(ShapeError, match=r"ConvTranspose1d.*\[7, 7\]"):
        nn.ConvTranspose1d(1, 1, 3)(toynn.randn(1, 1, 5), output_size=[8])  # stride 1: only 7


# ---------------------------------------------------------------------------------------------
# state_dict, initialisation, repr, errors

CONV_LAYERS = [
    ("Conv1d", (3, 4, 3), {}),
    ("Conv2d", (3, 6, (3, 5)), dict(groups=3)),
    ("Conv2d", (4, 6, 3), dict(bias=False)),
    ("ConvTranspose1d", (4, 6, 3), dict(groups=2)),
    ("ConvTranspose2d", (3, 6, (2, 4)), dict(groups=3)),
]


@pytest.mark.parametrize("name,args,kw", CONV_LAYERS)
def test_state_dict_matches_torch(name, args, kw, torch):
    ours = getattr(nn, name)(*args, **kw).state_dict()
    theirs = getattr(torch.nn, name)(*args, **kw).state_dict()
    assert list(ours) == list(theirs)
    assert [tuple(v.shape) for v in ours.values()] == [tuple(v.shape) for v in theirs.values()]
    assert all(v.dtype == np.float32 for v in ours.values())


@pytest.mark.parametrize(
    "name,args,kw",
    [
        ("Conv2d", (16, 33, (3, 5)), {}),
        ("Conv1d", (40, 64, 7), {}),
        ("Conv2d", (32, 64, 3), dict(groups=4)),
        ("ConvTranspose2d", (64, 48, 3), dict(groups=2)),  # fan_in from the weight's dim 1: out_channels / groups
        ("ConvTranspose1d", (32, 96, 5), {}),
    ],
)
def test_default_init_is_torchs_uniform(name, args, kw, torch):
    """Weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in computed as PyTorch computes it."""
    toynn.manual_seed(0)
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(theirs.weight)
    bound = 1 / math.sqrt(fan_in)
    w, b = ours.weight.array, ours.bias.array
    assert np.abs(w).max() <= bound * (1 + 1e-6) and np.abs(b).max() <= bound * (1 + 1e-6)
    assert np.abs(w).max() > 0.98 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.03 * bound and abs(w.mean()) < 0.03 * bound
    # and PyTorch's own draw has the same spread
    assert abs(w.std() - theirs.weight.detach().numpy().std()) < 0.04 * bound
    toynn.manual_seed(0)
    np.testing.assert_array_equal(getattr(nn, name)(*args, **kw).weight.array, w)  # seeded


SAME_REPR = [
    "Conv1d(3, 4, 3)",
    "Conv2d(4, 6, (3, 5), stride=2, padding=(1, 2), dilation=2, groups=2, bias=False)",
    "Conv2d(1, 6, 5, padding=2, padding_mode='circular')",
    "ConvTranspose2d(3, 4, 3, stride=2, output_padding=1)",
    "ConvTranspose1d(3, 4, 3, stride=2, padding=1, dilation=2)",
    "MaxPool2d(3, 2, 1, ceil_mode=True)",
    "MaxPool1d(3)",
    "AvgPool2d(3, 2, 1)",
    "AdaptiveAvgPool2d((3, 4))",
    "AdaptiveAvgPool1d(5)",
    "AdaptiveMaxPool2d(3)",
    "Upsample(size=(4, 5))",
    "Upsample(scale_factor=2.0, mode='bicubic')",
    "UpsamplingBilinear2d(size=3)",
]


@pytest.mark.parametrize("spec", SAME_REPR)
def test_repr_matches_torch(spec, torch):
    assert repr(eval("nn." + spec)) == repr(eval("torch.nn." + spec))


def test_repr_is_readable():
    assert repr(nn.Conv2d(3, 8, 3, padding="same", padding_mode="reflect")) == (
        "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding='same', padding_mode=reflect)"
    )
    assert repr(nn.AvgPool1d(3)) == "AvgPool1d(kernel_size=3, stride=3, padding=0)"
    assert repr(nn.MaxUnpool2d(2)) == "MaxUnpool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.DepthwiseSeparableConv2d(3, 256, 5)) == (
        "DepthwiseSeparableConv2d(\n"
        "  (depthwise): Conv2d(3, 3, kernel_size=(5, 5), stride=(1, 1), groups=3, bias=False)\n"
        "  (pointwise): Conv2d(3, 256, kernel_size=(1, 1), stride=(1, 1))\n"
        ")"
    )


@pytest.mark.parametrize("name", ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"])
def test_groups_must_divide_channels(name):
    with pytest.raises(ValueError, match=rf"{name}: in_channels \(4\) and out_channels \(6\).*groups \(4\)"):
        getattr(nn, name)(4, 6, 3, groups=4)
    with pytest.raises(ValueError, match=rf"{name}: .*groups \(0\)"):
        getattr(nn, name)(4, 6, 3, groups=0)


def test_conv_argument_errors():
    with pytest.raises(ValueError, match="Conv2d: padding_mode must be one of .*'zeros'.*got 'mirror'"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="Conv1d: padding_mode"):
        nn.Conv1d(3, 4, 3, padding_mode="reflection")
    with pytest.raises(ValueError, match="Conv2d: padding='same' is not supported for strided convolutions"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="Conv2d: padding must be an int, a tuple, 'same' or 'valid'; got 'full'"):
        nn.Conv2d(3, 4, 3, padding="full")
    with pytest.raises(ValueError, match='ConvTranspose2d: only "zeros" padding_mode'):
        nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="ConvTranspose2d: padding must be an int or a tuple"):
        nn.ConvTranspose2d(3, 4, 3, padding="same")


def test_conv_layer_input_errors_name_the_op():
    with pytest.raises(ValueError, match="conv2d"):
        nn.Conv2d(3, 4, 3)(toynn.randn(1, 2, 8, 8))  # 2 channels, 3 expected
    with pytest.raises(ValueError, match="conv2d"):
        nn.Conv2d(3, 4, 5)(toynn.randn(1, 3, 3, 3))  # the output would be empty


# ---------------------------------------------------------------------------------------------
# The separable convolutions


def test_depthwise_separable_is_depthwise_then_pointwise(rng, torch):
    """The lecture's example: 256 filters of 5x5x3 as a 5x5 depthwise conv per channel, then 1x1 3 -> 256."""
    layer = nn.DepthwiseSeparableConv2d(3, 256, 5).double()
    state = layer.state_dict()
    assert [(k, tuple(v.shape)) for k, v in state.items()] == [
        ("depthwise.weight", (3, 1, 5, 5)),
        ("pointwise.weight", (256, 3, 1, 1)),
        ("pointwise.bias", (256,)),
    ]
    assert layer.depthwise.groups == 3 and layer.depthwise.bias is None
    assert sum(p.numel() for p in layer.parameters()) == 3 * 25 + 256 * 3 + 256  # vs 256 * 75 + 256 as one conv
    x = rng.standard_normal((2, 3, 12, 12))
    out = layer(toynn.tensor(x))
    assert out.shape == (2, 256, 8, 8)
    F = torch.nn.functional
    t = {k: torch.tensor(v.numpy()) for k, v in state.items()}
    ref = F.conv2d(
        F.conv2d(torch.tensor(x), t["depthwise.weight"], groups=3), t["pointwise.weight"], t["pointwise.bias"]
    )
    assert _rel_err(out.array, ref.numpy()) < 1e-12


def test_depthwise_separable_options(rng, torch):
    layer = nn.DepthwiseSeparableConv2d(4, 8, 3, stride=2, padding=1, depth_multiplier=2, bias=False).double()
    assert layer.depthwise.weight.shape == (8, 1, 3, 3) and layer.pointwise.weight.shape == (8, 8, 1, 1)
    assert layer.pointwise.bias is None
    x = rng.standard_normal((2, 4, 9, 9))
    F = torch.nn.functional
    ref = F.conv2d(
        F.conv2d(torch.tensor(x), torch.tensor(host(layer.depthwise.weight.array)), stride=2, padding=1, groups=4),
        torch.tensor(host(layer.pointwise.weight.array)),
    )
    assert _rel_err(layer(toynn.tensor(x)).array, ref.numpy()) < 1e-12


SOBEL = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])


@pytest.mark.parametrize("kw", [{}, dict(padding=1), dict(stride=2, padding=1), dict(dilation=2)])
def test_spatially_separable_from_sobel_is_the_sobel_conv(kw, rng, torch):
    layer = nn.SpatiallySeparableConv2d.from_kernel(SOBEL, dtype=np.float64, **kw)
    assert layer.column.weight.shape == (1, 1, 3, 1) and layer.row.weight.shape == (1, 1, 1, 3)
    outer = np.outer(host(layer.column.weight.array).ravel(), host(layer.row.weight.array).ravel())
    np.testing.assert_allclose(outer, SOBEL, atol=1e-12)
    x = rng.standard_normal((2, 1, 10, 11))
    out = layer(toynn.tensor(x))
    ref = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(SOBEL).reshape(1, 1, 3, 3), **kw)
    assert out.dtype == np.float64 and tuple(out.shape) == tuple(ref.shape)
    np.testing.assert_allclose(out.array, ref.numpy(), rtol=0, atol=1e-12)


def test_rank_two_kernel_reports_a_residual(rng, torch):
    kernel = np.array([[1.0, 2, 0], [0, 1, 0], [3, 0, 1]])  # rank 3; and a rank-2 one below
    rank2 = np.outer([1.0, 2, 1], [-1.0, 0, 1]) + np.outer([0.0, 1, 0], [1.0, 1, 1])
    for k in (kernel, rank2):
        parts = toynn.conv.separate(k)
        assert not parts.exact and np.abs(parts.residual).max() > 0.1
        layer = nn.SpatiallySeparableConv2d.from_kernel(k, padding=1, dtype=np.float64)
        x = rng.standard_normal((1, 1, 6, 6))
        full = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(k).reshape(1, 1, 3, 3), padding=1).numpy()
        lost = torch.nn.functional.conv2d(
            torch.tensor(x), torch.tensor(parts.residual).reshape(1, 1, 3, 3), padding=1
        ).numpy()
        np.testing.assert_allclose(host(layer(toynn.tensor(x)).array) + lost, full, atol=1e-12)  # what is lost
    assert toynn.conv.separate(SOBEL).exact


def test_spatially_separable_layer_matches_two_torch_convs(rng, torch):
    layer = nn.SpatiallySeparableConv2d(3, 4, (3, 5), stride=(2, 1), padding=(1, 2), mid_channels=6).double()
    assert [(k, tuple(v.shape)) for k, v in layer.state_dict().items()] == [
        ("column.weight", (6, 3, 3, 1)),
        ("row.weight", (4, 6, 1, 5)),
        ("row.bias", (4,)),
    ]
    x = rng.standard_normal((2, 3, 9, 8))
    F, w = torch.nn.functional, {k: torch.tensor(v.numpy()) for k, v in layer.state_dict().items()}
    ref = F.conv2d(torch.tensor(x), w["column.weight"], stride=(2, 1), padding=(1, 0))
    ref = F.conv2d(ref, w["row.weight"], w["row.bias"], padding=(0, 2))
    assert _rel_err(layer(toynn.tensor(x)).array, ref.numpy()) < 1e-12


# ---------------------------------------------------------------------------------------------
# A PyTorch model definition ported by changing only the import

LENET_SOURCE = """
import torch.nn as nn


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(nn.functional.relu(self.conv2(x)))
        x = self.flatten(x)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)
"""


def _define(source):
    namespace = {}
    exec(compile(source, "<lenet>", "exec"), namespace)
    return namespace["LeNet5"]()


def test_ported_pytorch_lenet_matches_torch(rng, torch):
    theirs = _define(LENET_SOURCE)
    ours = _define(LENET_SOURCE.replace("import torch.nn as nn", "import toynn.nn as nn"))
    assert isinstance(ours, nn.Module)
    tstate = theirs.state_dict()
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in tstate.items()
    ]
    ours.load_state_dict(tstate)  # PyTorch's tensors load directly
    x = rng.standard_normal((8, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 8)
    out, ref = ours(toynn.tensor(x)), theirs(torch.tensor(x))
    assert out.shape == (8, 10) and _rel_err(out.array, ref.detach().numpy()) < 1e-4
    toynn.nn.functional.cross_entropy(out, toynn.tensor(y)).backward()
    torch.nn.functional.cross_entropy(ref, torch.tensor(y)).backward()
    for (name, p), tp in zip(ours.named_parameters(), theirs.parameters()):
        assert _rel_err(p.grad.array, tp.grad.numpy()) < 1e-4, name


def test_model_zoo_lenet_and_cifarnet_match_torch_sequentials(rng, torch):
    from toynn.models import CifarNet, LeNet5

    tnn = torch.nn
    t_lenet = tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Conv2d(6, 16, 5), tnn.ReLU(),
        tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
        tnn.Linear(84, 10),
    )  # fmt: skip
    t_cifar = tnn.Sequential(
        tnn.Conv2d(3, 32, 3, padding=1), tnn.ReLU(), tnn.Conv2d(32, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.Conv2d(64, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(4096, 256), tnn.ReLU(), tnn.Linear(256, 10),
    )  # fmt: skip
    cases = [(LeNet5(), t_lenet, (4, 1, 28, 28), 61706), (CifarNet(), t_cifar, (4, 3, 32, 32), 1116970)]
    for ours, theirs, shape, count in cases:
        assert sum(p.numel() for p in ours.parameters()) == count
        copy_into_torch(ours, theirs, torch)
        x = rng.standard_normal(shape).astype(np.float32)
        assert _rel_err(ours(toynn.tensor(x)).array, theirs(torch.tensor(x)).detach().numpy()) < 1e-4
    assert LeNet5((3, 32, 32), 5)(toynn.randn(2, 3, 32, 32)).shape == (2, 5)
    with pytest.raises(ShapeError, match="LeNet5: the input is too small"):
        LeNet5((1, 8, 8))
