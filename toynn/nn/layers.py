"""Layers with parameters or shape logic: Identity, Linear, LazyLinear, Embedding, Flatten, Unflatten, the
dropouts, pixel shuffles and distances.

Each is __init__ plus a one-line forward that calls F.
"""

from __future__ import annotations

import math

import numpy as np

from .. import ops
from ..backend import get_default_dtype
from ..errors import ShapeError
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter


class Identity(Module):
    """y = x; any constructor arguments are ignored. Shape: any -> the same."""

    def __init__(self, *args, **kwargs):
        pass

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """y = x @ weight.T + bias, with weight (out_features, in_features) and bias (out_features,).

    Shape:
        input (..., in_features) -> output (..., out_features)

    Both are drawn from U(-1/sqrt(in_features), 1/sqrt(in_features)), PyTorch's default.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        if in_features < 0 or out_features < 0:
            raise ValueError(f"Linear: features must be non-negative; got in={in_features}, out={out_features}")
        self.in_features, self.out_features = in_features, out_features
        dtype = np.dtype(dtype or get_default_dtype())
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        self.bias = Parameter(np.empty(out_features, dtype=dtype)) if bias else None
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        # kaiming_uniform with a=sqrt(5) gives bound = sqrt(6 / ((1 + 5) fan_in)) = 1/sqrt(fan_in)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Merge dims start_dim..end_dim into one.

    Shape:
        input (N, *dims) -> output (N, prod(dims)) with the defaults start_dim=1, end_dim=-1
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input: Tensor) -> Tensor:
        return ops.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim into unflattened_size (the inverse of Flatten).

    Shape:
        input (*before, prod(unflattened_size), *after) -> output (*before, *unflattened_size, *after)
    """

    def __init__(self, dim: int, unflattened_size):
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        d = self.dim % input.ndim
        size = self.unflattened_size
        known = math.prod(s for s in size if s != -1)
        if (-1 not in size and known != input.shape[d]) or (-1 in size and input.shape[d] % max(known, 1)):
            raise ShapeError(
                f"Unflatten: dim {self.dim} of input {tuple(input.shape)} has size {input.shape[d]}, which cannot be "
                f"split into {size}"
            )
        return ops.reshape(input, *input.shape[:d], *size, *input.shape[d + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout(Module):
    """In training, zero each element with probability p and scale the rest by 1/(1-p); identity in eval().

    Shape:
        input (*) -> output (*), the same
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Module):
    """In training, zero whole channels with probability p and scale the rest by 1/(1-p); identity in eval().

    Shape:
        input (N, C, H, W) or (C, H, W) -> output, the same
    """

    def __init__(self, p: float = 0.5, inplace: bool = False):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class LazyLinear(Linear):
    """A Linear whose in_features is read off the first input; it then becomes a plain Linear.

    The parameters are the same objects before and after (their arrays are filled in place), so an optimizer built
    before the first forward keeps working, as with PyTorch's UninitializedParameter.
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        self.in_features, self.out_features = 0, out_features
        self._dtype = np.dtype(dtype or get_default_dtype())
        self.weight = Parameter(np.empty(0, dtype=self._dtype))
        self.bias = Parameter(np.empty(0, dtype=self._dtype)) if bias else None
        if device is not None:
            self.to(device)

    def has_uninitialized_params(self) -> bool:
        return self.in_features == 0 and self.weight.array.size == 0

    def initialize_parameters(self, in_features: int) -> None:
        """Give weight (out, in_features) and bias (out,) their shapes and PyTorch's initial values."""
        device = self.weight.device
        self.in_features = in_features
        self.weight.array = np.empty((self.out_features, in_features), dtype=self.weight.dtype)
        if self.bias is not None:
            self.bias.array = np.empty(self.out_features, dtype=self.bias.dtype)
        self.reset_parameters()
        self.to(device)
        del self._dtype
        self.__class__ = self.cls_to_become

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params():
            super().reset_parameters()

    def forward(self, input: Tensor) -> Tensor:
        if self.has_uninitialized_params():
            if input.ndim == 0:
                raise ShapeError(f"LazyLinear: input must have a feature dimension; got shape {tuple(input.shape)}")
            self.initialize_parameters(input.shape[-1])
        return F.linear(input, self.weight, self.bias)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Loading a state_dict materialises the parameters with its shapes first."""
        weight = state_dict.get("weight")
        if self.has_uninitialized_params() and weight is not None and len(weight.shape) == 2:
            self.initialize_parameters(int(weight.shape[1]))
        return Module.load_state_dict(self, state_dict, strict, assign)  # NOTE: self may be a Linear by now


class Embedding(Module):
    """A lookup table: integer indices pick rows of weight (num_embeddings, embedding_dim), drawn from N(0, 1);
    the row padding_idx starts at zero and gets no gradient.

    Shape:
        input (*) integers -> output (*, embedding_dim)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Tensor | None = None,
        _freeze: bool = False,
        device=None,
        dtype=None,
    ):
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx must be within num_embeddings ({num_embeddings}); got {padding_idx}"
                )
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse = (
            max_norm,
            norm_type,
            scale_grad_by_freq,
            sparse,
        )
        if _weight is None:
            self.weight = Parameter(np.empty((num_embeddings, embedding_dim), np.dtype(dtype or get_default_dtype())))
            self.reset_parameters()
        else:
            if tuple(_weight.shape) != (num_embeddings, embedding_dim):
                raise ShapeError(
                    f"Embedding: _weight must have shape ({num_embeddings}, {embedding_dim}); "
                    f"got {tuple(_weight.shape)}"
                )
            self.weight = Parameter(_weight.array if isinstance(_weight, Tensor) else np.asarray(_weight))
        self.weight.requires_grad_(not _freeze)
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(
            input, self.weight, self.padding_idx, self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse
        )

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Tensor,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding whose weight is (a copy-free view of) the given 2-D tensor; frozen unless freeze=False."""
        if len(embeddings.shape) != 2:
            raise ShapeError(f"Embedding.from_pretrained: embeddings must be 2-D; got shape {tuple(embeddings.shape)}")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, embeddings, freeze)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        return s


class _FeatureDropout(Dropout2d):
    _fn = None

    def forward(self, input: Tensor) -> Tensor:
        return type(self)._fn(input, self.p, self.training, self.inplace)


class Dropout1d(_FeatureDropout):
    """In training, zero whole channels with probability p and scale the rest by 1/(1-p); identity in eval().

    Shape:
        input (N, C, L) or (C, L) -> output, the same
    """

    _fn = staticmethod(F.dropout1d)


class Dropout3d(_FeatureDropout):
    """In training, zero whole channels with probability p and scale the rest by 1/(1-p); identity in eval().

    Shape:
        input (N, C, D, H, W) or (C, D, H, W) -> output, the same
    """

    _fn = staticmethod(F.dropout3d)


class AlphaDropout(_FeatureDropout):
    """Dropout that keeps SELU's mean and variance; identity in eval(). Shape: (*) -> (*)."""

    _fn = staticmethod(F.alpha_dropout)


class PixelShuffle(Module):
    """(*, C r^2, H, W) -> (*, C, H r, W r)."""

    def __init__(self, upscale_factor: int):
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H r, W r) -> (*, C r^2, H, W)."""

    def __init__(self, downscale_factor: int):
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class CosineSimilarity(Module):
    """Cosine of the angle between x1 and x2 along dim. Shape: (*, D, *) twice -> (*, *)."""

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p along the last dim. Shape: (N, D) twice -> (N,) (or (N, 1) with keepdim)."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
