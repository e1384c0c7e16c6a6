"""Normalisation layers: batch norm (running statistics, train/eval) and AlexNet's local response norm."""

from __future__ import annotations

from ..creation import ones, tensor, zeros
from ..errors import ShapeError
from ..tensor import Tensor
from . import functional as F
from .module import Module, Parameter


class _BatchNorm(Module):
    _dims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ):
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(ones(num_features)) if affine else None
        self.bias = Parameter(zeros(num_features)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features))
            self.register_buffer("running_var", ones(num_features))
            self.register_buffer("num_batches_tracked", tensor(0))
        else:
            self.running_mean = self.running_var = None

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in self._dims:
            raise ShapeError(
                f"{type(self).__name__}: expected a {' or '.join(map(str, self._dims))}-D input; "
                f"got shape {input.shape}"
            )
        if input.shape[1] != self.num_features:
            raise ShapeError(
                f"{type(self).__name__}: input has {input.shape[1]} channels (shape {input.shape}) "
                f"but the layer was built for num_features={self.num_features}"
            )
        use_batch = self.training or self.running_mean is None
        momentum = self.momentum
        if self.training and self.running_mean is not None:
            self.num_batches_tracked.array += 1
            if momentum is None:  # a cumulative average over all batches so far, as in PyTorch
                momentum = 1.0 / int(self.num_batches_tracked.item())
        return F.batch_norm(
            input, self.running_mean, self.running_var, self.weight, self.bias, use_batch, momentum, self.eps
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L): each channel normalised by batch (train) or running (eval) statistics.

    Shape:
        input (N, C) or (N, C, L) -> output, the same
    """

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W): each channel normalised by batch (train) or running (eval) statistics.

    Shape:
        input (N, C, H, W) -> output (N, C, H, W)
    """

    _dims = (4,)


class LocalResponseNorm(Module):
    """x / (k + alpha/size * sum over `size` neighbouring channels of x^2)^beta (Krizhevsky et al. 2012).

    Shape:
        input (N, C, *) -> output, the same
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
