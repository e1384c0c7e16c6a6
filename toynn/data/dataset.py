"""Map-style data sets (PyTorch's protocol): Dataset, TensorDataset, Subset, ConcatDataset, random_split, and the
default collation of samples into batch arrays."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np

from ..backend import array_module, get_default_dtype
from ..creation import default_generator
from ..tensor import Tensor


class Dataset:
    """A map-style data set: dataset[i] -> one sample, len(dataset) -> N.

    NOTE: a data set backed by whole arrays also defines __getitems__(indices) -> tuple of batch arrays (N, ...);
    DataLoader then makes each batch with one fancy index instead of a Python loop over samples.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


def default_collate(samples: list):
    """List of N samples -> batch: tuples field by field, Tensors/arrays stacked (N, ...), ints int64, floats f32."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError(f"default_collate: samples have different lengths, e.g. {len(first)} and more")
        return tuple(default_collate([s[k] for s in samples]) for k in range(len(first)))
    if isinstance(first, Tensor):
        arrays = [s.array for s in samples]
        return array_module(*arrays).stack(arrays)
    if isinstance(first, (bool, np.bool_)):
        return np.array(samples, dtype=np.bool_)
    if isinstance(first, (int, np.integer)):
        return np.array(samples, dtype=np.int64)
    if isinstance(first, float):
        return np.array(samples, dtype=get_default_dtype())
    if isinstance(first, (str, bytes)):
        return list(samples)  # as PyTorch: strings stay a list
    if isinstance(first, (np.ndarray, np.generic)) or hasattr(first, "__array__"):
        return np.stack([np.asarray(s) for s in samples])
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}; pass collate_fn=")


def _fetch(dataset, indices: np.ndarray):
    """dataset[indices] as a batch: one __getitems__ call when the data set has it, else a loop and collation."""
    getitems = getattr(dataset, "__getitems__", None)
    if getitems is not None:
        batch = getitems(indices)
        return default_collate(batch) if isinstance(batch, list) else batch  # PyTorch-style: a list of samples
    return default_collate([dataset[int(i)] for i in indices])


def _as_tensor(x) -> Tensor:
    return Tensor(np.asarray(x) if isinstance(x, np.generic) else x)  # NOTE: keeps a float64 scalar float64


class TensorDataset(Dataset):
    """Samples are the i-th rows of tensors (or arrays) that share their first dimension N."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        sizes = [t.shape[0] if t.array.ndim else None for t in self.tensors]
        if any(s != sizes[0] for s in sizes) or sizes[0] is None:
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions {sizes}")

    def __getitem__(self, index):
        return tuple(_as_tensor(t.array[index]) for t in self.tensors)

    def __getitems__(self, indices) -> tuple:
        """indices (B,) -> tuple of batch arrays (B, ...), one fancy index per tensor."""
        return tuple(t.array[indices] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of dataset at the given indices: subset[i] = dataset[indices[i]]."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset, self.indices = dataset, indices
        self._index = np.asarray(indices, dtype=np.int64).reshape(-1)

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices) -> tuple:
        """indices (B,) -> the batch dataset[self.indices[indices]]."""
        return _fetch(self.dataset, self._index[indices])

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Data sets one after the other: samples 0..len(d0)-1 from d0, then d1, ..."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise IndexError(f"ConcatDataset: index {idx} out of range for length {len(self)}")
            idx += len(self)
        k = bisect.bisect_right(self.cumulative_sizes, idx)
        return self.datasets[k][idx - (self.cumulative_sizes[k - 1] if k else 0)]

    def __getitems__(self, indices) -> tuple:
        """indices (B,) -> one batch; each part data set is fetched once, then the rows are put back in order."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        idx = np.where(idx < 0, idx + len(self), idx)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"ConcatDataset: indices out of range for length {len(self)}")
        if not idx.size:
            return _fetch(self.datasets[0], idx)
        which = np.searchsorted(self.cumulative_sizes, idx, side="right")
        parts, order, single = [], [], False
        for k in np.unique(which):
            sel = np.flatnonzero(which == k)
            start = self.cumulative_sizes[k - 1] if k else 0
            part = _fetch(self.datasets[k], idx[sel] - start)
            single = not isinstance(part, tuple)
            parts.append((part,) if single else part)
            order.append(sel)
        inverse = np.argsort(np.concatenate(order), kind="stable")
        fields = []
        for f in range(len(parts[0])):
            arrays = [p[f] for p in parts]
            fields.append(array_module(*arrays).concatenate(arrays)[inverse])
        return fields[0] if single else tuple(fields)


def random_split(dataset: Dataset, lengths: Sequence[int | float], generator=None) -> list[Subset]:
    """Split dataset into non-overlapping random Subsets of the given lengths (or fractions summing to 1)."""
    n = len(dataset)
    lengths = list(lengths)
    if any(v < 0 for v in lengths):
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1 and not all(isinstance(v, int) for v in lengths):
        sizes = [math.floor(n * frac) for frac in lengths]
        for i in range(n - sum(sizes)):  # as PyTorch: the remainder goes round-robin to the first splits
            sizes[i % len(sizes)] += 1
    else:
        if not all(isinstance(v, (int, np.integer)) for v in lengths):
            raise ValueError(f"random_split: lengths must be ints or fractions that sum to 1, got {lengths}")
        sizes = [int(v) for v in lengths]
    if sum(sizes) != n:
        raise ValueError(f"random_split: lengths {sizes} sum to {sum(sizes)}, but the dataset has {n} samples")
    perm = (generator if generator is not None else default_generator()).permutation(n)
    offsets = np.cumsum(sizes).tolist()
    return [Subset(dataset, perm[end - size : end].tolist()) for size, end in zip(sizes, offsets)]
