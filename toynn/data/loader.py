"""DataLoader: batches of a Dataset made by array indexing, shuffled by toynn's seeded NumPy generator."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from ..backend import to_device
from ..creation import default_generator
from ..tensor import Tensor
from .dataset import Dataset, _fetch


class DataLoader:
    """Iterate over dataset in batches: yields tuples of Tensors (B, ...), B = batch_size (the last may be smaller).

    Shuffling draws a new permutation each epoch from generator (a numpy Generator, or an int seed) or, when it is
    None, from toynn.default_generator(), so toynn.manual_seed(s) makes the order reproducible. transform is applied
    to the first field of each batch (the inputs, a NumPy array) before it becomes a Tensor on device.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        *,
        drop_last: bool = False,
        generator: np.random.Generator | int | None = None,
        collate_fn: Callable | None = None,
        transform: Callable | None = None,
        device: str | None = None,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size should be a positive integer, got {batch_size!r}")
        if isinstance(generator, (int, np.integer)):
            generator = np.random.default_rng(int(generator))
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: generator should be a numpy.random.Generator, got {type(generator).__name__}")
        if shuffle and len(dataset) == 0:  # PyTorch's RandomSampler refuses it too
            raise ValueError(
                "DataLoader: num_samples should be a positive integer value, but got num_samples=0 "
                "(shuffle=True over an empty data set)"
            )
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, int(batch_size), bool(shuffle), drop_last
        self.generator, self.collate_fn, self.transform, self.device = generator, collate_fn, transform, device

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator:
        n = len(self.dataset)
        if self.shuffle:  # NOTE: drawn now, at iter(), so each epoch gets the generator's next permutation
            order = (self.generator if self.generator is not None else default_generator()).permutation(n)
        else:
            order = np.arange(n)
        stop = n - n % self.batch_size if self.drop_last else n
        return (self._batch(order[start : start + self.batch_size]) for start in range(0, stop, self.batch_size))

    def _batch(self, indices: np.ndarray):
        if self.collate_fn is not None:  # as PyTorch: a custom collate_fn sees the samples and its result is yielded
            return self.collate_fn([self.dataset[int(i)] for i in indices])
        batch = _fetch(self.dataset, indices)
        single = not isinstance(batch, tuple)
        fields = [batch] if single else list(batch)
        if self.transform is not None:
            fields[0] = self.transform(fields[0].array if isinstance(fields[0], Tensor) else fields[0])
        out = tuple(self._tensor(f) for f in fields)
        return out[0] if single else out

    def _tensor(self, x):
        if isinstance(x, list):  # strings are not tensors
            return x
        if isinstance(x, Tensor):
            x = x.array
        x = np.asarray(x) if isinstance(x, np.generic) else x
        return Tensor(to_device(x, self.device) if self.device is not None else x)

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last})"
        )
