"""`toynn predict` on what people feed it: every Pillow mode, transparent drawings, dark or light paper, digits
anywhere on the page; each model's input prepared the way its data set was made (toynn.data.images)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import toynn
from toynn import nn, optim
from toynn.cli import main
from toynn.data import DataLoader, TensorDataset, load_digits
from toynn.data.files import open_image
from toynn.data.images import digits_8x8, image_planes, ink, mnist_28x28, prepare_image
from toynn.models import build_model
from toynn.train import fit

from .data_paths import need_mnist

Image = pytest.importorskip("PIL.Image", reason="predict reads images with Pillow")


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """The default MLP trained briefly on the 8x8 digits, in the folder format of `toynn train`."""
    run = tmp_path_factory.mktemp("runs") / "digits"
    run.mkdir()
    toynn.manual_seed(0)
    x, y = load_digits(train=True)
    model = build_model("mlp", x.shape[1:], 10)
    config = {"model": "mlp", "data": "digits", "input_shape": [1, 8, 8], "classes": [str(i) for i in range(10)]}
    (run / "config.json").write_text(json.dumps(config | {"args": {"data_dir": None}}))
    loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
    fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1, momentum=0.9), loader, 8, run_dir=run)
    return run


def _predict(run, paths, capsys) -> list[str]:
    capsys.readouterr()
    assert main(["predict", str(run), *map(str, paths)]) == 0
    return [line.split(": ")[1].split()[0] for line in capsys.readouterr().out.strip().splitlines()]


def _page(digit: np.ndarray, scale: int, page=(70, 90), at=(9, 40)) -> np.ndarray:
    """A digit (h, w) in [0, 1] drawn `scale` times larger as dark ink on a white page (H, W) uint8, at (top, left)."""
    big = np.kron(digit, np.ones((scale, scale)))
    out = np.zeros(page)
    out[at[0] : at[0] + big.shape[0], at[1] : at[1] + big.shape[1]] = big
    return np.round(255 * (1 - out)).astype(np.uint8)


# ---------------------------------------------------------------------------------------------
# Pillow modes


def test_image_planes_read_every_mode(tmp_path):
    grey = np.array([[0, 64], [128, 255]], np.uint8)
    rgb = np.dstack([grey, 255 - grey, np.full_like(grey, 7)])
    cases = {
        "L.png": Image.fromarray(grey),
        "RGB.png": Image.fromarray(rgb),
        "1.png": Image.fromarray(grey > 100),
        "P.png": Image.fromarray(rgb).quantize(8),
        "I16.png": Image.fromarray(grey.astype(np.uint16) * 257),
        "F.tif": Image.fromarray(grey.astype(np.float32) / 255, "F"),
        "CMYK.tif": Image.fromarray(rgb).convert("CMYK"),
    }
    for name, im in cases.items():
        im.save(tmp_path / name)
        with open_image(tmp_path / name) as back:
            colour, alpha = image_planes(back)
        assert colour.shape == (2, 2, 3) and colour.dtype == np.float32 and alpha is None, name
        want = {"RGB.png": rgb, "P.png": rgb, "CMYK.tif": rgb, "1.png": (grey > 100)[..., None] * 255}.get(
            name, grey[..., None]
        )
        tol = 0.07 if name == "P.png" else 0.01  # a palette of 8 colours is close, not exact
        np.testing.assert_allclose(colour, np.broadcast_to(want, (2, 2, 3)) / 255, atol=tol, err_msg=name)


def test_image_planes_alpha_palette_and_transparency_key(tmp_path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(rgba[..., [0, 3]], "LA").save(tmp_path / "la.png")
    palette = Image.fromarray(np.array([[1, 0, 0]], np.uint8), "P")
    palette.putpalette([255, 255, 255, 0, 0, 0])
    palette.save(tmp_path / "p.png", transparency=0)  # index 0 (white) is transparent
    for name, colour_00, alpha_row in [
        ("rgba.png", (10, 20, 30), [1, 0, 0]),
        ("la.png", (10, 10, 10), [1, 0, 0]),
        ("p.png", (0, 0, 0), [1, 0, 0]),
    ]:
        with open_image(tmp_path / name) as im:
            colour, alpha = image_planes(im)
        assert alpha is not None, name
        np.testing.assert_allclose(alpha[0], alpha_row, err_msg=name)
        np.testing.assert_allclose(colour[0, 0], np.array(colour_00) / 255, atol=1e-6, err_msg=name)


def test_sixteen_bit_grey_reads_like_eight_bit(tmp_path):
    digits, _ = load_digits(train=False)
    page = _page(digits[0, 0], 4)
    Image.fromarray(page).save(tmp_path / "8.png")
    Image.fromarray(page.astype(np.uint16) * 257).save(tmp_path / "16.png")
    with open_image(tmp_path / "16.png") as im:
        assert im.mode.startswith("I")  # Pillow keeps the 16 bits (convert("L") would clip them at 255)
    x8, _ = prepare_image(tmp_path / "8.png", "digits", (1, 8, 8))
    x16, _ = prepare_image(tmp_path / "16.png", "digits", (1, 8, 8))
    np.testing.assert_allclose(x16, x8, atol=1e-4)
    assert x8.max() == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------
# Transparent drawings (the issue: a transparent PNG lost its alpha and read as all black)


def test_transparent_png_reads_as_it_looks(tmp_path, digits_run, capsys):
    digits, labels = load_digits(train=False)
    paths = {}
    for i in range(6):
        ink_level = _page(digits[i, 0], 5) < 128  # the strokes of a drawing app, on a transparent page
        alpha = 255 * (1 - _page(digits[i, 0], 5) / 255)
        black = np.dstack([np.zeros_like(alpha)] * 3 + [alpha]).astype(np.uint8)  # black strokes, alpha = ink
        white = np.dstack([np.full_like(alpha, 255)] * 3 + [alpha]).astype(np.uint8)  # white strokes (dark mode)
        for kind, rgba in [("black", black), ("white", white)]:
            paths[kind, i] = tmp_path / f"{kind}{i}.png"
            Image.fromarray(rgba, "RGBA").save(paths[kind, i])
        paths["opaque", i] = tmp_path / f"opaque{i}.png"
        Image.fromarray(_page(digits[i, 0], 5)).save(paths["opaque", i])
        assert ink_level.any()
    for i in range(6):
        opaque, inverted = prepare_image(paths["opaque", i], "digits", (1, 8, 8))
        assert inverted and opaque.max() == pytest.approx(1.0)
        for kind in ("black", "white"):
            x, _ = prepare_image(paths[kind, i], "digits", (1, 8, 8))
            np.testing.assert_allclose(x, opaque, atol=1e-3, err_msg=f"{kind} strokes on transparency")
    predicted = _predict(digits_run, [paths["black", i] for i in range(6)], capsys)
    assert predicted == [str(k) for k in labels[:6]]


# ---------------------------------------------------------------------------------------------
# Each data set's own preparation


def test_digits_drawn_anywhere_on_light_paper_are_prepared_like_the_data_set(tmp_path, digits_run, capsys):
    digits, labels = load_digits(train=False)
    paths = []
    rng = np.random.default_rng(0)
    for i in range(60):  # 3-7x larger, somewhere on a 70x90 page, dark ink on white
        scale = int(rng.integers(3, 8))
        top, left = int(rng.integers(0, 70 - 8 * scale + 1)), int(rng.integers(0, 90 - 8 * scale + 1))
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(_page(digits[i, 0], scale, at=(top, left))).save(paths[-1])
    prepared = np.concatenate([prepare_image(p, "digits", (1, 8, 8))[0] for p in paths])
    originals = digits[:60] / digits[:60].max(axis=(1, 2, 3), keepdims=True)
    assert np.abs(prepared - originals).mean() < 0.06  # the drawing comes back as the data set's own image
    predicted = _predict(digits_run, paths, capsys)
    assert np.mean(np.array(predicted) == labels[:60].astype(str)) >= 0.9


def test_digits_8x8_box_and_intensity():
    x = np.zeros((100, 100), np.float32)
    x[10:90, 40:60] = 1  # a bar, 80 high and 20 wide: the height fills the box, the width stays a quarter
    out = digits_8x8(x)
    assert out.shape == (8, 8) and out.max() == pytest.approx(1.0)
    np.testing.assert_allclose(out[:, 3:5], 1.0)
    assert out[:, :2].max() == 0 and out[:, 6:].max() == 0


def test_mnist_28x28_box_of_20_centred_by_mass():
    x = np.zeros((200, 300), np.float32)
    x[20:120, 230:280] = 1  # off-centre, 100 x 50
    x[20:40, 230:240] = 0.5
    out = mnist_28x28(x)
    rows, cols = np.nonzero(out.max(axis=1) > 0.15)[0], np.nonzero(out.max(axis=0) > 0.15)[0]
    assert rows[-1] - rows[0] + 1 == 20 and cols[-1] - cols[0] + 1 == 10
    ys, xs = np.indices(out.shape)
    assert abs((ys * out).sum() / out.sum() - 14) <= 0.5 and abs((xs * out).sum() / out.sum() - 14) <= 0.5


def test_ink_finds_the_background_by_the_border():
    page = np.full((50, 40, 3), 0.8, np.float32)  # grey paper, darker ink
    page[10:40, 15:25] = 0.2
    grey, inverted = ink(page, None)
    assert inverted and grey[0, 0] == 0 and grey[20, 20] == pytest.approx(1.0)
    grey, inverted = ink(1 - page, None)  # light ink on dark paper, as the data sets are
    assert not inverted and grey[0, 0] == 0 and grey[20, 20] == pytest.approx(1.0)
    blank, _ = ink(np.ones((10, 10, 3), np.float32), None)
    assert blank.max() == 0


def test_colour_models_get_a_plain_resize(tmp_path):
    rgba = np.zeros((64, 48, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 255
    rgba[:, :24, 3] = 0  # the left half transparent: white, as ImageFolder reads it
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    x, inverted = prepare_image(tmp_path / "a.png", "cifar10", (3, 32, 32))
    assert x.shape == (1, 3, 32, 32) and not inverted
    np.testing.assert_allclose(x[0, :, 5, 2], [1, 1, 1])
    np.testing.assert_allclose(x[0, :, 5, 29], [1, 0, 0])


def test_predict_errors_are_one_line(tmp_path, digits_run, capsys):
    (tmp_path / "not.png").write_bytes(b"not an image")
    assert main(["predict", str(digits_run), str(tmp_path / "not.png")]) == 1
    err = capsys.readouterr().err
    assert "not.png: cannot read image" in err and "Traceback" not in err
    assert main(["predict", str(digits_run), str(tmp_path / "missing.png")]) == 1
    assert "missing.png: no such file" in capsys.readouterr().err


def test_digits_model_on_mnist_test_pngs(tmp_path, digits_run, capsys):
    """The measurement of docs/predict.md, on 100 of its 500 digits: MNIST test digits as a user draws them."""
    from toynn.data import MNIST

    mnist = MNIST(need_mnist(), train=False)
    paths = []
    for i in range(100):
        paths.append(tmp_path / f"{i}.png")
        big = Image.fromarray(mnist.data[i, 0]).resize((112, 112), Image.BICUBIC)
        Image.fromarray(255 - np.asarray(big)).save(paths[-1])  # black ink on white
    predicted = _predict(digits_run, paths, capsys)
    accuracy = np.mean(np.array(predicted) == mnist.targets[:100].astype(str))
    assert accuracy >= 0.5, accuracy  # 62.8% on all 500 with the default model; 10% is chance
