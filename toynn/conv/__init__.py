"""Spatial ops of CNNs: convolution and its transpose, pooling and unpooling, interpolation, padding modes,
the lecture's linear-algebra view (convolution matrix, separable kernels, output-size arithmetic), and the same
convolution and pooling as textbook loops (toynn.conv.reference).

The public names are functions; the autograd Functions behind them (Conv2d, MaxPool2d, ...) stay in their modules
(toynn.conv.convolution.Conv2d), so that toynn.nn.Conv2d and friends are the only layers of those names.
"""

from . import reference
from .arithmetic import output_size
from .convolution import (
    conv,
    conv1d,
    conv2d,
    conv_data_adjoint,
    conv_transpose1d,
    conv_transpose2d,
    conv_weight_adjoint,
)
from .matrix import Separable, conv_matrix, separate
from .pad import pad_nd
from .pool import (
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
from .upsample import interpolate

__all__ = [
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
    "reference",
    "separate",
]
