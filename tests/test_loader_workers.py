"""DataLoader(num_workers > 0): the same batches in the same order as in the main process for a seed, random
transforms included; worker_init_fn, get_worker_info, persistent workers; a worker's exception raised here with
its traceback; no worker left alive after the epoch, an early break, an error or a timeout; the 'spawn' start.

The data sets are module-level classes, so that 'spawn' can pickle them.
"""

from __future__ import annotations

import multiprocessing
import os
import time

import numpy as np
import pytest

import toynn
from toynn.data import DataLoader, Dataset, TensorDataset, get_worker_info
from toynn.data import transforms as T

from .devices import host


def _tensors(n=37):
    x = np.random.default_rng(0).random((n, 1, 6, 6), dtype=np.float32)
    return TensorDataset(x, np.arange(n, dtype=np.int64))


class Augmented(Dataset):
    """Per-sample random transforms that draw from toynn's generator: a random crop and a flip of each image."""

    def __init__(self, n=23):
        self.x = np.random.default_rng(1).random((n, 3, 8, 8), dtype=np.float32)
        self.t = T.Compose([T.RandomCrop(6, padding=1), T.RandomHorizontalFlip(), T.ColorJitter(brightness=0.3)])

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.t(self.x[i]), i


class WhoMadeIt(Dataset):
    """Items that tell which worker made them, and what worker_init_fn left there."""

    def __init__(self, n=12):
        self.n, self.tag = n, 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        info = get_worker_info()
        return np.array([i, -1 if info is None else info.id, self.tag, -1 if info is None else info.num_workers])


def _tag_worker(worker_id):
    get_worker_info().dataset.tag = 100 + worker_id


class Failing(Dataset):
    def __init__(self, bad=9, how="raise"):
        self.bad, self.how = bad, how

    def __len__(self):
        return 20

    def __getitem__(self, i):
        if i == self.bad:
            if self.how == "exit":
                os._exit(3)
            if self.how == "sleep":
                time.sleep(1.0)
            else:
                raise ValueError(f"item {i} is broken on purpose")
        return np.float32(i)


def _batches(loader):
    """Each batch as a tuple of NumPy arrays (a one-field batch is one Tensor)."""
    return [tuple(host(f) for f in batch) if isinstance(batch, tuple) else (host(batch),) for batch in loader]


def _assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert len(x) == len(y)
        for u, v in zip(x, y):
            np.testing.assert_array_equal(u, v)


def _no_children():
    return multiprocessing.active_children() == []  # also reaps the workers that have exited


@pytest.mark.parametrize("shuffle", [False, True])
def test_workers_give_the_main_process_batches(shuffle):
    ds = _tensors()
    toynn.manual_seed(4)
    ref = _batches(DataLoader(ds, batch_size=5, shuffle=shuffle))
    for workers in (1, 2):
        toynn.manual_seed(4)
        got = _batches(DataLoader(ds, batch_size=5, shuffle=shuffle, num_workers=workers, pin_memory=True))
        _assert_same(got, ref)
    seeded = _batches(DataLoader(ds, batch_size=4, shuffle=shuffle, drop_last=True, generator=11))
    _assert_same(_batches(DataLoader(ds, 4, shuffle, num_workers=2, drop_last=True, generator=11)), seeded)
    assert len(seeded) == 9 and _no_children()


def test_random_transforms_in_workers_repeat_the_main_process():
    ds = Augmented()
    toynn.manual_seed(0)
    ref = _batches(DataLoader(ds, batch_size=4, shuffle=True))
    toynn.manual_seed(0)
    got = _batches(DataLoader(ds, batch_size=4, shuffle=True, num_workers=2, prefetch_factor=3))
    _assert_same(got, ref)
    toynn.manual_seed(1)
    other = _batches(DataLoader(ds, batch_size=4, shuffle=True))
    assert not np.array_equal(np.sort(other[0][1]), np.sort(ref[0][1])) or not np.array_equal(other[0][0], ref[0][0])
    crops = [b[0] for b in ref]  # two workers did not make the same random crops: every image differs
    assert crops[0].shape == (4, 3, 6, 6) and not np.array_equal(crops[0][0], crops[1][0])


def test_loader_transform_runs_in_the_workers_too():
    ds = _tensors(16)
    flip = T.RandomHorizontalFlip()
    toynn.manual_seed(2)
    ref = _batches(DataLoader(ds, batch_size=8, transform=flip))
    toynn.manual_seed(2)
    _assert_same(_batches(DataLoader(ds, batch_size=8, transform=flip, num_workers=2)), ref)


def test_worker_info_init_fn_round_robin_and_in_order():
    assert get_worker_info() is None
    ds = WhoMadeIt()
    (batches,) = [_batches(DataLoader(ds, batch_size=3, num_workers=2, worker_init_fn=_tag_worker))]
    rows = np.concatenate([b[0] for b in batches])
    assert rows[:, 0].tolist() == list(range(12))  # in order
    assert rows[:, 1].tolist() == [0] * 3 + [1] * 3 + [0] * 3 + [1] * 3  # batch k made by worker k % 2
    assert rows[:, 2].tolist() == [100] * 3 + [101] * 3 + [100] * 3 + [101] * 3  # worker_init_fn ran in each
    assert set(rows[:, 3].tolist()) == {2} and ds.tag == 0  # the main process's data set is untouched
    main = _batches(DataLoader(ds, batch_size=3))
    assert np.concatenate([b[0] for b in main])[:, 1].tolist() == [-1] * 12


def test_persistent_workers_live_across_epochs():
    ds = WhoMadeIt(8)
    loader = DataLoader(ds, batch_size=2, num_workers=2, persistent_workers=True, worker_init_fn=_tag_worker)
    first = _batches(loader)
    pids = loader._pool.pids()
    assert len(multiprocessing.active_children()) == 2
    for k, _ in enumerate(loader):  # an early break leaves the persistent workers to the next epoch
        if k == 1:
            break
    second = _batches(loader)
    assert loader._pool.pids() == pids
    _assert_same(second, first)
    del loader
    assert _no_children()


def test_worker_error_is_raised_here_with_its_traceback():
    loader = DataLoader(Failing(bad=9), batch_size=4, num_workers=2)
    seen = []
    with pytest.raises(ValueError) as info:
        for x in loader:
            seen.append(host(x).tolist())
    message = str(info.value)
    assert "Caught ValueError in DataLoader worker process 0." in message  # batch 2 (items 8..11): worker 0
    assert "item 9 is broken on purpose" in message and "in __getitem__" in message and "Traceback" in message
    assert seen == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert _no_children()


def test_early_break_and_an_error_in_the_loop_leave_no_worker():
    loader = DataLoader(_tensors(), batch_size=2, shuffle=True, num_workers=2)
    for k, _ in enumerate(loader):
        if k == 1:
            break
    assert _no_children()
    with pytest.raises(KeyError):
        for _ in loader:
            assert len(multiprocessing.active_children()) == 2
            raise KeyError("the training step failed")
    assert _no_children()


def test_timeout_and_a_dead_worker():
    loader = DataLoader(Failing(bad=0, how="sleep"), batch_size=2, num_workers=1, timeout=0.2)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.2 seconds"):
        next(iter(loader))
    assert time.monotonic() - start < 4 and _no_children()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid \d+: exit code 3\) exited unexpectedly"):
        list(DataLoader(Failing(bad=3, how="exit"), batch_size=2, num_workers=1))
    assert _no_children()


def test_spawn_start_method_and_what_it_needs():
    ds = WhoMadeIt(6)
    got = _batches(DataLoader(ds, batch_size=3, num_workers=1, multiprocessing_context="spawn"))
    np.testing.assert_array_equal(
        np.concatenate([b[0] for b in got])[:, :2], [[0, 0], [1, 0], [2, 0], [3, 0], [4, 0], [5, 0]]
    )
    with pytest.raises(RuntimeError, match="'spawn' start method .* do not pickle"):
        iter(DataLoader(ds, batch_size=3, num_workers=1, multiprocessing_context="spawn", collate_fn=lambda b: b))
    assert _no_children()


def test_worker_options_are_checked():
    ds = _tensors(4)
    with pytest.raises(ValueError, match="num_workers should be a non-negative integer, got -1"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="prefetch_factor option could only be specified in multiprocessing"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="timeout option should be non-negative"):
        DataLoader(ds, timeout=-1)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, shuffle=True, sampler=[0, 1])
    loader = DataLoader(ds, batch_sampler=[[3, 0], [1]], num_workers=1, pin_memory=True, pin_memory_device="cuda")
    assert len(loader) == 2 and [host(y).tolist() for _, y in loader] == [[3, 0], [1]]
    assert [host(y).tolist() for _, y in DataLoader(ds, batch_size=3, sampler=[2, 2, 1, 0])] == [[2, 2, 1], [0]]
    loose = DataLoader(_tensors(20), batch_size=3, num_workers=2, in_order=False)  # as they come: all of them
    assert sorted(int(v) for _, y in loose for v in host(y)) == list(range(20)) and _no_children()
