"""A user's image file made into a model's input the way the model's data set was made: any Pillow mode read as
colour and alpha, ink found on either background, and each data set's own preparation (the 8x8 digits' box
and 4x4 counting, MNIST's 20x20 box centred by centre of mass, Fashion-MNIST's trimmed 28x28, a plain resize
for colour images)."""

from __future__ import annotations

import numpy as np

from .files import open_image

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601, as Pillow's convert("L")


def image_planes(im) -> tuple[np.ndarray, np.ndarray | None]:
    """A PIL image of any mode -> colour (H, W, 3) float32 in [0, 1] and alpha (H, W) float32 in [0, 1] or None.

    16-bit and 32-bit grey ('I;16', 'I') are scaled from their full range instead of clipped at 255, palettes
    and transparency keys become alpha, premultiplied modes are un-premultiplied.
    """
    if im.mode.startswith("I"):  # 'I;16', 'I;16B', ... (16-bit PNG, TIFF) and 'I' (32-bit; 16-bit PNG in old Pillow)
        a = np.asarray(im).astype(np.float32)
        a = a / (255 if im.mode == "I" and a.max() <= 255 else 65535)
        return np.repeat(np.clip(a, 0, 1)[:, :, None], 3, axis=2), None
    if im.mode == "F":
        a = np.asarray(im, dtype=np.float32)
        a = a / 255 if a.max() > 1 else a
        return np.repeat(np.clip(a, 0, 1)[:, :, None], 3, axis=2), None
    if "A" in im.mode or "a" in im.mode or "transparency" in im.info:  # RGBA LA PA RGBa La, P/L/RGB with a key
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255
        return rgba[:, :, :3], rgba[:, :, 3]
    return np.asarray(im.convert("RGB"), dtype=np.float32) / 255, None


def ink(colour: np.ndarray, alpha: np.ndarray | None) -> tuple[np.ndarray, bool]:
    """Grey (H, W) float32 in [0, 1] with the background at 0 and the strongest ink at 1, and whether the picture
    was light on dark paper's opposite (dark ink on a light background: inverted).

    Transparent pixels take the paper that contrasts with the drawing (white under dark strokes, black under light
    ones): a drawing saved with a transparent background reads as it looks in a viewer. The background level is the
    median of the border; the ink is stretched so that the background is 0 and the 99.9th percentile 1.
    """
    grey = colour @ _LUMA
    if alpha is not None and alpha.min() < 1:
        weight = alpha.sum()
        stroke = float((grey * alpha).sum() / weight) if weight > 0 else 0.0
        paper = 1.0 if stroke < 0.5 else 0.0
        grey = alpha * grey + (1 - alpha) * paper
    h, w = grey.shape
    r = max(1, min(h, w) // 20)
    border = np.concatenate([grey[:r].ravel(), grey[-r:].ravel(), grey[:, :r].ravel(), grey[:, -r:].ravel()])
    background = float(np.median(border))
    inverted = background > 0.5
    if inverted:
        grey, background = 1 - grey, 1 - background
    peak = float(np.percentile(grey, 99.9)) if grey.size > 1000 else float(grey.max())
    if peak - background < 0.05:  # a blank page
        return np.zeros_like(grey), inverted
    return np.clip((grey - background) / (peak - background), 0, 1).astype(np.float32), inverted


def _bbox(x: np.ndarray, threshold: float = 0.15) -> tuple[slice, slice] | None:
    rows, cols = np.nonzero(x.max(axis=1) > threshold)[0], np.nonzero(x.max(axis=0) > threshold)[0]
    if not len(rows):
        return None
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _resize(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """A float image (H, W) resampled to (h, w) with an antialiased filter (Pillow's 'F' mode, Lanczos)."""
    from PIL import Image

    if x.shape == (h, w):
        return x
    return np.asarray(Image.fromarray(x.astype(np.float32), mode="F").resize((w, h), Image.LANCZOS), dtype=np.float32)


def fit_in_box(x: np.ndarray, box: int, canvas: int) -> np.ndarray:
    """Crop x (H, W) to its ink's bounding box, scale its longer side to box keeping the aspect ratio, and centre
    the box in a canvas x canvas square -> (canvas, canvas) float32 in [0, 1]."""
    out = np.zeros((canvas, canvas), dtype=np.float32)
    crop = _bbox(x)
    if crop is None:
        return out
    x = x[crop]
    scale = box / max(x.shape)
    h, w = max(1, round(x.shape[0] * scale)), max(1, round(x.shape[1] * scale))
    top, left = (canvas - h) // 2, (canvas - w) // 2
    out[top : top + h, left : left + w] = np.clip(_resize(x, h, w), 0, 1)
    return out


def center_of_mass(x: np.ndarray, size: int) -> np.ndarray:
    """Shift x (size, size) by whole pixels so that its centre of mass is at the centre (MNIST's centring)."""
    total = x.sum()
    if total <= 0:
        return x
    ys, xs = np.indices(x.shape)
    dy = int(round(size / 2 - (ys * x).sum() / total))  # NOTE: MNIST's centres of mass sit at (14.0, 14.0)
    dx = int(round(size / 2 - (xs * x).sum() / total))
    out = np.zeros_like(x)
    src = x[max(0, -dy) : size - max(0, dy), max(0, -dx) : size - max(0, dx)]
    out[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return out


def digits_8x8(x: np.ndarray) -> np.ndarray:
    """scikit-learn's digits preparation: the digit's box scaled to fill a 32x32 bitmap (the longer side, aspect
    kept, centred), the ink counted in 4x4 blocks -> (8, 8) in [0, 1] (0..16 / 16), the strongest block at 1."""
    big = fit_in_box(x, 32, 32)
    small = big.reshape(8, 4, 8, 4).mean(axis=(1, 3))  # (32, 32) -> (8, 4, 8, 4) -> (8, 8): the ink per 4x4 block
    return small / small.max() if small.max() > 0 else small


def mnist_28x28(x: np.ndarray) -> np.ndarray:
    """MNIST's preparation: the digit's box scaled into 20x20 (aspect kept, antialiased), placed in 28x28 with its
    centre of mass at the centre -> (28, 28) in [0, 1], the strongest pixel at 1."""
    out = center_of_mass(fit_in_box(x, 20, 28), 28)
    return out / out.max() if out.max() > 0 else out


def fashion_28x28(x: np.ndarray) -> np.ndarray:
    """Fashion-MNIST's preparation: trimmed, the longer side scaled to 28, centred -> (28, 28) in [0, 1]."""
    return fit_in_box(x, 28, 28)


MAX_SIDE = 1024  # a picture of one digit is first reduced to this many pixels on its longer side

# (data set, C, H, W) -> how its images were made from a grey picture with the ink at 1
PREPARATIONS = {
    ("digits", 1, 8, 8): digits_8x8,
    ("mnist", 1, 28, 28): mnist_28x28,
    ("fashion-mnist", 1, 28, 28): fashion_28x28,
}


def prepare_image(path, data: str, input_shape) -> tuple[np.ndarray, bool]:
    """An image file as a model's input (1, C, H, W) float32, made the way data set `data` was made; and whether it
    was inverted (dark ink on a light background, for the data sets of light ink on black).

    'digits' -> digits_8x8, 'mnist' -> mnist_28x28, 'fashion-mnist' -> fashion_28x28 (for a (1, 8, 8) or
    (1, 28, 28) input); anything else (CIFAR-10, image folders) is resized to (H, W) as ImageFolder resizes,
    transparent pixels white.
    """
    from PIL import Image, ImageOps

    c, h, w = input_shape
    prepare = PREPARATIONS.get((data, c, h, w))
    with open_image(path) as opened:
        im = ImageOps.exif_transpose(opened)  # phone photos store their rotation in EXIF; a copy
        if prepare is not None:
            im.thumbnail((MAX_SIDE, MAX_SIDE))  # a 12-megapixel photo of a digit: 1.2 s -> 0.25 s
        colour, alpha = image_planes(im)
    if prepare is not None:
        grey, inverted = ink(colour, alpha)
        return prepare(grey)[None, None], inverted
    if alpha is not None:
        colour = alpha[:, :, None] * colour + (1 - alpha[:, :, None])  # on white, as read_images does
    pic = Image.fromarray(np.round(colour * 255).astype(np.uint8), mode="RGB")
    pic = pic.convert("L" if c == 1 else "RGB").resize((w, h), Image.BILINEAR)
    x = np.asarray(pic, dtype=np.float32) / 255
    x = x[None] if c == 1 else x.transpose(2, 0, 1)  # (H, W) -> (1, H, W); (H, W, C) -> (C, H, W)
    return x[None], False
