"""Seeing what a CNN learned: filters as images, feature maps, receptive fields, the data-set crops that
excite each filter most, and Zeiler & Fergus's deconvnet projections; everything as PNG grids."""

from .deconv import Deconv, deconvnet
from .images import feature_map_grid, filter_grid, image_grid, normalize, png_bytes, save_png
from .layers import capture, conv_layers, feature_maps, find_layer, leaf_layers
from .receptive import ReceptiveField, receptive_field, receptive_fields
from .topk import TopCrops, top_crops

__all__ = [
    "Deconv",
    "ReceptiveField",
    "TopCrops",
    "capture",
    "conv_layers",
    "deconvnet",
    "feature_map_grid",
    "feature_maps",
    "filter_grid",
    "find_layer",
    "image_grid",
    "leaf_layers",
    "normalize",
    "png_bytes",
    "receptive_field",
    "receptive_fields",
    "save_png",
    "top_crops",
]
