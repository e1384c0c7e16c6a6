"""Transforms of whole batches of NumPy arrays (N, C, H, W) or (N, features), vectorised over the batch; the random
ones draw from a seeded numpy Generator (toynn.default_generator() unless one is given)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..creation import default_generator
from ..errors import ShapeError


def _rng(generator) -> np.random.Generator:
    return generator if generator is not None else default_generator()


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
    """Apply a user function to the batch: x -> fn(x)."""

    def __init__(self, fn: Callable):
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)


class ToFloat:
    """Integer arrays -> float32 scaled by the dtype's max (uint8 0..255 -> [0, 1]); float arrays -> float32."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind in "ui":
            return np.divide(x, np.float32(np.iinfo(x.dtype).max), dtype=np.float32)
        return x.astype(np.float32, copy=False)

    def __repr__(self) -> str:
        return "ToFloat()"


class Normalize:
    """(x - mean) / std per channel (axis 1). x (N, C, ...) or (N, features); mean, std scalars or (C,)."""

    def __init__(self, mean, std):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        if self.mean.ndim > 1 or self.std.ndim > 1:
            raise ShapeError(
                f"Normalize: mean and std should be scalars or 1-D, got shapes {self.mean.shape}, {self.std.shape}"
            )
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std evaluated to zero ({self.std.tolist()}), leading to division by zero")

    def _per_channel(self, v: np.ndarray, x: np.ndarray, name: str) -> np.ndarray:
        if v.ndim == 0 or v.size == 1:
            return v.reshape(())
        if x.ndim < 2 or x.shape[1] != v.size:
            raise ShapeError(
                f"Normalize: {name} has {v.size} values but x of shape {x.shape} has "
                f"{x.shape[1] if x.ndim > 1 else 'no'} channels on axis 1"
            )
        return v.reshape((1, -1) + (1,) * (x.ndim - 2))  # (C,) -> (1, C, 1, 1)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        mean = self._per_channel(self.mean, x, "mean").astype(dtype)
        std = self._per_channel(self.std, x, "std").astype(dtype)
        return ((x - mean) / std).astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Flatten:
    """Flatten dims start_dim..end_dim: (N, C, H, W) -> (N, C*H*W) with the defaults."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        self.start_dim, self.end_dim = start_dim, end_dim

    def __call__(self, x: np.ndarray) -> np.ndarray:
        start, end = self.start_dim % x.ndim, self.end_dim % x.ndim
        return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1 :])  # (..., a, b, ...) -> (..., a*b, ...)

    def __repr__(self) -> str:
        return f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim})"


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    if len(v) == 1:
        return int(v[0]), int(v[0])
    if len(v) == 2:
        return int(v[0]), int(v[1])
    raise ValueError(f"{name} should be an int or a pair (h, w), got {v!r}")


class RandomCrop:
    """A random size crop per sample, after optional padding. x (N, ..., H, W) -> (N, ..., h, w).

    padding: int (all sides), (pad_left_right, pad_top_bottom) or (left, top, right, bottom), as torchvision;
    padding_mode: 'constant' (with fill), 'edge', 'reflect' or 'symmetric'.
    """

    def __init__(self, size, padding=None, fill=0, padding_mode: str = "constant", *, generator=None):
        self.size = _pair(size, "RandomCrop: size")
        if padding is None:
            padding = 0
        if isinstance(padding, (int, np.integer)):
            padding = (padding,) * 4
        elif len(padding) == 2:
            padding = (padding[0], padding[1], padding[0], padding[1])
        elif len(padding) != 4:
            raise ValueError(f"RandomCrop: padding should be an int or a sequence of 2 or 4 ints, got {padding!r}")
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(
                f"RandomCrop: padding_mode should be constant, edge, reflect or symmetric, got {padding_mode!r}"
            )
        self.padding = tuple(int(p) for p in padding)  # (left, top, right, bottom)
        self.fill, self.padding_mode, self.generator = fill, padding_mode, generator

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 3:
            raise ShapeError(f"RandomCrop: expected a batch of images (N, ..., H, W), got shape {x.shape}")
        left, top, right, bottom = self.padding
        if any(self.padding):
            pad = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
            kwargs = {"constant_values": self.fill} if self.padding_mode == "constant" else {}
            x = np.pad(x, pad, mode=self.padding_mode, **kwargs)
        N, Hp, Wp = x.shape[0], x.shape[-2], x.shape[-1]
        h, w = self.size
        if h > Hp or w > Wp:
            raise ShapeError(f"RandomCrop: crop size {(h, w)} is larger than the padded image size {(Hp, Wp)}")
        rng = _rng(self.generator)
        i = rng.integers(0, Hp - h + 1, size=N)  # top offsets (N,)
        j = rng.integers(0, Wp - w + 1, size=N)  # left offsets (N,)
        x4 = x.reshape(N, -1, Hp, Wp)  # (N, ..., Hp, Wp) -> (N, C, Hp, Wp)
        n = np.arange(N)[:, None, None, None]  # (N, 1, 1, 1)
        c = np.arange(x4.shape[1])[None, :, None, None]  # (1, C, 1, 1)
        rows = (i[:, None] + np.arange(h))[:, None, :, None]  # (N, 1, h, 1)
        cols = (j[:, None] + np.arange(w))[:, None, None, :]  # (N, 1, 1, w)
        out = x4[n, c, rows, cols]  # (N, C, h, w): one gather, no loop over samples
        return out.reshape(x.shape[:-2] + (h, w))

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding}, padding_mode={self.padding_mode!r})"


class RandomHorizontalFlip:
    """Mirror each sample left-right (last axis) with probability p. x (N, ..., W) -> same shape."""

    def __init__(self, p: float = 0.5, *, generator=None):
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p should be in [0, 1], got {p}")
        self.p, self.generator = p, generator

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 3:
            raise ShapeError(f"RandomHorizontalFlip: expected a batch of images (N, ..., H, W), got shape {x.shape}")
        flip = _rng(self.generator).random(x.shape[0]) < self.p  # (N,) which samples to mirror
        out = x.copy()
        out[flip] = x[flip][..., ::-1]
        return out

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"
