"""The images that excite each filter most: for every channel of a layer, the k data-set images whose
strongest activation in that channel is highest, cropped to the receptive field of the unit that fired
(Zeiler & Fergus 2014, Fig. 2: "top 9 activations"; one crop per image, as there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...nn import Module
from .images import as_numpy, image_grid, normalize
from .layers import batch, capture, find_layer
from .receptive import ReceptiveField, receptive_field


@dataclass
class TopCrops:
    """What top_crops found, per channel c and rank r (0 = strongest), C channels, k ranks.

    values (C, k) activations, descending (-inf where the data set has fewer than k images);
    indices (C, k) data-set indices; positions (C, k, 2) the unit (row, column) in the layer's output;
    boxes (C, k, 4) its input box (top, left, bottom, right), exclusive ends, not clipped;
    crops (C, k, C_in, size_h, size_w) the input inside the box, NaN where the box leaves the image.
    """

    layer: str
    field: ReceptiveField
    channels: list[int]
    values: np.ndarray
    indices: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    crops: np.ndarray

    def grid(
        self, vmin: float | None = None, vmax: float | None = None, pad: int = 1, pad_value: float = 0.5
    ) -> np.ndarray:
        """One row per channel, its k crops left to right by rank; grey for one input channel, RGB for 3
        (others: their mean). Values map vmin..vmax to 0..1 (default: the crops' range); NaN is kept.
        The gaps are mid grey, so that they stand out from black and white crops."""
        crops = self.crops
        if crops.shape[2] == 3:
            tiles = crops.transpose(0, 1, 3, 4, 2)  # (C, k, h, w, 3)
        else:
            tiles = crops[:, :, 0] if crops.shape[2] == 1 else crops.mean(axis=2)  # (C, k, h, w)
        tiles = normalize(tiles, vmin, vmax)
        C, k = crops.shape[:2]
        return image_grid(tiles.reshape(C * k, *tiles.shape[2:]), ncols=k, pad=pad, pad_value=pad_value)


def _sample_source(dataset):
    """(length, get(start, stop) -> image array) for a Dataset, a TensorDataset, an (x, y) pair or an array."""
    if isinstance(dataset, (tuple, list)):
        dataset = dataset[0]
    if hasattr(dataset, "__getitems__"):

        def get(a, b):
            return np.asarray(as_numpy(dataset.__getitems__(np.arange(a, b))[0]))

        return len(dataset), get
    x = as_numpy(dataset)
    return len(x), lambda a, b: x[a:b]


def top_crops(
    model: Module, layer, dataset, k: int = 9, channels=None, batch_size: int = 256, image_shape=None
) -> TopCrops:
    """For each channel of `layer` (default: all), the k images of dataset with the highest activation
    anywhere in that channel, and the receptive-field crop around the unit that fired.

    dataset: a Dataset (its images), an (images, labels) pair, or images (N, C, H, W). image_shape (C, H, W)
    reshapes flat images (N, C*H*W) for cropping. The model runs in eval mode without a graph.
    """
    if k < 1:
        raise ValueError(f"top_crops: k must be positive; got {k}")
    name, target = find_layer(model, layer)
    field = receptive_field(model, layer)
    n, get = _sample_source(dataset)
    if n == 0:
        raise ValueError("top_crops: the data set is empty")
    best_v = best_i = best_p = None
    for a in range(0, n, batch_size):
        xb = get(a, min(a + batch_size, n))
        acts = as_numpy(capture(model, batch(xb, model), layer))  # (B, C, Ho, Wo)
        if acts.ndim != 4:
            raise ValueError(
                f"top_crops: layer {name!r} ({type(target).__name__}) gives {acts.shape[1:]} per image; "
                "a conv or pool layer (C, H, W) is needed"
            )
        if channels is None:
            channels = list(range(acts.shape[1]))
        B, _, Ho, Wo = acts.shape
        flat = acts[:, channels].reshape(B, len(channels), Ho * Wo)  # (B, C', Ho*Wo)
        v, p = flat.max(axis=2).T, flat.argmax(axis=2).T  # (C', B) each image's strongest unit per channel
        idx = np.broadcast_to(np.arange(a, a + B), v.shape)
        if best_v is not None:
            v, p, idx = (np.concatenate(pair, axis=1) for pair in ((best_v, v), (best_p, p), (best_i, idx)))
        order = np.argsort(-v, axis=1, kind="stable")[:, :k]  # (C', <=k) ties keep the earlier image
        best_v, best_p, best_i = (np.take_along_axis(t, order, axis=1) for t in (v, p, idx))
        out_w = Wo
    images_shape = get(0, 1).shape[1:]
    if len(images_shape) != 3:
        if image_shape is None:
            raise ValueError(f"top_crops: images of shape {images_shape} need image_shape=(C, H, W) for cropping")
        images_shape = tuple(image_shape)
    C_in, H, W = images_shape
    C, kk = best_v.shape  # kk < k when the data set has fewer than k images
    values = np.full((C, k), -np.inf)
    indices = np.full((C, k), -1, dtype=np.int64)
    positions = np.zeros((C, k, 2), dtype=np.int64)
    boxes = np.zeros((C, k, 4), dtype=np.int64)
    crops = np.full((C, k, C_in, *field.size), np.nan)
    for c in range(C):
        for r in range(kk):
            i, j = divmod(int(best_p[c, r]), out_w)
            img = get(int(best_i[c, r]), int(best_i[c, r]) + 1).reshape(C_in, H, W)
            box = field.box(i, j)
            top, left, bottom, right = field.box(i, j, (H, W))
            values[c, r], indices[c, r], positions[c, r], boxes[c, r] = best_v[c, r], best_i[c, r], (i, j), box
            # the clipped part of the box lands at its offset inside the full-size crop; the rest stays NaN
            crops[c, r, :, top - box[0] : bottom - box[0], left - box[1] : right - box[1]] = img[
                :, top:bottom, left:right
            ]
    return TopCrops(name, field, list(channels), values, indices, positions, boxes, crops)
