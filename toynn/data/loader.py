"""DataLoader: batches of a Dataset made by array indexing (or by collating its items), shuffled by toynn's seeded
NumPy generator, in the main process or in worker processes (workers.py)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from ..backend import to_device
from ..creation import default_generator
from ..tensor import Tensor
from .dataset import Dataset, _fetch
from .workers import PoolIterator, WorkerPool, seeded


class _Fetcher:
    """indices -> one batch, as the main process or a worker makes it: the data set's items (one __getitems__ or
    a loop), collated, then the loader's transform on the first field; under toynn's generator seeded for it."""

    def __init__(self, dataset, collate_fn, transform):
        self.dataset, self.collate_fn, self.transform = dataset, collate_fn, transform

    def __call__(self, indices: np.ndarray, base_seed: int, k: int):
        with seeded(base_seed, k):
            if self.collate_fn is not None:  # as PyTorch: a custom collate_fn sees the samples
                return self.collate_fn([self.dataset[int(i)] for i in indices])
            batch = _fetch(self.dataset, indices)
            if self.transform is not None:
                fields = list(batch) if isinstance(batch, tuple) else [batch]
                fields[0] = self.transform(fields[0].array if isinstance(fields[0], Tensor) else fields[0])
                batch = tuple(fields) if isinstance(batch, tuple) else fields[0]
            return batch


def _check_count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        what = "a positive integer" if minimum > 0 else "a non-negative integer"
        raise ValueError(f"DataLoader: {name} should be {what}, got {value!r}")
    return int(value)


class DataLoader:
    """Iterate over dataset in batches: yields tuples of Tensors (B, ...), B = batch_size (the last may be smaller).

    PyTorch's signature. Shuffling draws a new permutation each epoch from generator (a numpy Generator, or an int
    seed) or, when it is None, from toynn.default_generator(), so toynn.manual_seed(s) makes the order repeatable.
    sampler (an iterable of indices) or batch_sampler (an iterable of index lists) replace the order.

    Each epoch also draws a base seed; batch k is made with toynn's generator seeded from (base seed, k), in the
    main process and in the workers alike, so the random transforms give the same batches for any num_workers.

    num_workers > 0 makes the batches in that many processes (see workers.py: 'fork' on Linux, else 'spawn', or
    multiprocessing_context), prefetch_factor batches ahead per worker (default 2), in order (in_order=False: as
    they come); worker_init_fn(worker_id) runs first in each, get_worker_info() tells a worker who it is;
    persistent_workers keeps them between epochs; timeout (s, > 0) bounds the wait for one batch. A worker's
    exception is raised again here with its traceback. pin_memory and pin_memory_device are accepted and do
    nothing: toynn's host arrays are ordinary NumPy memory, and device= copies each batch to the device.

    transform (toynn's) is applied to the first field of each batch (the inputs, a NumPy array) before it becomes
    a Tensor on device.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int = 1,
        shuffle: bool = False,
        sampler: Iterable | None = None,
        batch_sampler: Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable | None = None,
        multiprocessing_context=None,
        generator: np.random.Generator | int | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
        transform: Callable | None = None,
        device: str | None = None,
    ):
        batch_size = _check_count(batch_size, "batch_size", 1)
        num_workers = _check_count(num_workers, "num_workers", 0)
        if isinstance(generator, numbers.Integral):
            generator = np.random.default_rng(int(generator))
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: generator should be a numpy.random.Generator, got {type(generator).__name__}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError(
                "DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                "and drop_last"
            )
        if shuffle and len(dataset) == 0:  # PyTorch's RandomSampler refuses it too
            raise ValueError(
                "DataLoader: num_samples should be a positive integer value, but got num_samples=0 "
                "(shuffle=True over an empty data set)"
            )
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "DataLoader: prefetch_factor option could only be specified in multiprocessing; let num_workers > 0 "
                "to enable multiprocessing, otherwise set prefetch_factor to None"
            )
        if num_workers == 0 and persistent_workers:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if prefetch_factor is not None:
            prefetch_factor = _check_count(prefetch_factor, "prefetch_factor", 1)
        if not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout!r}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, bool(shuffle), drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.generator, self.collate_fn, self.transform, self.device = generator, collate_fn, transform, device
        self.num_workers, self.prefetch_factor = num_workers, prefetch_factor if prefetch_factor is not None else 2
        self.persistent_workers, self.worker_init_fn, self.timeout = bool(persistent_workers), worker_init_fn, timeout
        self.multiprocessing_context, self.in_order = multiprocessing_context, bool(in_order)
        self.pin_memory, self.pin_memory_device = bool(pin_memory), pin_memory_device  # no-ops: see the docstring
        self._pool: WorkerPool | None = None

    def __len__(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _index_batches(self) -> list[np.ndarray]:
        """This epoch's batches of indices; draws the permutation when shuffling."""
        if self.batch_sampler is not None:
            return [np.asarray(list(b), dtype=np.int64) for b in self.batch_sampler]
        if self.sampler is not None:
            order = np.fromiter((int(i) for i in self.sampler), dtype=np.int64)
        elif self.shuffle:  # NOTE: drawn now, at iter(), so each epoch gets the generator's next permutation
            order = self._generator().permutation(len(self.dataset))
        else:
            order = np.arange(len(self.dataset))
        n = len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        return [order[start : start + self.batch_size] for start in range(0, stop, self.batch_size)]

    def _generator(self) -> np.random.Generator:
        return self.generator if self.generator is not None else default_generator()

    def __iter__(self) -> Iterator:
        batches = self._index_batches()
        base_seed = int(self._generator().integers(0, 2**62))  # as PyTorch's base seed: one draw per epoch
        fetch = _Fetcher(self.dataset, self.collate_fn, self.transform)
        if self.num_workers == 0:
            return (self._finish(fetch(indices, base_seed, k)) for k, indices in enumerate(batches))
        pool = self._pool
        if pool is None or not pool.alive:
            pool = WorkerPool(fetch, self.num_workers, base_seed, self.worker_init_fn, self.multiprocessing_context)
            if self.persistent_workers:
                self._pool = pool
        return PoolIterator(
            pool,
            batches,
            base_seed,
            self._finish,
            prefetch_factor=self.prefetch_factor,
            timeout=float(self.timeout),
            in_order=self.in_order,
            persistent=self.persistent_workers,
        )

    def _finish(self, batch):
        """A batch as the loop sees it: each field a Tensor on device (a custom collate_fn's result as it is)."""
        if self.collate_fn is not None:
            return batch
        single = not isinstance(batch, tuple)
        out = tuple(self._tensor(f) for f in ((batch,) if single else batch))
        return out[0] if single else out

    def _tensor(self, x):
        if isinstance(x, list):  # strings are not tensors
            return x
        if isinstance(x, Tensor):
            x = x.array
        x = np.asarray(x) if isinstance(x, np.generic) else x
        return Tensor(to_device(x, self.device) if self.device is not None else x)

    def __repr__(self) -> str:
        workers = f", num_workers={self.num_workers}" if self.num_workers else ""
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}{workers})"
        )
