"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, and the lecture's separable
convolutions as layers of their own (DepthwiseSeparableConv2d, SpatiallySeparableConv2d).

Each is __init__ (weights in PyTorch's layout and default initialisation) plus a forward that calls
toynn.conv. A padding_mode other than zeros pads with F.pad first, then convolves without padding.
"""

from __future__ import annotations

import math

import numpy as np

from .. import conv as C
from ..backend import device_of, get_default_dtype, to_device
from ..conv.arithmetic import conv_transpose_out, ntuple
from ..errors import ShapeError
from ..tensor import Tensor
from . import init
from .module import Module, Parameter, Sequential

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What Conv and ConvTranspose share: argument checks, the weight and bias, PyTorch's initialisation."""

    _nd = 2
    _transposed = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        output_padding=0,
        device=None,
        dtype=None,
    ):
        name, nd = type(self).__name__, self._nd
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must both be divisible "
                f"by groups ({groups})"
            )
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {PADDING_MODES}; got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = ntuple(kernel_size, nd, "kernel_size", name)
        self.stride = ntuple(stride, nd, "stride", name)
        self.dilation = ntuple(dilation, nd, "dilation", name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid'; got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = ntuple(padding, nd, "padding", name)
        self.output_padding = ntuple(output_padding, nd, "output_padding", name)
        self.padding_mode = padding_mode
        dtype = np.dtype(dtype or get_default_dtype())
        if self._transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        self.bias = Parameter(np.empty(out_channels, dtype=dtype)) if bias else None
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        # PyTorch's default: kaiming_uniform with a=sqrt(5), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), for both
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D cross-correlation with out_channels filters of in_channels/groups x kernel_size, plus a bias.

    Shape:
        input (N, in_channels, H, W) -> output (N, out_channels, Ho, Wo),
        Ho = floor((H + 2 padding - dilation (kernel - 1) - 1) / stride) + 1 (toynn.conv.output_size)

    groups=in_channels (with out_channels a multiple of it) is a depthwise convolution.
    """

    _nd = 2
    _conv = staticmethod(C.conv2d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            0,
            device,
            dtype,
        )

    def _mode_padding(self) -> tuple[int, ...]:
        """F.pad's (left, right, top, bottom) for a non-zeros padding_mode, last dim first as F.pad wants."""
        if self.padding == "valid":
            return (0,) * (2 * self._nd)
        pads = []
        for i in reversed(range(self._nd)):
            if self.padding == "same":
                total = self.dilation[i] * (self.kernel_size[i] - 1)
                pads += [total // 2, total - total // 2]
            else:
                pads += [self.padding[i], self.padding[i]]
        return tuple(pads)

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode == "zeros":
            return self._conv(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        padded = C.pad_nd(input, self._mode_padding(), mode=self.padding_mode)
        return self._conv(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class Conv1d(Conv2d):
    """1-D cross-correlation. Shape: input (N, in_channels, L) -> output (N, out_channels, Lo)."""

    _nd = 1
    _conv = staticmethod(C.conv1d)


class ConvTranspose2d(_ConvNd):
    """Transposed ("fractionally strided") convolution: the adjoint of Conv2d's map from input to output.

    Shape:
        input (N, in_channels, H, W) -> output (N, out_channels, Ho, Wo),
        Ho = (H - 1) stride - 2 padding + dilation (kernel - 1) + output_padding + 1

    The weight is (in_channels, out_channels/groups, KH, KW), as in PyTorch. forward(input, output_size)
    picks the output_padding that gives output_size, as PyTorch does.
    """

    _nd = 2
    _transposed = True
    _conv = staticmethod(C.conv_transpose2d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ):
        name = type(self).__name__
        if padding_mode != "zeros":
            raise ValueError(f'{name}: only "zeros" padding_mode is supported; got {padding_mode!r}')
        if isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple; got {padding!r}")
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            output_padding,
            device,
            dtype,
        )

    def _output_padding(self, input: Tensor, output_size) -> tuple[int, ...]:
        """The output_padding that makes the output output_size (N and C may be included, as in PyTorch)."""
        if output_size is None:
            return self.output_padding
        name, nd = type(self).__name__, self._nd
        size = tuple(int(s) for s in output_size)
        if len(size) == nd + 2:
            size = size[2:]
        if len(size) != nd:
            raise ShapeError(f"{name}: output_size must have {nd} or {nd + 2} elements; got {tuple(output_size)}")
        pads = []
        for i, want in enumerate(size):
            args = (input.shape[-nd + i], self.kernel_size[i], self.stride[i], self.padding[i], self.dilation[i])
            smallest = conv_transpose_out(*args)
            largest = smallest + self.stride[i] - 1
            if not smallest <= want <= largest:
                raise ShapeError(
                    f"{name}: requested output_size {size} is not reachable from input {tuple(input.shape)}: "
                    f"dim {i} must lie in [{smallest}, {largest}] (output_padding 0 .. stride - 1)"
                )
            pads.append(want - smallest)
        return tuple(pads)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        out_pad = self._output_padding(input, output_size)
        return self._conv(input, self.weight, self.bias, self.stride, self.padding, out_pad, self.groups, self.dilation)


class ConvTranspose1d(ConvTranspose2d):
    """Transposed 1-D convolution. Shape: input (N, in_channels, L) -> output (N, out_channels, Lo)."""

    _nd = 1
    _conv = staticmethod(C.conv_transpose1d)


class DepthwiseSeparableConv2d(Sequential):
    """A k x k depthwise convolution per input channel, then a 1x1 pointwise convolution that mixes channels.

    The lecture's example: 256 filters of 5x5x3 over an 8x8 output cost 256*5*5*3*8*8 = 1,228,800
    multiplications as one Conv2d; as depthwise (5*5*3*8*8 = 4,800) then pointwise (256*3*8*8 = 49,152)
    they cost 53,952. The depthwise step has no bias (the pointwise bias absorbs it).

    Shape:
        input (N, in_channels, H, W) -> output (N, out_channels, Ho, Wo), Ho as for Conv2d with the same
        kernel_size, stride, padding and dilation

    depth_multiplier > 1 gives each input channel that many depthwise filters (MobileNet's multiplier).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        bias: bool = True,
        depth_multiplier: int = 1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ):
        mid = in_channels * depth_multiplier
        super().__init__()
        self.depthwise = Conv2d(
            in_channels, mid, kernel_size, stride, padding, dilation, in_channels, False, padding_mode, device, dtype
        )
        self.pointwise = Conv2d(mid, out_channels, 1, bias=bias, device=device, dtype=dtype)
        self.in_channels, self.out_channels = in_channels, out_channels


class SpatiallySeparableConv2d(Sequential):
    """A k x 1 convolution (down the columns) then a 1 x k convolution (along the rows).

    A rank-1 kernel factorises exactly this way: Sobel [[-1,0,1],[-2,0,2],[-1,0,1]] = [1,2,1]^T x [-1,0,1].
    from_kernel builds the layer from a 2-D kernel through toynn.conv.separate. The column step has
    mid_channels outputs (default out_channels) and no bias; the row step carries the bias.

    Shape:
        input (N, in_channels, H, W) -> output (N, out_channels, Ho, Wo), Ho as for Conv2d with a
        kernel_size x kernel_size kernel and the same stride, padding and dilation
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        bias: bool = True,
        mid_channels: int | None = None,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ):
        name = type(self).__name__
        kh, kw = ntuple(kernel_size, 2, "kernel_size", name)
        sh, sw = ntuple(stride, 2, "stride", name)
        dh, dw = ntuple(dilation, 2, "dilation", name)
        if isinstance(padding, str):
            if padding != "valid" and padding != "same":
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid'; got {padding!r}")
            col_pad = row_pad = padding
        else:
            ph, pw = ntuple(padding, 2, "padding", name)
            col_pad, row_pad = (ph, 0), (0, pw)
        mid = out_channels if mid_channels is None else mid_channels
        super().__init__()
        self.column = Conv2d(
            in_channels, mid, (kh, 1), (sh, 1), col_pad, (dh, 1), bias=False, padding_mode=padding_mode,
            device=device, dtype=dtype,
        )  # fmt: skip
        self.row = Conv2d(
            mid, out_channels, (1, kw), (1, sw), row_pad, (1, dw), bias=bias, padding_mode=padding_mode,
            device=device, dtype=dtype,
        )  # fmt: skip
        self.in_channels, self.out_channels = in_channels, out_channels

    @classmethod
    def from_kernel(cls, kernel, stride=1, padding=0, dilation=1, dtype=None) -> SpatiallySeparableConv2d:
        """A 1 -> 1 channel layer whose column and row filters are the best rank-1 factors of the 2-D kernel.

        Exact (up to rounding) for a rank-1 kernel such as Sobel; otherwise toynn.conv.separate's residual says
        what is lost.
        """
        parts = C.separate(kernel)
        kh, kw = len(parts.col), len(parts.row)
        layer = cls(1, 1, (kh, kw), stride, padding, dilation, bias=False, dtype=dtype)
        dtype = layer.column.weight.dtype
        device = device_of(layer.column.weight.array)  # host factors into weights wherever they live
        layer.column.weight.array[...] = to_device(np.asarray(parts.col, dtype=dtype).reshape(1, 1, kh, 1), device)
        layer.row.weight.array[...] = to_device(np.asarray(parts.row, dtype=dtype).reshape(1, 1, 1, kw), device)
        return layer
