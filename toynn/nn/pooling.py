"""Pooling, unpooling and upsampling layers: each is __init__ plus a one-line forward that calls toynn.conv.

MaxPool / AvgPool (1-d and 2-d), AdaptiveAvgPool / AdaptiveMaxPool, MaxUnpool (Zeiler & Fergus's
unpooling with switches: the indices MaxPool returns with return_indices=True), Upsample and its
two fixed-mode aliases.
"""

from __future__ import annotations

from .. import conv as C
from ..tensor import Tensor
from .module import Module


class MaxPool2d(Module):
    """The maximum of each kernel_size window; stride defaults to kernel_size.

    Shape:
        input (N, C, H, W) -> output (N, C, Ho, Wo),
        Ho = floor or ceil((H + 2 padding - dilation (kernel - 1) - 1) / stride) + 1
    With return_indices=True, forward returns (output, indices): each maximum's flat position in its H*W plane.
    """

    _pool = staticmethod(C.max_pool2d)

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, input: Tensor):
        return self._pool(
            input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(MaxPool2d):
    """1-d max pooling. Shape: input (N, C, L) -> output (N, C, Lo)."""

    _pool = staticmethod(C.max_pool1d)


class AvgPool2d(Module):
    """The mean of each kernel_size window; stride defaults to kernel_size.

    Shape:
        input (N, C, H, W) -> output (N, C, Ho, Wo), Ho = floor or ceil((H + 2 padding - kernel) / stride) + 1
    count_include_pad counts the zero padding in the divisor; divisor_override replaces the divisor.
    """

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
    ):
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return C.avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(Module):
    """1-d average pooling. Shape: input (N, C, L) -> output (N, C, Lo)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode, self.count_include_pad = padding, ceil_mode, count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return C.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average over PyTorch's adaptive windows so that the output is output_size (None keeps that dim).

    Shape: input (N, C, H, W) -> output (N, C, *output_size)
    """

    _pool = staticmethod(C.adaptive_avg_pool2d)

    def __init__(self, output_size):
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return self._pool(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """Shape: input (N, C, L) -> output (N, C, output_size)."""

    _pool = staticmethod(C.adaptive_avg_pool1d)


class AdaptiveMaxPool2d(Module):
    """Maximum over PyTorch's adaptive windows so that the output is output_size; optionally with indices.

    Shape: input (N, C, H, W) -> output (N, C, *output_size)
    """

    _pool = staticmethod(C.adaptive_max_pool2d)

    def __init__(self, output_size, return_indices=False):
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input: Tensor):
        return self._pool(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(AdaptiveMaxPool2d):
    """Shape: input (N, C, L) -> output (N, C, output_size)."""

    _pool = staticmethod(C.adaptive_max_pool1d)


class MaxUnpool2d(Module):
    """Unpooling with switches: each value goes back to the position its max came from; zeros elsewhere.

    forward(input, indices, output_size=None) with indices from MaxPool2d(return_indices=True).
    Shape: input (N, C, H, W) -> output (N, C, Ho, Wo), Ho = (H - 1) stride - 2 padding + kernel, or output_size
    """

    _unpool = staticmethod(C.max_unpool2d)

    def __init__(self, kernel_size, stride=None, padding=0):
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        return self._unpool(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(MaxUnpool2d):
    """Shape: input (N, C, L) -> output (N, C, Lo)."""

    _unpool = staticmethod(C.max_unpool1d)


class Upsample(Module):
    """Resize by size or scale_factor with mode nearest, linear, bilinear, bicubic or area (F.interpolate).

    Shape: input (N, C, *spatial) -> output (N, C, *size) or (N, C, floor(spatial * scale_factor))
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None):
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return C.interpolate(
            input, self.size, self.scale_factor, self.mode, self.align_corners, self.recompute_scale_factor
        )

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample with mode='nearest'."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample with mode='bilinear' and align_corners=True, as PyTorch's class of this name."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
