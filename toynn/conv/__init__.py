"""Spatial ops of CNNs: convolution and its transpose, pooling and unpooling, interpolation, padding modes,
and the lecture's linear-algebra view (convolution matrix, separable kernels, output-size arithmetic)."""

from .arithmetic import output_size
from .convolution import (
    Conv2d,
    ConvTranspose2d,
    conv,
    conv1d,
    conv2d,
    conv_data_adjoint,
    conv_transpose1d,
    conv_transpose2d,
    conv_weight_adjoint,
)
from .matrix import Separable, conv_matrix, separate
from .pad import PadNd, pad_nd
from .pool import (
    AdaptiveMaxPool2d,
    AvgPool2d,
    MaxPool2d,
    MaxUnpool2d,
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
    max_unpool1d,
    max_unpool2d,
)
from .upsample import RepeatBlocks, Resample, interpolate

__all__ = [
    "AdaptiveMaxPool2d",
    "AvgPool2d",
    "Conv2d",
    "ConvTranspose2d",
    "MaxPool2d",
    "MaxUnpool2d",
    "PadNd",
    "RepeatBlocks",
    "Resample",
    "Separable",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "conv",
    "conv1d",
    "conv2d",
    "conv_data_adjoint",
    "conv_matrix",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_weight_adjoint",
    "interpolate",
    "max_pool1d",
    "max_pool2d",
    "max_unpool1d",
    "max_unpool2d",
    "output_size",
    "pad_nd",
    "separate",
]
