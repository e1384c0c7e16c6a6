"""toynn.linalg: the names of torch.linalg that toynn's ops cover (norms, cross, vecdot, matmul, diagonal).

Decompositions (svd, qr, eig, solve, inv, det) need LAPACK rules of their own and are not here yet.
"""

from __future__ import annotations

import numpy as np

from . import ops
from .errors import ShapeError
from .tensor import Tensor


def vector_norm(x, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The ord-norm of the elements over dim (all when None): sum(|x|**ord)**(1/ord), max |x| for inf."""
    x = ops._tensor(x)
    if dtype is not None:
        x = x.to(dtype)
    return ops._vector_norm(x, ord, ops._dim(dim, x.ndim, "vector_norm"), keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:
    """The ord-norm of the matrices in dims dim: 'fro', 1 / -1 (largest / smallest column sum of |A|),
    inf / -inf (row sums). The spectral (2) and nuclear norms need an SVD, which toynn does not have."""
    A = ops._tensor(A)
    if dtype is not None:
        A = A.to(dtype)
    if A.ndim < 2:
        raise ShapeError(f"matrix_norm: expects a tensor with at least 2 dims, got shape {tuple(A.shape)}")
    rows, cols = ops._dim(tuple(dim), A.ndim, "matrix_norm")
    if ord == "fro":
        return vector_norm(A, 2, (rows, cols), keepdim)
    if ord in (1, -1, np.inf, -np.inf):
        across, along = (rows, cols) if ord in (1, -1) else (cols, rows)  # sum down columns, or along rows
        sums = ops.sum(ops.abs(A), across, keepdim=True)
        out = (ops.amax if ord > 0 else ops.amin)(sums, along, keepdim=True)
        return out if keepdim else ops.squeeze(out, (rows, cols))
    raise NotImplementedError(f"matrix_norm: ord={ord!r} needs singular values (an SVD), which toynn does not have")


def norm(A, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """A vector norm (dim an int, or a 1-D input, or ord None over everything) or a matrix norm (dim a pair)."""
    A = ops._tensor(A)
    if isinstance(dim, int) or (dim is not None and len(dim) == 1):
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if dim is None and (ord is None or A.ndim == 1):
        return vector_norm(A, 2 if ord is None else ord, None, keepdim, dtype=dtype)
    if dim is None and A.ndim != 2:
        raise ShapeError(f"norm: with ord={ord!r} and no dim, the input must be 1-D or 2-D; got {tuple(A.shape)}")
    return matrix_norm(A, "fro" if ord is None else ord, (-2, -1) if dim is None else dim, keepdim, dtype=dtype)


def cross(input, other, *, dim: int = -1) -> Tensor:
    """The cross product of 3-vectors along dim (-1 by default, unlike torch.cross's first size-3 dim)."""
    return ops.cross(input, other, dim)


def vecdot(x, y, *, dim: int = -1) -> Tensor:
    """The dot product of x and y along dim, broadcasting the rest."""
    return ops.sum(ops.mul(x, y), dim)


def diagonal(A, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    return ops.diagonal(A, offset, dim1, dim2)


matmul = ops.matmul
