"""Image transforms in torchvision's names, on one image or on a whole batch.

What each transform takes and gives (as torchvision, plus toynn's batches):
- a PIL image -> a PIL image, through Pillow's own operation where torchvision uses one (resize, crop, rotate,
  ImageEnhance), so a PIL pipeline gives torchvision's pixels;
- a Tensor -> a Tensor, an array -> an array of the same module (NumPy or CuPy): a "tensor image" (..., C, H, W).
  (C, H, W) or (H, W) is one image; (N, C, H, W) is a batch, and the random transforms draw their parameters
  for each sample (toynn's batch transforms, DataLoader(transform=...); torchvision would draw one set for all).

ToTensor and PILToTensor turn PIL images and uint8 (H, W, C) arrays into (C, H, W) Tensors (see ToTensor for
the layout rule); ToTensor passes float (C, H, W) Tensors and arrays, which toynn's data sets give, through.
Random parameters come from toynn's generator (toynn.manual_seed makes them repeatable) unless a transform is
given its own numpy Generator. Pillow is imported only where a PIL image is met or made.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Sequence
from enum import StrEnum

import numpy as np

from ..backend import array_module
from ..creation import default_generator
from ..errors import ShapeError
from ..tensor import Tensor


def _rng(generator) -> np.random.Generator:
    return generator if generator is not None else default_generator()


# ---------------------------------------------------------------------------------------------
# What an image is: a PIL image, a Tensor or an array (NumPy or CuPy)


def _is_pil(x) -> bool:
    image = sys.modules.get("PIL.Image")  # NOTE: a PIL image can only exist once Pillow is imported
    return image is not None and isinstance(x, image.Image)


def _is_array(x) -> bool:
    return isinstance(x, np.ndarray) or (array_module(x) is not np and hasattr(x, "shape"))


def _kind(x, name: str) -> str:
    if _is_pil(x):
        return "pil"
    if isinstance(x, Tensor):
        return "tensor"
    if _is_array(x):
        return "array"
    raise TypeError(f"{name}: expected a PIL image, a Tensor or an array, got {type(x).__name__}")


def _image_array(x, name: str, min_ndim: int = 2):
    """The raw array of a Tensor or array image, checked to be (..., H, W)."""
    a = x.array if isinstance(x, Tensor) else x
    if a.ndim < min_ndim:
        dims = "(..., H, W)" if min_ndim == 2 else "(..., C, H, W)"
        raise ShapeError(f"{name}: expected an image {dims}, got shape {tuple(a.shape)}")
    return a


def _like(x, a):
    """a (an array) as x was given: a Tensor for a Tensor, the array itself otherwise."""
    return Tensor(a) if isinstance(x, Tensor) else a


def _apply(x, name: str, on_array: Callable, on_pil: Callable | None = None, min_ndim: int = 2):
    """on_pil(x) for a PIL image (or on_array through a (C, H, W) round trip), else on_array on the raw array."""
    kind = _kind(x, name)
    if kind == "pil":
        if on_pil is not None:
            return on_pil(x)
        return _chw_to_pil(on_array(_pil_to_chw(x)), x)
    return _like(x, on_array(_image_array(x, name, min_ndim)))


def _pil_to_chw(im) -> np.ndarray:
    a = np.asarray(im)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)  # (H, W) -> (1, H, W); (H, W, C) -> (C, H, W)


def _chw_to_pil(a: np.ndarray, like):
    from PIL import Image

    hwc = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    out = Image.fromarray(np.ascontiguousarray(hwc), mode=like.mode)
    if like.mode == "P":
        out.putpalette(like.getpalette())
    return out


def _size_of(x) -> tuple[int, int]:
    """(H, W) of a PIL image, a Tensor or an array image."""
    if _is_pil(x):
        return x.size[1], x.size[0]
    a = x.array if isinstance(x, Tensor) else x
    return int(a.shape[-2]), int(a.shape[-1])


def _is_batch(x) -> bool:
    return not _is_pil(x) and (x.array if isinstance(x, Tensor) else x).ndim >= 4


def _per_sample(x, name: str, fn: Callable):
    """fn applied to each sample of a batch (N, ..., H, W), each drawing its own random parameters."""
    a = _image_array(x, name)
    xp = array_module(a)
    flat = a.reshape((-1,) + a.shape[-3:])  # (N, ..., C, H, W) -> (N', C, H, W)
    out = xp.stack([fn(flat[n]) for n in range(flat.shape[0])])
    return _like(x, out.reshape(a.shape[:-3] + out.shape[1:]))


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, numbers.Integral):
        return int(v), int(v)
    if isinstance(v, Sequence) and len(v) == 1:
        return int(v[0]), int(v[0])
    if isinstance(v, Sequence) and len(v) == 2:
        return int(v[0]), int(v[1])
    raise ValueError(f"{name} should be an int or a pair (h, w), got {v!r}")


def _ltrb(padding, name: str) -> tuple[int, int, int, int]:
    """torchvision's padding: int (all sides), (left/right, top/bottom) or (left, top, right, bottom)."""
    if isinstance(padding, numbers.Integral):
        padding = (padding,) * 4
    elif isinstance(padding, Sequence) and len(padding) == 1:
        padding = (padding[0],) * 4
    elif isinstance(padding, Sequence) and len(padding) == 2:
        padding = (padding[0], padding[1], padding[0], padding[1])
    elif not (isinstance(padding, Sequence) and len(padding) == 4):
        raise ValueError(f"{name}: padding should be an int or a sequence of 1, 2 or 4 ints, got {padding!r}")
    if any(int(p) < 0 for p in padding):
        raise ValueError(f"{name}: padding should be non-negative, got {tuple(padding)}")
    return tuple(int(p) for p in padding)


_PAD_MODES = ("constant", "edge", "reflect", "symmetric")


# ---------------------------------------------------------------------------------------------
# Array kernels on (..., H, W): pad, crop, resize, grey, blend; each works on NumPy and CuPy arrays


def _pad_array(a, ltrb, fill=0, mode: str = "constant"):
    left, top, right, bottom = ltrb
    if not any(ltrb):
        return a
    pad = [(0, 0)] * (a.ndim - 2) + [(top, bottom), (left, right)]
    if mode != "constant":
        return array_module(a).pad(a, pad, mode=mode)
    if isinstance(fill, Sequence) and not isinstance(fill, str):  # one fill per channel (..., C, H, W)
        if a.ndim < 3 or len(fill) not in (1, a.shape[-3]):
            raise ValueError(f"Pad: fill has {len(fill)} values but the image has shape {tuple(a.shape)}")
        planes = [
            array_module(a).pad(a[..., c : c + 1, :, :], pad, constant_values=fill[c % len(fill)])
            for c in range(a.shape[-3])
        ]
        return array_module(a).concatenate(planes, axis=-3)
    return array_module(a).pad(a, pad, constant_values=fill)


def _crop_array(a, top: int, left: int, height: int, width: int):
    """The (height, width) window at (top, left); the parts outside the image are 0, as torchvision's crop."""
    H, W = a.shape[-2:]
    if top >= 0 and left >= 0 and top + height <= H and left + width <= W:
        return a[..., top : top + height, left : left + width]
    ltrb = (max(-left, 0), max(-top, 0), max(left + width - W, 0), max(top + height - H, 0))
    a = _pad_array(a, ltrb)
    top, left = top + ltrb[1], left + ltrb[0]
    return a[..., top : top + height, left : left + width]


class InterpolationMode(StrEnum):
    """torchvision's interpolation modes (the value is also accepted as a string)."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_PIL_CODES = {0: "nearest", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming", 1: "lanczos"}


def _interpolation(mode, name: str) -> InterpolationMode:
    if isinstance(mode, numbers.Integral) and int(mode) in _PIL_CODES:  # PIL.Image.BILINEAR and friends
        mode = _PIL_CODES[int(mode)]
    try:
        return InterpolationMode(mode)
    except ValueError:
        choices = ", ".join(m.value for m in InterpolationMode)
        raise ValueError(f"{name}: interpolation should be one of {choices}, got {mode!r}") from None


def _pil_resample(mode: InterpolationMode):
    from PIL import Image

    return {
        "nearest": Image.NEAREST,
        "nearest-exact": Image.NEAREST,  # Pillow's nearest takes the pixel under each output pixel's centre
        "bilinear": Image.BILINEAR,
        "bicubic": Image.BICUBIC,
        "box": Image.BOX,
        "hamming": Image.HAMMING,
        "lanczos": Image.LANCZOS,
    }[mode.value]


def _triangle(x):
    return np.clip(1.0 - np.abs(x), 0.0, None)


def _cubic(x, a: float):
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1  # |x| <= 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a  # 1 < |x| < 2
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def _resize_weights(n_in: int, n_out: int, mode: InterpolationMode, antialias: bool) -> np.ndarray:
    """(n_out, n_in) float64: the rows that make one axis of a resize, out = W @ x.

    Bilinear and bicubic with antialias are Pillow's resampling (and PyTorch's interpolate(antialias=True), a port
    of it): a triangle (bicubic: a = -0.5) filter stretched by the scale when shrinking, normalised over the taps
    inside the image. Without antialias they are interpolate's align_corners=False kernels (bicubic a = -0.75,
    edge pixels repeated). Nearest is interpolate's floor(i * n_in / n_out); nearest-exact takes the pixel centre.
    """
    scale = n_in / n_out
    i = np.arange(n_out)
    w = np.zeros((n_out, n_in))
    if mode in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        src = np.floor((i + 0.5) * scale if mode is InterpolationMode.NEAREST_EXACT else i * scale).astype(np.int64)
        w[i, np.minimum(src, n_in - 1)] = 1.0
        return w
    if mode not in (InterpolationMode.BILINEAR, InterpolationMode.BICUBIC):
        raise ValueError(f"Resize: interpolation {mode.value!r} is available for PIL images only")
    bicubic = mode is InterpolationMode.BICUBIC
    if antialias:
        support, stretch = (2.0 if bicubic else 1.0), max(scale, 1.0)
        centre = (i + 0.5) * scale  # (n_out,) in input pixel units
        lo = np.maximum((centre - support * stretch + 0.5).astype(np.int64), 0)  # as C's (int) cast: toward 0
        hi = np.minimum((centre + support * stretch + 0.5).astype(np.int64), n_in)
        j = np.arange(n_in)
        taps = (j[None, :] >= lo[:, None]) & (j[None, :] < hi[:, None])  # (n_out, n_in)
        d = (j[None, :] - centre[:, None] + 0.5) / stretch
        w = np.where(taps, _cubic(d, -0.5) if bicubic else _triangle(d), 0.0)
        return w / w.sum(axis=1, keepdims=True)
    src = (i + 0.5) * scale - 0.5  # align_corners=False
    if not bicubic:
        src = np.maximum(src, 0.0)
        j0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
        t = src - j0
        np.add.at(w, (i, j0), 1 - t)
        np.add.at(w, (i, np.minimum(j0 + 1, n_in - 1)), t)
        return w
    j0 = np.floor(src).astype(np.int64)
    t = src - j0
    for k in range(-1, 3):  # the four taps, indices clamped to the image (its edge pixels repeated)
        np.add.at(w, (i, np.clip(j0 + k, 0, n_in - 1)), _cubic(t - k, -0.75))
    return w


def _resize_array(a, size: tuple[int, int], mode: InterpolationMode, antialias: bool):
    """(..., H, W) -> (..., h, w): two products with the axes' weight matrices; integers rounded back."""
    xp = array_module(a)
    h, w = size
    H, W = a.shape[-2:]
    if (H, W) == (h, w):
        return a
    dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    rows = xp.asarray(_resize_weights(H, h, mode, antialias).astype(dtype))  # (h, H)
    cols = xp.asarray(_resize_weights(W, w, mode, antialias).T.astype(dtype))  # (W, w)
    out = rows @ (a.astype(dtype, copy=False) @ cols)  # (..., H, W) -> (..., H, w) -> (..., h, w)
    if a.dtype.kind == "f":
        return out
    out = xp.round(out)
    if a.dtype.kind in "ui":
        info = np.iinfo(a.dtype)
        out = xp.clip(out, info.min, info.max)
    return out.astype(a.dtype)


def _max_value(dtype) -> float:
    return float(np.iinfo(dtype).max) if dtype.kind in "ui" else 1.0


def _grey(a):
    """(..., 3, H, W) -> (..., 1, H, W): torchvision's luma 0.2989 R + 0.587 G + 0.114 B, in a's dtype."""
    f = a.astype(np.float32) if a.dtype.kind != "f" else a
    luma = 0.2989 * f[..., 0:1, :, :] + 0.587 * f[..., 1:2, :, :] + 0.114 * f[..., 2:3, :, :]
    return luma.astype(a.dtype, copy=False)  # integers truncated, as torchvision's .to(img.dtype)


def _blend(a, b, ratio: float):
    """ratio * a + (1 - ratio) * b clipped to the image range, in a's dtype (integers truncated, as torchvision)."""
    xp = array_module(a)
    f = a.astype(np.float32) if a.dtype.kind != "f" else a
    out = xp.clip(ratio * f + (1.0 - ratio) * b, 0, _max_value(a.dtype))
    return out.astype(a.dtype)


def _rgb_to_hsv(a):
    """(..., 3, H, W) float in [0, 1] -> (..., 3, H, W) h, s, v in [0, 1] (torchvision's, after Pillow's)."""
    xp = array_module(a)
    r, g, b = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    maxc, minc = a.max(axis=-3), a.min(axis=-3)
    same = maxc == minc
    cr = maxc - minc
    s = cr / xp.where(same, xp.ones_like(maxc), maxc)
    div = xp.where(same, xp.ones_like(cr), cr)
    rc, gc, bc = (maxc - r) / div, (maxc - g) / div, (maxc - b) / div
    h = (maxc == r) * (bc - gc) + ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    h = h + ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = xp.fmod(h / 6.0 + 1.0, 1.0)
    return xp.stack([h, s, maxc], axis=-3)


def _hsv_to_rgb(a):
    xp = array_module(a)
    h, s, v = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    i = xp.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int64) % 6
    p = xp.clip(v * (1.0 - s), 0.0, 1.0)
    q = xp.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = xp.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    table = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]  # (r, g, b) for each sector i
    out = [xp.zeros_like(v) for _ in range(3)]
    for k, rgb in enumerate(table):
        hit = i == k
        out = [xp.where(hit, c, o) for c, o in zip(rgb, out)]
    return xp.stack(out, axis=-3)


def _check_channels(a, allowed, name: str) -> None:
    if a.ndim < 3 or a.shape[-3] not in allowed:
        raise ShapeError(
            f"{name}: expected an image (..., C, H, W) with C in {list(allowed)}, got shape {tuple(a.shape)}"
        )


# ---------------------------------------------------------------------------------------------
# Composition


class Compose:
    """Apply transforms in order: x -> t_k(... t_1(x))."""

    def __init__(self, transforms: Sequence[Callable]):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return "Compose([" + ", ".join(repr(t) for t in self.transforms) + "])"


class Lambda:
    """Apply a user function: x -> fn(x)."""

    def __init__(self, fn: Callable):
        if not callable(fn):
            raise TypeError(f"Lambda: fn should be callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)

    def __repr__(self) -> str:
        return f"Lambda({getattr(self.fn, '__name__', self.fn)!r})"


class RandomApply:
    """Apply the transforms in order with probability p, else return x."""

    def __init__(self, transforms: Sequence[Callable], p: float = 0.5, *, generator=None):
        self.transforms, self.p, self.generator = list(transforms), p, generator

    def __call__(self, x):
        if _rng(self.generator).random() >= self.p:
            return x
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return f"RandomApply({self.transforms!r}, p={self.p})"


# ---------------------------------------------------------------------------------------------
# Conversions


_PIL_DTYPES = {"I": np.int32, "I;16": np.int16, "I;16B": np.int16, "F": np.float32}


def _pil_hwc(pic) -> np.ndarray:
    """A PIL image -> (H, W, C) array in the dtype of its mode ('1' as 0/255 uint8), as torchvision reads it."""
    a = np.array(pic, dtype=_PIL_DTYPES.get(pic.mode, np.uint8), copy=True)
    if pic.mode == "1":
        a = a * np.uint8(255)
    return a.reshape(pic.size[1], pic.size[0], -1)  # (H, W) or (H, W, C) -> (H, W, C)


def _channels_last(a) -> bool:
    """Whether a 3-D (or 4-D batch) array is laid out (..., H, W, C) rather than (..., C, H, W).

    A side of at most 4 entries facing a longer one decides: (32, 32, 3) is HWC and (3, 32, 32) is CHW. When
    both or neither are that short, integer arrays are HWC (decoded image files, torchvision's ndarray) and float
    arrays CHW (toynn's data sets).
    """
    first, last = a.shape[-3], a.shape[-1]
    if last <= 4 < first:
        return True
    if first <= 4 < last:
        return False
    return a.dtype.kind != "f"


class ToTensor:
    """An image -> a (C, H, W) Tensor; uint8 is scaled to float32 in [0, 1], other dtypes are kept (torchvision).

    - a PIL image (H, W) of any mode -> (C, H, W), as torchvision;
    - an array (H, W) -> (1, H, W); (H, W, C) -> (C, H, W), and a batch (N, H, W, C) -> (N, C, H, W);
      a (C, H, W) array (see _channels_last for how the two layouts are told apart) keeps its layout;
    - a float Tensor passes through unchanged (toynn's data sets give float (C, H, W) Tensors); an integer Tensor,
      taken as (..., C, H, W), is scaled by its dtype's maximum.
    """

    def __call__(self, pic):
        kind = _kind(pic, "ToTensor")
        if kind == "pil":
            a = _pil_hwc(pic).transpose(2, 0, 1)  # (H, W, C) -> (C, H, W)
        elif kind == "tensor":
            if pic.array.dtype.kind == "f":
                return pic
            a = pic.array
            return Tensor(a.astype(np.float32) / np.float32(_max_value(a.dtype))) if a.dtype.kind in "ui" else pic
        else:
            a = _image_array(pic, "ToTensor")
            if a.ndim == 2:
                a = a[None]  # (H, W) -> (1, H, W)
            elif a.ndim in (3, 4) and _channels_last(a):
                a = a.transpose((2, 0, 1) if a.ndim == 3 else (0, 3, 1, 2))  # (.., H, W, C) -> (.., C, H, W)
            elif a.ndim > 4:
                raise ShapeError(f"ToTensor: expected an image (H, W[, C]) or a batch (N, H, W, C), got {a.shape}")
        xp = array_module(a)
        if a.dtype == np.uint8:
            return Tensor(xp.divide(a, np.float32(255), dtype=np.float32))
        if a.dtype == np.bool_:
            return Tensor(a.astype(np.float32))
        return Tensor(xp.ascontiguousarray(a))

    def __repr__(self) -> str:
        return "ToTensor()"


class PILToTensor:
    """A PIL image (or a uint8 (H, W[, C]) array) -> a (C, H, W) Tensor of its dtype, not scaled (uint8 stays)."""

    def __call__(self, pic):
        kind = _kind(pic, "PILToTensor")
        if kind == "pil":
            return Tensor(np.ascontiguousarray(_pil_hwc(pic).transpose(2, 0, 1)))  # (H, W, C) -> (C, H, W)
        a = _image_array(pic, "PILToTensor")
        if kind != "array" or a.ndim not in (2, 3) or a.dtype.kind not in "ui":
            raise TypeError(
                f"PILToTensor: expected a PIL image or an integer array (H, W[, C]), got a {kind} "
                f"{a.dtype} of shape {tuple(a.shape)}"
            )
        a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1) if _channels_last(a) else a
        return Tensor(array_module(a).ascontiguousarray(a))

    def __repr__(self) -> str:
        return "PILToTensor()"


class ToPILImage:
    """A (C, H, W) Tensor, or an (H, W[, C]) array, -> a PIL image (float times 255, truncated, as torchvision).

    mode (PIL's) defaults from the channels and dtype: 1 -> 'L' (or 'I;16', 'I', 'F'), 2 -> 'LA', 3 -> 'RGB',
    4 -> 'RGBA'. Arrays follow ToTensor's layout rule, so ToPILImage undoes ToTensor.
    """

    def __init__(self, mode: str | None = None):
        self.mode = mode

    def __call__(self, pic):
        from PIL import Image

        kind = _kind(pic, "ToPILImage")
        if kind == "pil":
            return pic if self.mode is None else pic.convert(self.mode)
        a = _image_array(pic, "ToPILImage")
        a = a.get() if array_module(a) is not np else a  # a device array comes to the host
        if a.ndim == 3 and (kind == "tensor" or not _channels_last(a)):
            a = a.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
        if a.ndim == 2:
            a = a[:, :, None]
        if a.ndim != 3:
            raise ShapeError(f"ToPILImage: expected an image of 2 or 3 dimensions, got shape {tuple(a.shape)}")
        if a.shape[2] > 4:
            raise ShapeError(f"ToPILImage: an image has at most 4 channels, got shape {tuple(a.shape)} (H, W, C)")
        mode = self.mode
        if a.dtype.kind == "f" and mode != "F":
            a = (a * 255).astype(np.uint8)
        if a.shape[2] == 1:
            a = a[:, :, 0]
            expected = {
                np.dtype(np.uint8): "L",
                np.dtype(np.int16): "I;16",
                np.dtype(np.int32): "I",
                np.dtype(np.float32): "F",
            }.get(a.dtype)
            if mode is not None and mode != expected:
                raise ValueError(f"ToPILImage: mode {mode!r} does not fit a one-channel {a.dtype} image ({expected})")
            mode = expected
        elif mode is None and a.dtype == np.uint8:
            mode = {2: "LA", 3: "RGB", 4: "RGBA"}[a.shape[2]]
        if mode is None:
            raise TypeError(f"ToPILImage: an image of dtype {a.dtype} is not supported")
        return Image.fromarray(np.ascontiguousarray(a), mode=mode)

    def __repr__(self) -> str:
        return f"ToPILImage(mode={self.mode!r})" if self.mode else "ToPILImage()"


class ToFloat:
    """Integer arrays -> float32 scaled by the dtype's max (uint8 0..255 -> [0, 1]); float arrays -> float32."""

    def __call__(self, x):
        if isinstance(x, Tensor):
            return Tensor(self(x.array))
        xp = array_module(x)
        x = xp.asarray(x)
        if x.dtype.kind in "ui":
            return xp.divide(x, np.float32(np.iinfo(x.dtype).max), dtype=np.float32)
        return x.astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return "ToFloat()"


class Normalize:
    """(x - mean) / std per channel: axis -3 of an image (..., C, H, W), axis 1 of features (N, F).

    mean and std are scalars or (C,). Integer inputs give float32. inplace=True writes into a float input.
    """

    def __init__(self, mean, std, inplace: bool = False):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        self.inplace = inplace
        if self.mean.ndim > 1 or self.std.ndim > 1:
            raise ShapeError(
                f"Normalize: mean and std should be scalars or 1-D, got shapes {self.mean.shape}, {self.std.shape}"
            )
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std evaluated to zero ({self.std.tolist()}), leading to division by zero")

    def _per_channel(self, v: np.ndarray, x, name: str) -> np.ndarray:
        if v.ndim == 0 or v.size == 1:
            return v.reshape(())
        axis = -3 if x.ndim >= 3 else 1
        if x.ndim < 2 or x.shape[axis] != v.size:
            where = f"{x.shape[axis]} channels on axis {axis}" if x.ndim > 1 else "no channel axis"
            raise ShapeError(f"Normalize: {name} has {v.size} values but x of shape {tuple(x.shape)} has {where}")
        return v.reshape((-1, 1, 1) if axis == -3 else (1, -1))  # (C,) -> (C, 1, 1) or (1, F)

    def __call__(self, x):
        if _is_pil(x):
            raise TypeError("Normalize: expected a Tensor or an array image, got a PIL image; apply ToTensor first")
        a = x.array if isinstance(x, Tensor) else x
        xp = array_module(a)
        dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
        mean = xp.asarray(self._per_channel(self.mean, a, "mean").astype(dtype))
        std = xp.asarray(self._per_channel(self.std, a, "std").astype(dtype))
        if self.inplace and a.dtype.kind == "f":
            a -= mean
            a /= std
            return x
        return _like(x, ((a - mean) / std).astype(dtype, copy=False))

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Flatten:
    """Flatten dims start_dim..end_dim: (N, C, H, W) -> (N, C*H*W) with the defaults."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        self.start_dim, self.end_dim = start_dim, end_dim

    def __call__(self, x):
        a = x.array if isinstance(x, Tensor) else x
        start, end = self.start_dim % a.ndim, self.end_dim % a.ndim
        return _like(x, a.reshape(a.shape[:start] + (-1,) + a.shape[end + 1 :]))  # (.., a, b, ..) -> (.., a*b, ..)

    def __repr__(self) -> str:
        return f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim})"


# ---------------------------------------------------------------------------------------------
# Geometry


def _resized_size(size, h: int, w: int, max_size: int | None) -> tuple[int, int]:
    """torchvision's output size: an int (or [int]) matches the shorter side, keeping the aspect ratio."""
    if isinstance(size, Sequence) and len(size) == 2:
        return int(size[0]), int(size[1])
    short, long = (w, h) if w <= h else (h, w)
    new_short = int(size if isinstance(size, numbers.Integral) else size[0])
    new_long = int(new_short * long / short)
    if max_size is not None and new_long > max_size:
        new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if w <= h else (new_short, new_long)  # (h, w)


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias: bool = True):
    """torchvision.transforms.functional.resize: see Resize."""
    mode = _interpolation(interpolation, "Resize")
    h, w = _resized_size(size, *_size_of(img), max_size)
    if (h, w) == _size_of(img):
        return img
    return _apply(
        img,
        "Resize",
        lambda a: _resize_array(a, (h, w), mode, antialias),
        lambda im: im.resize((w, h), _pil_resample(mode)),
    )


class Resize:
    """Resize to size: an int (or [int]) sets the shorter side, keeping the aspect ratio (the longer side is
    truncated, as torchvision; max_size caps it); (h, w) sets both.

    PIL images go through Pillow's resize. Tensors and arrays (..., H, W) are resampled as torchvision resamples
    tensors (PyTorch's interpolate): bilinear or bicubic with antialias (default) use Pillow's filters in float,
    integer images are rounded back; nearest is interpolate's.
    """

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size: int | None = None, antialias=True):
        if isinstance(size, numbers.Integral):
            size = int(size)
        elif not (isinstance(size, Sequence) and len(size) in (1, 2)):
            raise TypeError(f"Resize: size should be an int or a sequence of 1 or 2 ints, got {size!r}")
        if max_size is not None and not (isinstance(size, int) or len(size) == 1):
            raise ValueError(f"Resize: max_size is only allowed when size is an int (the shorter side), got {size!r}")
        short = size if isinstance(size, int) else size[0]
        if max_size is not None and max_size <= short:
            raise ValueError(f"Resize: max_size = {max_size} must be greater than the shorter side's size {short}")
        self.size, self.max_size, self.antialias = size, max_size, bool(antialias) if antialias is not None else True
        self.interpolation = _interpolation(interpolation, "Resize")

    def __call__(self, img):
        return resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def __repr__(self) -> str:
        return (
            f"Resize(size={self.size}, interpolation={self.interpolation.value}, max_size={self.max_size}, "
            f"antialias={self.antialias})"
        )


def crop(img, top: int, left: int, height: int, width: int):
    """The (height, width) window at (top, left); outside the image the window is 0 (torchvision's crop)."""
    return _apply(
        img,
        "crop",
        lambda a: _crop_array(a, top, left, height, width),
        lambda im: im.crop((left, top, left + width, top + height)),
    )


def center_crop(img, output_size):
    h, w = _pair(output_size, "CenterCrop: size")
    H, W = _size_of(img)
    if h > H or w > W:  # as torchvision: pad with zeros to at least the crop, then crop
        ltrb = (
            (w - W) // 2 if w > W else 0,
            (h - H) // 2 if h > H else 0,
            (w - W + 1) // 2 if w > W else 0,
            (h - H + 1) // 2 if h > H else 0,
        )
        img = pad(img, ltrb)
        H, W = _size_of(img)
        if (H, W) == (h, w):
            return img
    return crop(img, int(round((H - h) / 2.0)), int(round((W - w) / 2.0)), h, w)


class CenterCrop:
    """The central (h, w) window (size an int or (h, w)); a smaller image is padded with zeros first."""

    def __init__(self, size):
        self.size = _pair(size, "CenterCrop: size")

    def __call__(self, img):
        return center_crop(img, self.size)

    def __repr__(self) -> str:
        return f"CenterCrop(size={self.size})"


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """torchvision.transforms.functional.pad: see Pad."""
    if padding_mode not in _PAD_MODES:
        raise ValueError(f"Pad: padding_mode should be constant, edge, reflect or symmetric, got {padding_mode!r}")
    ltrb = _ltrb(padding, "Pad")

    def on_pil(im):
        a = _pil_to_chw(im)
        per_channel = fill if isinstance(fill, Sequence) else [fill]
        return _chw_to_pil(_pad_array(a, ltrb, per_channel if padding_mode == "constant" else 0, padding_mode), im)

    return _apply(img, "Pad", lambda a: _pad_array(a, ltrb, fill, padding_mode), on_pil)


class Pad:
    """Pad the image sides: padding an int (all), (left/right, top/bottom) or (left, top, right, bottom);
    padding_mode 'constant' (with fill, a number or one per channel), 'edge', 'reflect' or 'symmetric'."""

    def __init__(self, padding, fill=0, padding_mode: str = "constant"):
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"Pad: padding_mode should be constant, edge, reflect or symmetric, got {padding_mode!r}")
        self.padding, self.fill, self.padding_mode = _ltrb(padding, "Pad"), fill, padding_mode

    def __call__(self, img):
        return pad(img, self.padding, self.fill, self.padding_mode)

    def __repr__(self) -> str:
        return f"Pad(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode!r})"


class RandomCrop:
    """A random (h, w) window, after optional padding. One image (C, H, W), a PIL image, or a batch (N, C, H, W)
    with a window drawn for each sample.

    padding: int (all sides), (pad_left_right, pad_top_bottom) or (left, top, right, bottom), as torchvision;
    pad_if_needed pads an image smaller than the crop; padding_mode: 'constant' (with fill), 'edge', 'reflect' or
    'symmetric'.
    """

    def __init__(
        self,
        size,
        padding=None,
        pad_if_needed: bool = False,
        fill=0,
        padding_mode: str = "constant",
        *,
        generator=None,
    ):
        self.size = _pair(size, "RandomCrop: size")
        if padding_mode not in _PAD_MODES:
            raise ValueError(
                f"RandomCrop: padding_mode should be constant, edge, reflect or symmetric, got {padding_mode!r}"
            )
        self.padding = _ltrb(0 if padding is None else padding, "RandomCrop")  # (left, top, right, bottom)
        self.pad_if_needed, self.fill, self.padding_mode, self.generator = pad_if_needed, fill, padding_mode, generator

    def _padded(self, img):
        if any(self.padding):
            img = pad(img, self.padding, self.fill, self.padding_mode)
        H, W = _size_of(img)
        h, w = self.size
        if self.pad_if_needed and W < w:  # as torchvision: the missing width on both sides
            img = pad(img, (w - W, 0), self.fill, self.padding_mode)
        if self.pad_if_needed and H < h:
            img = pad(img, (0, h - H), self.fill, self.padding_mode)
        H, W = _size_of(img)
        if h > H or w > W:
            raise ShapeError(f"RandomCrop: crop size {(h, w)} is larger than the padded image size {(H, W)}")
        return img, H, W

    def __call__(self, img):
        _kind(img, "RandomCrop")
        img, H, W = self._padded(img)
        h, w = self.size
        rng = _rng(self.generator)
        if not _is_batch(img):
            i, j = int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1))
            return crop(img, i, j, h, w)
        a = img.array if isinstance(img, Tensor) else img
        xp, N = array_module(a), a.shape[0]
        i = rng.integers(0, H - h + 1, size=N)  # top offsets (N,)
        j = rng.integers(0, W - w + 1, size=N)  # left offsets (N,)
        x4 = a.reshape(N, -1, H, W)  # (N, ..., H, W) -> (N, C, H, W)
        n = xp.asarray(np.arange(N)[:, None, None, None])  # (N, 1, 1, 1)
        c = xp.asarray(np.arange(x4.shape[1])[None, :, None, None])  # (1, C, 1, 1)
        rows = xp.asarray((i[:, None] + np.arange(h))[:, None, :, None])  # (N, 1, h, 1)
        cols = xp.asarray((j[:, None] + np.arange(w))[:, None, None, :])  # (N, 1, 1, w)
        out = x4[n, c, rows, cols]  # (N, C, h, w): one gather, no loop over samples
        return _like(img, out.reshape(a.shape[:-2] + (h, w)))

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding}, padding_mode={self.padding_mode!r})"


def _flip(img, axis: int, p: float, generator, name: str):
    """Mirror along axis (-1 left-right, -2 top-bottom) with probability p; each sample of a batch on its own."""
    from_pil = "FLIP_LEFT_RIGHT" if axis == -1 else "FLIP_TOP_BOTTOM"
    rng = _rng(generator)
    if not _is_batch(img):
        if rng.random() >= p:
            return img
        return _apply(
            img,
            name,
            lambda a: a[..., ::-1] if axis == -1 else a[..., ::-1, :],
            lambda im: im.transpose(getattr(sys.modules["PIL.Image"].Transpose, from_pil)),
        )
    a = img.array if isinstance(img, Tensor) else img
    flip = rng.random(a.shape[0]) < p  # (N,) which samples to mirror
    out = a.copy()
    idx = array_module(a).asarray(np.flatnonzero(flip))
    out[idx] = a[idx][..., ::-1] if axis == -1 else a[idx][..., ::-1, :]
    return _like(img, out)


class RandomHorizontalFlip:
    """Mirror left-right (last axis) with probability p; each sample of a batch (N, ..., W) on its own."""

    def __init__(self, p: float = 0.5, *, generator=None):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p should be in [0, 1], got {p}")
        self.p, self.generator = p, generator

    def __call__(self, img):
        return _flip(img, -1, self.p, self.generator, "RandomHorizontalFlip")

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomVerticalFlip:
    """Mirror top-bottom (axis -2) with probability p; each sample of a batch on its own."""

    def __init__(self, p: float = 0.5, *, generator=None):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomVerticalFlip: p should be in [0, 1], got {p}")
        self.p, self.generator = p, generator

    def __call__(self, img):
        return _flip(img, -2, self.p, self.generator, "RandomVerticalFlip")

    def __repr__(self) -> str:
        return f"RandomVerticalFlip(p={self.p})"


class RandomResizedCrop:
    """A random window of scale (fraction of the area) and ratio (w / h) of the image, resized to size.

    The window is drawn as torchvision's get_params: up to 10 tries of area ~ U(scale) and log-ratio ~ U(log ratio),
    then the central window of the closest ratio. A batch (N, C, H, W) draws a window for each sample.
    """

    def __init__(
        self,
        size,
        scale=(0.08, 1.0),
        ratio=(3.0 / 4.0, 4.0 / 3.0),
        interpolation=InterpolationMode.BILINEAR,
        antialias=True,
        *,
        generator=None,
    ):
        self.size = _pair(size, "RandomResizedCrop: size")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError(f"RandomResizedCrop: scale and ratio should be (min, max), got {scale} and {ratio}")
        self.scale, self.ratio = tuple(scale), tuple(ratio)
        self.interpolation = _interpolation(interpolation, "RandomResizedCrop")
        self.antialias, self.generator = antialias, generator

    def get_params(self, height: int, width: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """(top, left, h, w) of the window, torchvision's recipe drawn from rng."""
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target_area = area * rng.uniform(self.scale[0], self.scale[1])
            aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
        in_ratio = width / height
        if in_ratio < min(self.ratio):
            w, h = width, int(round(width / min(self.ratio)))
        elif in_ratio > max(self.ratio):
            h, w = height, int(round(height * max(self.ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, img):
        _kind(img, "RandomResizedCrop")
        if _is_batch(img):
            return _per_sample(img, "RandomResizedCrop", self)
        top, left, h, w = self.get_params(*_size_of(img), _rng(self.generator))
        return resize(crop(img, top, left, h, w), self.size, self.interpolation, None, self.antialias)

    def __repr__(self) -> str:
        return f"RandomResizedCrop(size={self.size}, scale={self.scale}, ratio={self.ratio})"


def _rotate_array(a, angle: float, mode: InterpolationMode, expand: bool, center, fill):
    """(..., H, W) rotated counter-clockwise by angle degrees about center (default the image centre), sampled by
    inverse mapping at pixel centres with Pillow's matrix (and its expand); outside the image is fill."""
    xp = array_module(a)
    H, W = a.shape[-2:]
    turn = angle % 360.0
    if center is None and (turn in (0.0, 180.0) or (turn in (90.0, 270.0) and (expand or H == W))):
        if turn == 0.0:  # Pillow's exact quarter turns, with the same conditions
            return a.copy()
        if turn == 180.0:
            return a[..., ::-1, ::-1].copy()
        return (a[..., :, ::-1] if turn == 90.0 else a[..., ::-1, :]).swapaxes(-2, -1).copy()
    cx, cy = (W / 2, H / 2) if center is None else (float(center[0]), float(center[1]))
    t = -math.radians(angle)
    ma, mb = round(math.cos(t), 15), round(math.sin(t), 15)  # output (x, y) -> source (ma x + mb y + mc, ...)
    md, me = round(-math.sin(t), 15), round(math.cos(t), 15)
    mc, mf = ma * -cx + mb * -cy + cx, md * -cx + me * -cy + cy
    Ho, Wo = H, W
    if expand:  # the bounding box of the rotated corners, as Pillow's rotate(expand=True)
        xx = [ma * x + mb * y + mc for x, y in ((0, 0), (W, 0), (W, H), (0, H))]
        yy = [md * x + me * y + mf for x, y in ((0, 0), (W, 0), (W, H), (0, H))]
        Wo = math.ceil(max(xx)) - math.floor(min(xx))
        Ho = math.ceil(max(yy)) - math.floor(min(yy))
        dx, dy = -(Wo - W) / 2.0, -(Ho - H) / 2.0
        mc, mf = ma * dx + mb * dy + mc, md * dx + me * dy + mf
    yo, xo = np.meshgrid(np.arange(Ho) + 0.5, np.arange(Wo) + 0.5, indexing="ij")  # (Ho, Wo) pixel centres
    xs, ys = ma * xo + mb * yo + mc, md * xo + me * yo + mf  # the source point of each output pixel
    flat = a.reshape((-1, H * W))  # (..., H, W) -> (B, H*W)
    f = flat.astype(np.float32) if a.dtype.kind != "f" else flat
    if mode is InterpolationMode.BILINEAR:
        x0, y0 = np.floor(xs - 0.5), np.floor(ys - 0.5)
        taps = [
            (x0, y0, (x0 + 1.5 - xs) * (y0 + 1.5 - ys)),
            (x0 + 1, y0, (xs - x0 - 0.5) * (y0 + 1.5 - ys)),
            (x0, y0 + 1, (x0 + 1.5 - xs) * (ys - y0 - 0.5)),
            (x0 + 1, y0 + 1, (xs - x0 - 0.5) * (ys - y0 - 0.5)),
        ]
    elif mode in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT):
        taps = [(np.floor(xs), np.floor(ys), np.ones_like(xs))]
    else:
        raise ValueError(f"RandomRotation: interpolation {mode.value!r} is not available for arrays")
    out = xp.zeros(f.shape[:1] + (Ho * Wo,), dtype=f.dtype)
    for x, y, w in taps:
        inside = (x >= 0) & (x < W) & (y >= 0) & (y < H)
        src = xp.asarray(np.where(inside, y * W + x, 0).astype(np.int64).ravel())  # (Ho*Wo,) flat source index
        weight = xp.asarray(np.where(inside, w, 0.0).ravel().astype(f.dtype))
        out = out + f[:, src] * weight
        if fill:
            out = out + xp.asarray((np.where(inside, 0.0, w).ravel() * float(fill)).astype(f.dtype))
    if a.dtype.kind != "f":
        out = xp.round(out).astype(a.dtype)
    return out.reshape(a.shape[:-2] + (Ho, Wo))


class RandomRotation:
    """Rotate counter-clockwise by an angle ~ U(degrees) (degrees a number d means (-d, d)).

    PIL images go through Pillow's rotate; Tensors and arrays are sampled at the rotated pixel centres (nearest by
    default, or bilinear), outside the image filled with fill. expand grows the output to hold the whole image.
    """

    def __init__(
        self,
        degrees,
        interpolation=InterpolationMode.NEAREST,
        expand: bool = False,
        center=None,
        fill=0,
        *,
        generator=None,
    ):
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ValueError(f"RandomRotation: degrees as a single number should be non-negative, got {degrees}")
            degrees = (-degrees, degrees)
        if len(degrees) != 2:
            raise ValueError(f"RandomRotation: degrees should be a number or a pair (min, max), got {degrees!r}")
        self.degrees = (float(degrees[0]), float(degrees[1]))
        self.interpolation = _interpolation(interpolation, "RandomRotation")
        self.expand, self.center, self.fill, self.generator = expand, center, fill, generator

    def __call__(self, img):
        _kind(img, "RandomRotation")
        if _is_batch(img) and not self.expand:
            return _per_sample(img, "RandomRotation", self)
        angle = float(_rng(self.generator).uniform(self.degrees[0], self.degrees[1]))
        return rotate(img, angle, self.interpolation, self.expand, self.center, self.fill)

    def __repr__(self) -> str:
        return f"RandomRotation(degrees={self.degrees}, interpolation={self.interpolation.value}, expand={self.expand})"


def rotate(img, angle: float, interpolation=InterpolationMode.NEAREST, expand=False, center=None, fill=0):
    """The image rotated counter-clockwise by angle degrees: see RandomRotation."""
    mode = _interpolation(interpolation, "rotate")
    return _apply(
        img,
        "rotate",
        lambda a: _rotate_array(a, angle, mode, expand, center, fill),
        lambda im: im.rotate(angle, _pil_resample(mode), expand, center, fillcolor=fill if fill else None),
    )


class Grayscale:
    """RGB -> grey (luma 0.2989 R + 0.587 G + 0.114 B; PIL images: Pillow's convert('L')), num_output_channels
    1 or 3 (the grey plane repeated)."""

    def __init__(self, num_output_channels: int = 1):
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: num_output_channels should be 1 or 3, got {num_output_channels}")
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        n = self.num_output_channels

        def on_array(a):
            _check_channels(a, (1, 3), "Grayscale")
            g = _grey(a) if a.shape[-3] == 3 else a.copy()
            return array_module(a).concatenate([g] * n, axis=-3) if n == 3 else g

        def on_pil(im):
            from PIL import Image

            grey = im.convert("L")
            return grey if n == 1 else Image.fromarray(np.dstack([np.asarray(grey)] * 3), mode="RGB")

        return _apply(img, "Grayscale", on_array, on_pil, min_ndim=3)

    def __repr__(self) -> str:
        return f"Grayscale(num_output_channels={self.num_output_channels})"


def _factor_range(value, name: str, center: float = 1.0, bound=(0.0, float("inf"))):
    """torchvision's jitter range: a number v gives [center - v, center + v] (clipped), a pair is taken as is."""
    if value is None:
        return None
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"ColorJitter: {name} as a single number should be non-negative, got {value}")
        value = (center - value, center + value)
        value = (max(value[0], bound[0]), value[1]) if center == 1.0 else value
    if len(value) != 2 or not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f"ColorJitter: {name} values should be between {bound}, got {value!r}")
    return None if value[0] == value[1] == center else (float(value[0]), float(value[1]))


def _jitter_array(a, order, factors):
    """Apply brightness, contrast, saturation, hue (indices 0..3) to (..., C, H, W) in the given order."""
    xp = array_module(a)
    for k in order:
        f = factors[k]
        if f is None:
            continue
        if k == 0:
            a = _blend(a, 0.0, f)
        elif k == 1:
            luma = _grey(a) if a.shape[-3] == 3 else a
            mean = luma.astype(np.float32 if a.dtype.kind != "f" else a.dtype).mean(axis=(-3, -2, -1), keepdims=True)
            a = _blend(a, mean, f)
        elif k == 2 and a.shape[-3] == 3:
            grey = _grey(a)
            a = _blend(a, grey.astype(np.float32) if a.dtype.kind != "f" else grey, f)
        elif k == 3 and a.shape[-3] == 3:
            scale = _max_value(a.dtype)
            hsv = _rgb_to_hsv(a.astype(np.float32) / np.float32(scale) if a.dtype.kind != "f" else a)
            hsv = xp.concatenate([(hsv[..., :1, :, :] + f) % 1.0, hsv[..., 1:, :, :]], axis=-3)
            rgb = _hsv_to_rgb(hsv)  # back to integers as torchvision's convert_image_dtype: x * (max + 1 - 1e-3)
            a = (rgb if a.dtype.kind == "f" else xp.floor(rgb * np.float32(scale + 1 - 1e-3))).astype(a.dtype)
    return a


def _jitter_pil(im, order, factors):
    from PIL import Image, ImageEnhance

    for k in order:
        f = factors[k]
        if f is None:
            continue
        if k == 0:
            im = ImageEnhance.Brightness(im).enhance(f)
        elif k == 1:
            im = ImageEnhance.Contrast(im).enhance(f)
        elif k == 2:
            im = ImageEnhance.Color(im).enhance(f)
        elif im.mode not in ("L", "1", "I", "F"):  # hue, as torchvision's adjust_hue on PIL images
            mode = im.mode
            h, s, v = im.convert("HSV").split()
            h = Image.fromarray((np.asarray(h, dtype=np.uint8) + np.uint8(int(f * 255) % 256)).astype(np.uint8), "L")
            im = Image.merge("HSV", (h, s, v)).convert(mode)
    return im


class ColorJitter:
    """Random brightness, contrast, saturation and hue, applied in a random order (torchvision's ColorJitter).

    brightness, contrast, saturation: a number v draws a factor in [max(0, 1 - v), 1 + v], a pair (lo, hi) in it;
    hue: a number v in [0, 0.5] draws a shift in [-v, v]. Tensors and arrays use torchvision's tensor formulas
    (blends clipped to [0, 1], or [0, 255] for uint8), PIL images Pillow's ImageEnhance. A batch draws for each
    sample.
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0, *, generator=None):
        self.brightness = _factor_range(brightness, "brightness")
        self.contrast = _factor_range(contrast, "contrast")
        self.saturation = _factor_range(saturation, "saturation")
        self.hue = _factor_range(hue, "hue", center=0.0, bound=(-0.5, 0.5))
        self.generator = generator

    def get_params(self, rng: np.random.Generator):
        """(order, factors): a permutation of the four adjustments and the factor drawn for each (None: skipped)."""
        order = rng.permutation(4).tolist()
        ranges = (self.brightness, self.contrast, self.saturation, self.hue)
        return order, [None if r is None else float(rng.uniform(r[0], r[1])) for r in ranges]

    def __call__(self, img):
        if _kind(img, "ColorJitter") != "pil" and _is_batch(img):
            return _per_sample(img, "ColorJitter", self)
        order, factors = self.get_params(_rng(self.generator))

        def on_array(a):
            _check_channels(a, (1, 3), "ColorJitter")
            return _jitter_array(a, order, factors)

        return _apply(img, "ColorJitter", on_array, lambda im: _jitter_pil(im, order, factors), min_ndim=3)

    def __repr__(self) -> str:
        return (
            f"ColorJitter(brightness={self.brightness}, contrast={self.contrast}, saturation={self.saturation}, "
            f"hue={self.hue})"
        )
