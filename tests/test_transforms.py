"""toynn.data.transforms as torchvision programs use them (ToTensor, Resize, crops, flips, rotation, colour), on
one image (PIL, Tensor or array) and on batches, and the data sets called as torchvision calls them.

References: hand-computed values, NumPy, Pillow (the PIL path and Pillow's float 'F' resize) and PyTorch's
interpolate(antialias=True), which torchvision's tensor Resize calls. Under --backend fake the Tensors made
here live on the stand-in device, so every Tensor path runs there too (results are read with host()).
"""

from __future__ import annotations

import colorsys
import gzip
import struct

import numpy as np
import pytest

import toynn
from toynn.data import DataLoader, datasets, transforms
from toynn.data import transforms as T
from toynn.errors import ShapeError

from .devices import host

Image = pytest.importorskip("PIL.Image", reason="the PIL paths need Pillow")


def _u8(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _img(shape=(3, 6, 8), seed=0):
    """A float32 image (C, H, W) in [0, 1] as a Tensor (on the session's device)."""
    return toynn.tensor(np.random.default_rng(seed).random(shape, dtype=np.float32))


# ---------------------------------------------------------------------------------------------
# Conversions


def test_to_tensor_uint8_hwc_pil_and_hw():
    a = np.array([[[0, 51, 255], [102, 204, 1]]], dtype=np.uint8)  # (H, W, C) = (1, 2, 3)
    out = T.ToTensor()(a)
    assert isinstance(out, toynn.Tensor) and out.shape == (3, 1, 2) and out.dtype == np.float32
    expected = np.array([[[0, 102]], [[51, 204]], [[255, 1]]], dtype=np.float32) / np.float32(255)
    np.testing.assert_array_equal(host(out), expected)
    np.testing.assert_array_equal(host(T.ToTensor()(Image.fromarray(a))), expected)  # PIL RGB: the same
    grey = _u8((5, 7))
    for pic in (grey, Image.fromarray(grey)):  # (H, W) and PIL 'L' -> (1, H, W)
        t = T.ToTensor()(pic)
        assert t.shape == (1, 5, 7)
        np.testing.assert_array_equal(host(t)[0], grey / np.float32(255))
    bits = T.ToTensor()(Image.fromarray(np.array([[True, False]])))  # mode '1': 0 and 1
    np.testing.assert_array_equal(host(bits), [[[1.0, 0.0]]])
    batch = T.ToTensor()(_u8((4, 5, 6, 3)))  # (N, H, W, C) -> (N, C, H, W)
    assert batch.shape == (4, 3, 5, 6)


def test_to_tensor_passes_float_chw_through():
    x = _img()
    assert T.ToTensor()(x) is x  # what toynn's data sets give: unchanged
    a = np.random.default_rng(0).random((3, 6, 8), dtype=np.float32)
    out = T.ToTensor()(a)  # a float (C, H, W) array keeps its layout
    assert out.shape == (3, 6, 8)
    np.testing.assert_array_equal(host(out), a)
    hwc = np.ascontiguousarray(a.transpose(1, 2, 0)).repeat(2, axis=0)  # (12, 8, 3): (H, W, C), as torchvision
    np.testing.assert_array_equal(host(T.ToTensor()(hwc)), hwc.transpose(2, 0, 1))
    ints = T.ToTensor()(toynn.tensor(np.array([[[0, 255]]], dtype=np.uint8)))  # an integer Tensor is scaled
    np.testing.assert_array_equal(host(ints), [[[0.0, 1.0]]])
    with pytest.raises(TypeError, match="ToTensor: expected a PIL image, a Tensor or an array, got list"):
        T.ToTensor()([[1, 2]])


def test_pil_to_tensor_and_to_pil_image_round_trip():
    a = _u8((5, 4, 3))
    t = T.PILToTensor()(Image.fromarray(a))
    assert t.dtype == np.uint8 and t.shape == (3, 5, 4)
    np.testing.assert_array_equal(host(t), a.transpose(2, 0, 1))
    back = T.ToPILImage()(T.ToTensor()(Image.fromarray(a)))
    assert back.mode == "RGB" and np.array_equal(np.asarray(back), a)
    grey = T.ToPILImage()(toynn.tensor(np.array([[[0.0, 0.5, 0.999, 1.0]]], dtype=np.float32)))
    assert grey.mode == "L" and np.asarray(grey).tolist() == [[0, 127, 254, 255]]  # x * 255 truncated
    assert T.ToPILImage()(_u8((2, 3, 4))).mode == "RGBA"  # (H, W, 4) uint8 array
    with pytest.raises(ShapeError, match="at most 4 channels"):
        T.ToPILImage()(np.zeros((6, 7, 5), np.uint8))


def test_normalize_one_image_per_channel_and_types():
    x = _img((2, 3, 4))
    out = T.Normalize([0.5, 0.25], [0.5, 2.0])(x)  # (C, H, W): the channel axis is -3, as torchvision
    assert isinstance(out, toynn.Tensor) and out.dtype == np.float32
    h = host(x)
    np.testing.assert_allclose(host(out)[0], (h[0] - 0.5) / 0.5, rtol=1e-6)
    np.testing.assert_allclose(host(out)[1], (h[1] - 0.25) / 2.0, rtol=1e-6)
    batch = np.stack([h, h + 1])  # a batch (N, C, H, W) normalises the same axis
    np.testing.assert_allclose(
        T.Normalize([0.5, 0.25], [0.5, 2.0])(batch)[1], host(out) + [[[2.0]], [[0.5]]], rtol=1e-6
    )
    with pytest.raises(ShapeError, match="Normalize: mean has 3 values but x of shape \\(2, 3, 4\\) has 2 channels"):
        T.Normalize([0, 0, 0], [1, 1, 1])(x)
    with pytest.raises(TypeError, match="apply ToTensor first"):
        T.Normalize(0.5, 0.5)(Image.new("L", (2, 2)))


# ---------------------------------------------------------------------------------------------
# Resize


def test_resize_size_rule_and_pil_path():
    im = Image.fromarray(_u8((13, 17, 3)))
    assert T.Resize(5)(im).size == (6, 5)  # the shorter side 13 -> 5, the longer int(5 * 17 / 13) = 6
    assert T.Resize([5])(im).size == (6, 5) and T.Resize((7, 4))(im).size == (4, 7)
    assert T.Resize(10, max_size=12)(im).size == (12, 9)  # the longer side capped: int(12 * 10 / 13) = 9
    ref = im.resize((6, 5), Image.BILINEAR)  # a PIL image goes through Pillow's own resize, as torchvision
    assert np.array_equal(np.asarray(T.Resize(5)(im)), np.asarray(ref))
    assert T.Resize(13)(im) is im  # already that size
    with pytest.raises(ValueError, match="max_size = 5 must be greater"):
        T.Resize(5, max_size=5)


@pytest.mark.parametrize("mode, pil", [("bilinear", 2), ("bicubic", 3)])
@pytest.mark.parametrize("size", [(5, 7), (30, 41)])
def test_resize_float_matches_pillow_float_resize(mode, pil, size):
    """A float image is resampled with Pillow's antialiased filters: Pillow's own float ('F') resize agrees."""
    plane = np.random.default_rng(1).random((13, 17), dtype=np.float32)
    out = T.Resize(size, interpolation=mode)(toynn.tensor(plane[None]))
    ref = np.asarray(Image.fromarray(plane, mode="F").resize(size[::-1], pil))
    assert out.shape == (1,) + size
    np.testing.assert_allclose(host(out)[0], ref, atol=2e-6)


@pytest.mark.parametrize(
    "mode, antialias",
    [("bilinear", True), ("bicubic", True), ("bilinear", False), ("bicubic", False), ("nearest", False)],
)
def test_resize_matches_torch_interpolate(torch, mode, antialias):
    """torchvision's tensor Resize is interpolate(align_corners=False, antialias=...): the same numbers."""
    x = np.random.default_rng(2).random((2, 3, 12, 9), dtype=np.float32)
    for size in [(5, 4), (19, 23)]:
        out = T.Resize(size, interpolation=mode, antialias=antialias)(x)  # a batch resizes as a whole
        ref = torch.nn.functional.interpolate(
            torch.from_numpy(x),
            size,
            mode=mode,
            align_corners=None if mode == "nearest" else False,
            antialias=antialias,
        ).numpy()
        np.testing.assert_allclose(out, ref, atol=3e-6)
    u8 = _u8((3, 12, 9))
    out = T.Resize((5, 4), interpolation=mode, antialias=antialias)(u8)  # integers are rounded back
    ref = (
        torch.nn.functional.interpolate(
            torch.from_numpy(u8[None]).float(),
            (5, 4),
            mode=mode,
            align_corners=None if mode == "nearest" else False,
            antialias=antialias,
        )[0]
        .round()
        .clamp(0, 255)
        .numpy()
    )
    assert out.dtype == np.uint8 and np.abs(out.astype(int) - ref).max() <= 1


# ---------------------------------------------------------------------------------------------
# Crops, pads, flips, rotation


def test_center_crop_offsets_and_padding():
    a = np.arange(5 * 6, dtype=np.float32).reshape(1, 5, 6)
    out = T.CenterCrop((2, 3))(a)  # top round(1.5) = 2, left round(1.5) = 2
    np.testing.assert_array_equal(out, a[:, 2:4, 2:5])
    big = T.CenterCrop((7, 6))(a)  # taller than the image: one zero row above, one below
    np.testing.assert_array_equal(big[:, 1:6], a)
    assert big.shape == (1, 7, 6) and not big[:, 0].any() and not big[:, 6].any()
    im = Image.fromarray(_u8((5, 6, 3)))
    via_pil = np.asarray(T.CenterCrop((2, 3))(im))
    np.testing.assert_array_equal(via_pil, np.asarray(im)[2:4, 2:5])


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad_modes_as_numpy(mode):
    a = np.random.default_rng(0).random((2, 4, 5)).astype(np.float32)
    out = T.Pad((1, 2, 3, 4), padding_mode=mode)(toynn.tensor(a))  # (left, top, right, bottom)
    np.testing.assert_array_equal(host(out), np.pad(a, ((0, 0), (2, 4), (1, 3)), mode=mode))
    im = Image.fromarray(_u8((4, 5, 3)))
    np.testing.assert_array_equal(
        np.asarray(T.Pad(2, padding_mode=mode)(im)), np.pad(np.asarray(im), ((2, 2), (2, 2), (0, 0)), mode=mode)
    )


def test_pad_fill_per_channel():
    im = T.Pad((1, 0), fill=(10, 20, 30))(Image.new("RGB", (2, 1)))  # (left/right, top/bottom)
    assert np.asarray(im).tolist() == [[[10, 20, 30], [0, 0, 0], [0, 0, 0], [10, 20, 30]]]
    with pytest.raises(ValueError, match="padding should be non-negative"):
        T.Pad(-1)


def test_random_crop_one_image_is_a_window_of_the_padded_image():
    a = np.random.default_rng(0).random((3, 6, 7)).astype(np.float32) + 1
    padded = np.pad(a, ((0, 0), (2, 2), (2, 2)))
    seen = set()
    for seed in range(30):
        toynn.manual_seed(seed)
        out = host(T.RandomCrop((6, 7), padding=2)(toynn.tensor(a)))
        hits = [(i, j) for i in range(5) for j in range(5) if np.array_equal(out, padded[:, i : i + 6, j : j + 7])]
        assert len(hits) == 1  # every channel cropped at the same place
        seen.add(hits[0])
    assert len(seen) > 8
    toynn.manual_seed(3)
    from_pil = np.asarray(T.RandomCrop(4, padding=1)(Image.fromarray(_u8((6, 5, 3)))))
    toynn.manual_seed(3)
    from_array = T.RandomCrop(4, padding=1)(_u8((6, 5, 3)).transpose(2, 0, 1))
    np.testing.assert_array_equal(from_pil.transpose(2, 0, 1), from_array)  # PIL and arrays draw alike


def test_random_crop_pad_if_needed():
    a = np.ones((1, 3, 4), np.float32)
    out = T.RandomCrop((5, 6), pad_if_needed=True, generator=np.random.default_rng(0))(a)
    assert out.shape == (1, 5, 6) and out.sum() == 12  # all of the image, inside zeros
    with pytest.raises(ShapeError, match="larger than the padded image size"):
        T.RandomCrop((5, 6))(a)


def test_random_resized_crop_params_and_output():
    rrc = T.RandomResizedCrop(8, scale=(0.2, 0.9), ratio=(0.5, 2.0))
    rng = np.random.default_rng(0)
    for _ in range(200):
        top, left, h, w = rrc.get_params(40, 50, rng)
        assert 0 <= top <= 40 - h and 0 <= left <= 50 - w
        assert 0.2 * 2000 - 60 <= h * w <= 0.9 * 2000 + 60 and 0.5 - 0.1 <= w / h <= 2.0 + 0.1  # up to rounding
    whole = T.RandomResizedCrop((4, 5), scale=(1, 1), ratio=(5 / 6, 5 / 6))  # the whole (6, 5)... central window
    x = _img((3, 6, 5))
    np.testing.assert_allclose(host(whole(x)), host(T.Resize((4, 5))(x)), atol=1e-6)
    assert T.RandomResizedCrop(8)(Image.fromarray(_u8((20, 30, 3)))).size == (8, 8)
    batch = T.RandomResizedCrop((3, 4))(np.random.default_rng(0).random((5, 2, 9, 9)).astype(np.float32))
    assert batch.shape == (5, 2, 3, 4)


def test_flips_one_image_pil_and_batch():
    x = _img()
    np.testing.assert_array_equal(host(T.RandomHorizontalFlip(p=1.0)(x)), host(x)[..., ::-1])
    np.testing.assert_array_equal(host(T.RandomVerticalFlip(p=1.0)(x)), host(x)[..., ::-1, :])
    assert T.RandomVerticalFlip(p=0.0)(x) is x
    a = _u8((3, 4, 3))
    assert np.array_equal(np.asarray(T.RandomHorizontalFlip(1.0)(Image.fromarray(a))), a[:, ::-1])
    assert np.array_equal(np.asarray(T.RandomVerticalFlip(1.0)(Image.fromarray(a))), a[::-1])
    batch = np.random.default_rng(0).random((200, 1, 3, 2))
    out = T.RandomVerticalFlip(generator=np.random.default_rng(0))(batch)  # each sample on its own
    flipped = np.array([np.array_equal(o, b[:, ::-1]) for o, b in zip(out, batch)])
    kept = np.array([np.array_equal(o, b) for o, b in zip(out, batch)])
    assert np.all(flipped | kept) and 60 < flipped.sum() < 140


def test_random_rotation_quarter_turns_and_pil():
    a = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    square = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    np.testing.assert_array_equal(T.RandomRotation((90, 90))(square), np.rot90(square, 1, axes=(1, 2)))
    for angle in (90, 180, 270, -90):  # counter-clockwise; expand keeps the whole image, as Pillow
        turned = T.RandomRotation((angle, angle), expand=True)(toynn.tensor(a))
        np.testing.assert_array_equal(host(turned), np.rot90(a, angle // 90, axes=(1, 2)))
    im34 = Image.fromarray(_u8((3, 4)))
    assert np.array_equal(np.asarray(T.rotate(im34, 90, expand=True)), np.rot90(np.asarray(im34)))
    assert T.rotate(im34, 30, expand=True).size == (6, 5) and T.rotate(a, 30, expand=True).shape == (1, 5, 6)
    im = Image.fromarray(_u8((9, 11, 3)))
    toynn.manual_seed(0)
    out = T.RandomRotation(30)(im)
    toynn.manual_seed(0)
    angle = toynn.default_generator().uniform(-30, 30)
    assert np.array_equal(np.asarray(out), np.asarray(im.rotate(angle, Image.NEAREST)))
    arr = T.rotate(np.asarray(im).transpose(2, 0, 1), angle)  # arrays sample as Pillow's nearest does
    np.testing.assert_array_equal(arr.transpose(1, 2, 0), np.asarray(im.rotate(angle, Image.NEAREST)))


# ---------------------------------------------------------------------------------------------
# Colour


def test_grayscale_luma_and_pil():
    x = toynn.tensor(np.array([[[1.0]], [[0.5]], [[0.25]]], dtype=np.float32))  # (3, 1, 1)
    g = T.Grayscale()(x)
    assert g.shape == (1, 1, 1)
    np.testing.assert_allclose(host(g), [[[0.2989 + 0.587 * 0.5 + 0.114 * 0.25]]], rtol=1e-6)
    assert T.Grayscale(3)(x).shape == (3, 1, 1)
    im = Image.fromarray(_u8((4, 5, 3)))
    assert np.array_equal(np.asarray(T.Grayscale()(im)), np.asarray(im.convert("L")))
    assert T.Grayscale(3)(im).mode == "RGB"
    with pytest.raises(ShapeError, match="Grayscale: expected an image \\(..., C, H, W\\) with C in \\[1, 3\\]"):
        T.Grayscale()(np.zeros((2, 4, 4), np.float32))


def test_color_jitter_fixed_factors():
    x = _img((3, 4, 5))
    h = host(x)
    bright = T.ColorJitter(brightness=(1.5, 1.5))(x)
    np.testing.assert_allclose(host(bright), np.clip(h * 1.5, 0, 1), rtol=1e-6)
    grey = 0.2989 * h[0] + 0.587 * h[1] + 0.114 * h[2]
    contrast = T.ColorJitter(contrast=(0.5, 0.5))(x)  # halfway to the mean grey
    np.testing.assert_allclose(host(contrast), np.clip(0.5 * h + 0.5 * grey.mean(), 0, 1), rtol=1e-5)
    no_colour = T.ColorJitter(saturation=(0.0, 0.0))(x)  # all the way to grey
    np.testing.assert_allclose(host(no_colour), np.broadcast_to(grey, h.shape), rtol=1e-5, atol=1e-6)
    shifted = host(T.ColorJitter(hue=(0.25, 0.25))(x))
    for i, j in [(0, 0), (2, 3), (3, 4)]:
        hue, s, v = colorsys.rgb_to_hsv(*h[:, i, j])
        np.testing.assert_allclose(shifted[:, i, j], colorsys.hsv_to_rgb((hue + 0.25) % 1, s, v), atol=1e-5)
    im = Image.fromarray(_u8((4, 5, 3)))
    from PIL import ImageEnhance

    ref = ImageEnhance.Brightness(im).enhance(1.5)  # PIL images: Pillow's ImageEnhance, as torchvision
    assert np.array_equal(np.asarray(T.ColorJitter(brightness=(1.5, 1.5))(im)), np.asarray(ref))
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.7)


def test_random_transforms_repeat_with_manual_seed_and_batches_draw_per_sample():
    pipeline = T.Compose([T.RandomResizedCrop(4), T.ColorJitter(0.4, 0.4, 0.4, 0.1), T.RandomRotation(20)])
    x = _img((3, 8, 8))
    toynn.manual_seed(7)
    a = host(pipeline(x))
    toynn.manual_seed(7)
    np.testing.assert_array_equal(host(pipeline(x)), a)
    same = np.stack([host(x)] * 6)  # six copies of one image: each sample draws its own parameters
    out = T.ColorJitter(brightness=0.5)(same)
    assert len({round(float(o.mean()), 6) for o in out}) == 6


def test_torchvision_pipeline_on_pil_gives_a_normalised_tensor():
    pipeline = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
        ]
    )
    out = pipeline(Image.fromarray(_u8((32, 32, 3))))
    assert isinstance(out, toynn.Tensor) and out.shape == (3, 32, 32) and out.dtype == np.float32
    assert -1 <= host(out).min() and host(out).max() <= 1
    flat = transforms.Compose([transforms.ToTensor(), transforms.Lambda(lambda t: t.reshape(-1))])
    assert flat(_u8((28, 28))).shape == (784,)
    im = Image.fromarray(_u8((4, 4, 3)))
    assert T.RandomApply([T.Grayscale()], p=1.0)(im).mode == "L" and T.RandomApply([T.Grayscale()], p=0.0)(im) is im


# ---------------------------------------------------------------------------------------------
# Data sets called as torchvision calls them


def _write_idx(path, array: np.ndarray, magic: int) -> None:
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes())


def _tiny_mnist(root, n=6):
    images, labels = _u8((n, 28, 28)), (np.arange(n) % 10).astype(np.uint8)
    for split in ("train", "t10k"):
        _write_idx(root / f"{split}-images-idx3-ubyte.gz", images, 0x803)
        _write_idx(root / f"{split}-labels-idx1-ubyte.gz", labels, 0x801)
    return images, labels


def test_mnist_with_to_tensor_and_per_sample_transforms(tmp_path):
    images, labels = _tiny_mnist(tmp_path)
    plain = datasets.FashionMNIST(tmp_path, train=True, download=True)  # files present: nothing to fetch
    seen = []
    ds = datasets.FashionMNIST(
        tmp_path,
        train=True,
        transform=T.Compose([T.Lambda(lambda im: seen.append(im) or im), T.ToTensor()]),
        target_transform=lambda y: y * 10,
    )
    x, y = ds[4]
    assert isinstance(seen[0], Image.Image) and seen[0].mode == "L"  # the transform gets a PIL image
    assert x.shape == (1, 28, 28) and x.dtype == np.float32 and y == 40
    np.testing.assert_array_equal(host(x)[0], images[4] / np.float32(255))
    np.testing.assert_array_equal(host(x), host(plain[4][0]))  # ToTensor gives what toynn gives without it
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 1, 28, 28) and host(yb).tolist() == [0, 10, 20, 30]
    flat = datasets.FashionMNIST(tmp_path, transform=T.Compose([T.ToTensor(), T.Lambda(lambda t: t.reshape(-1))]))
    assert next(iter(DataLoader(flat, batch_size=3)))[0].shape == (3, 784)  # a per-sample Lambda, as torchvision


def _write_folder(root, sizes):
    for k, (name, size) in enumerate(sizes):
        (root / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(_u8(size + (3,), seed=k)).save(root / name / f"{k}.png")


def test_image_folder_torchvision_form_decodes_per_item(tmp_path):
    _write_folder(tmp_path, [("ant", (10, 12)), ("ant", (7, 9)), ("bee", (16, 16)), ("bee", (9, 20))])
    (tmp_path / "bee" / "notes.txt").write_text("not an image")
    tf = T.Compose([T.Resize(8), T.CenterCrop(8), T.ToTensor()])
    ds = datasets.ImageFolder(tmp_path, transform=tf)  # images of four sizes: fine, decoded one by one
    assert ds.lazy and ds.data is None and ds.classes == ["ant", "bee"] and len(ds) == 4
    x, y = ds[2]
    ref = Image.open(tmp_path / "bee" / "2.png").convert("RGB").resize((8, 8), Image.BILINEAR)
    np.testing.assert_array_equal(host(x), np.asarray(ref).transpose(2, 0, 1) / np.float32(255))
    assert y == 1
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 3, 8, 8) and host(yb).tolist() == [0, 0, 1, 1]
    seen = []
    custom = datasets.ImageFolder(tmp_path, loader=lambda p: seen.append(p) or Image.open(p).convert("L"))
    assert custom[0][0].shape == (1, 10, 12) and seen[0].endswith("0.png")  # no transform: a float Tensor
    some = datasets.ImageFolder(tmp_path, transform=tf, is_valid_file=lambda p: p[-5:] in ("0.png", "1.png", "3.png"))
    assert [(p.split("/")[-1], y) for p, y in some.samples] == [("0.png", 0), ("1.png", 0), ("3.png", 1)]


def test_image_folder_empty_class_and_toynn_form(tmp_path):
    _write_folder(tmp_path, [("ant", (5, 6)), ("bee", (5, 6))])
    (tmp_path / "cat").mkdir()
    with pytest.raises(FileNotFoundError, match="cat holds no image"):
        datasets.ImageFolder(tmp_path, transform=T.ToTensor())
    ds = datasets.ImageFolder(tmp_path, transform=T.ToTensor(), allow_empty=True)
    assert ds.classes == ["ant", "bee", "cat"] and len(ds) == 2
    (tmp_path / "cat").rmdir()
    eager = datasets.ImageFolder(tmp_path)  # toynn's form: one array, decoded now
    lazy = datasets.ImageFolder(tmp_path, transform=T.ToTensor())
    assert eager.data.shape == (2, 3, 5, 6)
    np.testing.assert_array_equal(host(eager[1][0]), host(lazy[1][0]))
    with pytest.raises(ValueError, match="both extensions and is_valid_file"):
        datasets.ImageFolder(tmp_path, extensions=(".png",), is_valid_file=lambda p: True)


def test_batch_tensor_through_the_random_transforms():
    """A batch Tensor (N, C, H, W), as DataLoader(transform=...) may pass: one draw per sample, a Tensor back."""
    x = toynn.tensor(np.random.default_rng(3).random((6, 3, 7, 7), dtype=np.float32) + 1)
    toynn.manual_seed(1)
    crops = T.RandomCrop(5, padding=1)(x)
    assert isinstance(crops, toynn.Tensor) and crops.shape == (6, 3, 5, 5)
    padded = np.pad(host(x), ((0, 0), (0, 0), (1, 1), (1, 1)))
    offsets = []
    for n in range(6):
        hits = [
            (i, j)
            for i in range(5)
            for j in range(5)
            if np.array_equal(host(crops)[n], padded[n, :, i : i + 5, j : j + 5])
        ]
        assert hits
        offsets.append(hits[0])
    assert len(set(offsets)) > 1
    for t in (T.RandomResizedCrop(4), T.RandomRotation(15), T.ColorJitter(0.2, 0.2, 0.2, 0.05), T.Resize(3)):
        out = t(x)
        assert isinstance(out, toynn.Tensor) and out.shape[:2] == (6, 3) and np.isfinite(host(out)).all()
