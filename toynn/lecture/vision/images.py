"""Arrays as pictures: scaling to [0, 1], tiling into grids, and PNG output (Pillow, imported when saving).

An image here is a float array in [0, 1], grey (H, W) or colour (H, W, 3). NaN marks "no data" (the
part of a receptive field that lies outside the input); save_png paints it in a fixed colour.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from ...backend import to_device
from ...tensor import Tensor

NAN_COLOR = (0.55, 0.70, 0.95)  # outside the image: pale blue, distinct from any grey value


def as_numpy(x) -> np.ndarray:
    """A Tensor or array (NumPy or CuPy) as a NumPy array."""
    if isinstance(x, Tensor):
        x = x.array
    return np.asarray(to_device(x, "cpu")) if not isinstance(x, np.ndarray) else x


def normalize(a, vmin: float | None = None, vmax: float | None = None, symmetric: bool = False) -> np.ndarray:
    """a scaled linearly so that vmin -> 0 and vmax -> 1 (defaults: a's finite min and max), clipped; NaN stays.

    symmetric=True maps 0 to 0.5 and +-max|a| to 1 and 0 (signed data such as filters or deconv projections).
    """
    a = np.asarray(a, dtype=np.float64)
    finite = a[np.isfinite(a)]
    if symmetric:
        m = float(np.abs(finite).max()) if finite.size else 0.0
        vmin, vmax = -m, m
    if vmin is None:
        vmin = float(finite.min()) if finite.size else 0.0
    if vmax is None:
        vmax = float(finite.max()) if finite.size else 1.0
    if vmax <= vmin:  # a constant image: mid grey (or 0.5 of the symmetric scale)
        return np.where(np.isnan(a), np.nan, 0.5)
    return np.clip((a - vmin) / (vmax - vmin), 0.0, 1.0)


def image_grid(tiles, ncols: int | None = None, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Tiles (n, h, w) or (n, h, w, 3) laid out row by row, ncols per row (default: near square), pad pixels apart.

    Returns (rows*h + (rows+1) pad, ncols*w + (ncols+1) pad[, 3]); missing tiles of the last row are pad_value.
    """
    tiles = np.asarray(tiles, dtype=np.float64)
    if tiles.ndim not in (3, 4) or (tiles.ndim == 4 and tiles.shape[-1] != 3):
        raise ValueError(f"image_grid: tiles must be (n, h, w) or (n, h, w, 3); got shape {tiles.shape}")
    n, h, w = tiles.shape[:3]
    ncols = ncols or max(1, math.ceil(math.sqrt(n)))
    nrows = max(1, math.ceil(n / ncols))
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, *tiles.shape[3:]), pad_value)
    for i in range(n):
        r, c = divmod(i, ncols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        grid[top : top + h, left : left + w] = tiles[i]
    return grid


def filter_grid(weight, normalize_each: bool = True, pad: int = 1) -> np.ndarray:
    """Conv filters (O, C, KH, KW) as one image: colour tiles when C == 3, else grey tiles, one per filter
    when C == 1 and one row per filter with a column per input channel otherwise (deeper layers).

    Each filter is scaled on its own (normalize_each) or all on one scale, symmetrically: 0 is mid grey.
    Returns (H, W) or, for C == 3, (H, W, 3) floats in [0, 1].
    """
    w = as_numpy(weight).astype(np.float64)
    if w.ndim != 4:
        raise ValueError(f"filter_grid: weight must be (out_channels, in_channels, KH, KW); got shape {w.shape}")
    O, C = w.shape[:2]
    if normalize_each:
        scaled = np.stack([normalize(f, symmetric=True) for f in w])  # (O, C, KH, KW), each filter on its scale
    else:
        scaled = normalize(w, symmetric=True)
    if C == 3:
        return image_grid(scaled.transpose(0, 2, 3, 1), pad=pad)  # (O, KH, KW, 3): an RGB tile per filter
    if C == 1:
        return image_grid(scaled[:, 0], pad=pad)
    return image_grid(scaled.reshape(O * C, *w.shape[2:]), ncols=C, pad=pad)  # row o holds filter o's C slices


def feature_map_grid(maps, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """Feature maps (C, H, W) of one image as a grid of C grey tiles, each scaled to its own min..max."""
    maps = as_numpy(maps)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim != 3:
        raise ValueError(f"feature_map_grid: maps must be (C, H, W) of one image; got shape {maps.shape}")
    return image_grid(np.stack([normalize(m) for m in maps]), ncols=ncols, pad=pad)


def to_uint8(image, scale: int = 1, nan_color=NAN_COLOR) -> np.ndarray:
    """An image in [0, 1] as uint8 (H*scale, W*scale[, 3]), enlarged by pixel repetition; NaN -> nan_color."""
    a = np.asarray(image, dtype=np.float64)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] != 3):
        raise ValueError(f"to_uint8: image must be (H, W) or (H, W, 3); got shape {a.shape}")
    nan = np.isnan(a) if a.ndim == 2 else np.isnan(a).any(axis=-1)
    if nan.any():
        if a.ndim == 2:
            a = np.repeat(a[..., None], 3, axis=-1)
        a = np.where(nan[..., None], np.asarray(nan_color), a)
    out = np.round(np.clip(a, 0.0, 1.0) * 255).astype(np.uint8)
    if scale > 1:
        out = out.repeat(scale, axis=0).repeat(scale, axis=1)
    return out


def png_bytes(image, scale: int = 1) -> bytes:
    """The PNG file of an image in [0, 1] (see to_uint8), as bytes."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("writing PNG needs Pillow: pip install pillow (or toynn[all])") from None
    buf = io.BytesIO()
    Image.fromarray(to_uint8(image, scale)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def save_png(image, path, scale: int = 1) -> Path:
    """Write an image in [0, 1] to a PNG file, each pixel enlarged to scale x scale; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(image, scale))
    return path
