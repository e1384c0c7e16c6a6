"""toynn.vision: receptive fields (by hand and by gradients), top crops with a known answer, the deconvnet,
filter and feature-map grids."""

from __future__ import annotations

import numpy as np
import pytest

import toynn
from toynn import nn
from toynn.lecture import vision
from toynn.lecture.vision.images import as_numpy
from toynn.models import LeNet5

# LeNet-5 on 28x28, derived by hand from size_l = size + (k - 1) jump, jump_l = jump s, offset_l = offset - p jump:
# conv1 5x5 pad 2: 5, 1, -2; pool 2: 5 + 1 = 6, 2, -2; conv2 5x5: 6 + 4*2 = 14, 2, -2; pool 2: 14 + 1*2 = 16, 4, -2
LENET_FIELDS = {
    "0": (5, 1, -2),  # conv1
    "1": (5, 1, -2),  # relu
    "2": (6, 2, -2),  # pool1
    "3": (14, 2, -2),  # conv2
    "4": (14, 2, -2),  # relu
    "5": (16, 4, -2),  # pool2
}


@pytest.fixture
def lenet():  # per test: under --backend cupy/fake its parameters are made on the device
    toynn.manual_seed(0)
    return LeNet5((1, 28, 28), 10).double()


@pytest.mark.parametrize("layer", list(LENET_FIELDS))
def test_lenet_receptive_fields_by_hand(lenet, layer):
    size, jump, offset = LENET_FIELDS[layer]
    rf = vision.receptive_field(lenet, layer)
    assert (rf.size, rf.jump, rf.offset) == ((size, size), (jump, jump), (offset, offset))
    assert rf.start == (offset + (size - 1) / 2,) * 2
    assert rf.box(3, 5) == (offset + 3 * jump, offset + 5 * jump, offset + 3 * jump + size, offset + 5 * jump + size)
    assert vision.receptive_field(lenet, int(layer)) == rf  # a leaf index names the same layer
    assert vision.receptive_field(lenet, lenet[int(layer)]) == rf  # and so does the module


def _input_gradient(model, layer: int, x, unit):
    """d model[:layer+1](x)[0, c, i, j] / dx as a NumPy array (H, W)."""
    xt = toynn.tensor(x, requires_grad=True)
    y = model[: layer + 1](xt)
    c, i, j = unit
    y[0, c, i, j].backward()
    return as_numpy(xt.grad.array[0, 0])


def _bbox(mask):
    rows, cols = np.nonzero(mask)
    return rows.min(), cols.min(), rows.max() + 1, cols.max() + 1


@pytest.mark.parametrize("layer,units", [(0, [(2, 0, 0), (1, 13, 27)]), (3, [(5, 0, 0), (7, 4, 6)]), (5, [(9, 2, 3)])])
def test_lenet_receptive_field_contains_the_gradient(lenet, layer, units):
    """Input pixels that one unit depends on (nonzero gradient) lie inside its computed box."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0.1, 1.0, (1, 1, 28, 28))
    rf = vision.receptive_field(lenet, layer)
    for unit in units:
        g = _input_gradient(lenet, layer, x, unit)
        top, left, bottom, right = rf.box(unit[1], unit[2], (28, 28))
        inside = np.zeros_like(g, dtype=bool)
        inside[top:bottom, left:right] = True
        assert np.any(g != 0)
        assert not np.any(g[~inside] != 0), f"layer {layer} unit {unit}: gradient outside the box {rf.box(*unit[1:])}"
        if layer == 0:  # a conv straight on the input: the gradient is the filter, clipped at the border
            assert _bbox(g != 0) == (top, left, bottom, right)


def test_receptive_field_is_tight_with_stride_padding_dilation():
    """With positive weights and inputs every pixel of the box counts: the gradient fills it exactly."""
    toynn.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2, stride=1),
        nn.Conv2d(2, 2, (3, 2), padding=(2, 0), dilation=(2, 1)),
        nn.Dropout(0.5),
        nn.MaxPool2d(3, stride=2, padding=1),
    ).double()
    for p in model.parameters():
        p.array[...] = np.abs(p.array) + 0.1
    x = np.random.default_rng(0).uniform(0.5, 1.0, (1, 1, 23, 19))
    # by hand: conv 3 s2 p1 -> 3, 2, -1; avg 2 s1 -> 3 + 2 = 5, 2, -1; conv (3,2) d(2,1) p(2,0): k_eff (5, 2)
    # -> (5 + 4*2, 5 + 1*2) = (13, 7), offset (-1 - 2*2, -1) = (-5, -1); max 3 s2 p1 -> (17, 11), 4, (-5 - 2, -1 - 2)
    rf = vision.receptive_field(model, 5)
    assert (rf.size, rf.jump, rf.offset) == ((17, 11), (4, 4), (-7, -3))
    assert vision.receptive_field(model, 3).size == (13, 7)
    model.eval()
    out_h, out_w = model[:4](toynn.tensor(x)).shape[-2:]
    rf3 = vision.receptive_field(model, 3)
    for i, j in [(0, 0), (2, 3), (out_h - 1, out_w - 1)]:
        g = _input_gradient(model, 3, x, (1, i, j))
        assert _bbox(g != 0) == rf3.box(i, j, x.shape[-2:]), (i, j)


def test_receptive_field_errors(lenet):
    with pytest.raises(ValueError, match="Flatten"):
        vision.receptive_field(lenet, "7")  # a Linear layer: it sees the whole input
    with pytest.raises(ValueError, match=r"no layer named 'conv9'.*0 \(Conv2d\)"):
        vision.receptive_field(lenet, "conv9")
    with pytest.raises(IndexError, match="12 layers"):
        vision.receptive_field(lenet, 12)
    assert [rf.layer for rf in vision.receptive_fields(lenet)] == list(LENET_FIELDS)  # stops at Flatten
    assert vision.conv_layers(lenet) == ["0", "3"]


def _bright_pixel_data():
    """24 black 1x12x12 images, each with one bright pixel; image n has brightness 0.2 + n / 30 at a known place."""
    rng = np.random.default_rng(3)
    x = np.zeros((24, 1, 12, 12))
    where = rng.integers(2, 10, (24, 2))
    where[5] = (0, 7)  # one at the top border: its crop reaches outside the image
    for n, (r, c) in enumerate(where):
        x[n, 0, r, c] = 0.2 + n / 30
    return x, where


def test_top_crops_finds_the_bright_pixels_and_centres_them():
    conv = nn.Conv2d(1, 2, 3, padding=1).double()
    conv.weight.array[...] = 0.1
    conv.weight.array[0, 0, 1, 1] = 1.0  # filter 0: a bright pixel under its centre
    conv.weight.array[1] = -conv.weight.array[0]  # filter 1: dark under its centre (never fires on this data)
    conv.bias.array[...] = 0
    model = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2))
    x, where = _bright_pixel_data()
    tc = vision.top_crops(model, 0, (x, None), k=4, batch_size=7)  # batches that split the data
    assert tc.crops.shape == (2, 4, 1, 3, 3) and tc.channels == [0, 1]
    assert tc.indices[0].tolist() == [23, 22, 21, 20]  # the brightest images, strongest first
    np.testing.assert_allclose(tc.values[0], 0.2 + np.arange(23, 19, -1) / 30)
    for r, n in enumerate(tc.indices[0]):
        assert tuple(tc.positions[0, r]) == tuple(where[n])  # the unit right over the pixel
        np.testing.assert_allclose(tc.crops[0, r, 0, 1, 1], x[n, 0, *where[n]])  # the pixel is the crop's centre
        assert np.nansum(tc.crops[0, r]) == pytest.approx(x[n].max())  # and the rest is black
    # the border case: image 5's pixel sits on row 0, so the crop's top row is outside the image (NaN)
    tc5 = vision.top_crops(model, 1, x[5:6], k=1)
    assert np.isnan(tc5.crops[0, 0, 0, 0]).all() and not np.isnan(tc5.crops[0, 0, 0, 1:]).any()
    assert tc5.crops[0, 0, 0, 1, 1] == x[5, 0, 0, 7]
    # after the pool a unit sees 4x4 pixels; the bright pixel is still inside its crop
    tp = vision.top_crops(model, 2, x, k=3, channels=[0])
    assert tp.crops.shape == (1, 3, 1, 4, 4)
    for r, n in enumerate(tp.indices[0]):
        assert np.nanmax(tp.crops[0, r]) == x[n].max()
    grid = tc.grid()
    assert grid.shape == (2 * 3 + 3, 4 * 3 + 5)  # one row per filter, k crops per row, 1-pixel gaps
    # fewer images than k: missing ranks are -inf and all NaN
    few = vision.top_crops(model, 0, x[:2], k=3)
    assert few.values[0, 2] == -np.inf and np.isnan(few.crops[0, 2]).all()


def test_deconvnet_on_lenet(lenet):
    x = np.random.default_rng(2).uniform(0, 1, (1, 28, 28))
    for layer in ["1", "5"]:
        maps = vision.feature_maps(lenet, x, layer)
        channel = int(maps[0].max(axis=(1, 2)).argmax())  # a channel that fires (an untrained net has dead ones)
        d = vision.deconvnet(lenet, x, layer, channel)
        assert d.projection.shape == (1, 28, 28) and d.channel == channel
        assert d.activation == pytest.approx(maps[0, channel].max())
        assert maps[0, channel][d.position] == pytest.approx(d.activation)
        # only pixels inside the unit's receptive field can light up
        top, left, bottom, right = vision.receptive_field(lenet, layer).box(*d.position, (28, 28))
        outside = np.ones((28, 28), dtype=bool)
        outside[top:bottom, left:right] = False
        assert np.all(d.projection[0][outside] == 0) and np.any(d.projection != 0)
        assert d.image().shape == (28, 28)
    with pytest.raises(ValueError, match="one image"):
        vision.deconvnet(lenet, np.zeros((2, 1, 28, 28)), "0", 0)
    with pytest.raises(ValueError, match="Linear"):
        vision.deconvnet(lenet, x, "7", 0)


def test_deconvnet_reconstructs_the_pattern_a_matched_filter_found():
    """conv (filter = a cross), ReLU, max-pool; the image holds the cross once. Projecting the strongest pooled
    unit back (unpool with its switch, rectify, transposed conv) gives the cross again, scaled by the activation."""
    cross = np.array([[0.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 0.0]])
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False).double()
    conv.load_state_dict({"weight": cross[None, None]})  # (1, 1, 3, 3), onto the weight's device
    model = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d(2))
    x = np.zeros((1, 1, 10, 10))
    x[0, 0, 4:7, 2:5] = cross  # centred on (5, 3): pool unit (2, 1), switch at (5, 3)
    d = vision.deconvnet(model, x, 2, 0)
    assert d.position == (2, 1) and d.activation == pytest.approx((cross**2).sum())
    np.testing.assert_allclose(d.projection, d.activation * x[0])
    # an identity filter: the projection is the one pixel the switch points at
    conv.load_state_dict({"weight": np.pad(np.ones((1, 1, 1, 1)), ((0, 0), (0, 0), (1, 1), (1, 1)))})
    d = vision.deconvnet(model, x, 2, 0, position=(2, 1))
    expected = np.zeros((1, 10, 10))
    expected[0, 5, 3] = x[0, 0, 5, 3]  # the window's max (2.0), put back where it was through the delta filter
    np.testing.assert_allclose(d.projection, expected)


def test_deconvnet_without_rectification_is_the_scaled_gradient():
    """For a chain of convolutions only, the deconvnet is activation x d(unit)/d(input): conv_transpose2d is the
    adjoint of conv2d. Strides, padding, dilation and an odd size test the output_padding bookkeeping."""
    toynn.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, stride=2, padding=1), nn.Conv2d(3, 4, 3, dilation=2, padding=1)).double()
    x = np.random.default_rng(0).normal(size=(1, 2, 15, 12))
    d = vision.deconvnet(model, x, 1, 2)
    xt = toynn.tensor(x, requires_grad=True)
    y = model(xt)
    assert d.position == np.unravel_index(y.array[0, 2].argmax(), y.shape[-2:])
    y[0, 2, d.position[0], d.position[1]].backward()
    np.testing.assert_allclose(d.projection, d.activation * xt.grad.array[0], atol=1e-12)


def test_filter_grid_shapes_and_scale():
    w1 = np.random.default_rng(0).normal(size=(6, 1, 5, 5))
    g = vision.filter_grid(w1)
    assert g.shape == (2 * 5 + 3, 3 * 5 + 4)  # 6 tiles in 2 rows of 3, 1-pixel gaps
    assert g.min() >= 0 and g.max() <= 1
    w2 = np.zeros((16, 6, 5, 5))
    w2[:, :, 2, 2] = 1.0
    g2 = vision.filter_grid(w2)
    assert g2.shape == (16 * 6 + 1, 6 * 6 + 1)  # one row per filter, a column per input channel
    assert g2[1 + 2, 1 + 2] == 1.0 and g2[1, 1] == 0.5  # 0 is mid grey, the largest weight white
    g3 = vision.filter_grid(np.ones((4, 3, 3, 3)))
    assert g3.shape == (2 * 3 + 3, 2 * 3 + 3, 3)  # RGB filters as colour tiles
    with pytest.raises(ValueError, match="out_channels"):
        vision.filter_grid(np.zeros((3, 5, 5)))


def test_feature_maps_capture_and_png(lenet, tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    x = np.random.default_rng(0).uniform(0, 1, (1, 28, 28))
    lenet.train()
    maps = vision.feature_maps(lenet, x, "3")
    assert maps.shape == (1, 16, 10, 10)
    with toynn.no_grad():
        np.testing.assert_allclose(maps, lenet[:4](toynn.tensor(x[None])).array)
    assert "forward" not in vars(lenet[3]) and lenet.training and lenet[3].training  # nothing left behind
    grid = vision.feature_map_grid(maps)
    assert grid.shape == (4 * 10 + 5, 4 * 10 + 5)
    path = vision.save_png(grid, tmp_path / "maps.png", scale=3)
    with PIL.open(path) as im:
        assert im.size == (45 * 3, 45 * 3) and im.mode == "L"
    nan_img = np.full((4, 4), 0.5)
    nan_img[0] = np.nan
    with PIL.open(vision.save_png(nan_img, tmp_path / "nan.png")) as im:
        assert im.mode == "RGB"  # NaN (outside the image) is painted in colour
