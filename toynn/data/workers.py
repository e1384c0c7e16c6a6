"""DataLoader's worker processes: a pool that makes batches in other processes and gives them back in order.

The main process sends each worker the index lists of its batches (round robin, prefetch_factor batches per worker
ahead); each worker makes the batch (the data set's items, collation, the loader's transform) and puts it on one
result queue; the main process puts them back in order. A worker's exception travels back as its traceback text
and is raised again in the main process. The pool shuts down (workers told to stop, then joined, then terminated
if they do not stop) when the epoch ends, when its iterator is dropped (an early break), on an error, or when the
program exits; a worker whose parent has gone exits by itself.

Start method: 'fork' where the platform has it (Linux, as PyTorch), else 'spawn', which needs the data set,
collate_fn, transform and worker_init_fn to pickle. Workers do host (NumPy) work: a data set that makes GPU
arrays needs multiprocessing_context='spawn', as in PyTorch.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import pickle
import queue
import random
import signal
import time
import traceback
import weakref
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..creation import default_generator

# How often a waiting worker checks that its parent is alive, and the main process that its workers are.
POLL_S = 0.5
# How long shutdown waits for workers to finish their batch and exit before terminating them.
JOIN_S = 5.0


@dataclass(frozen=True)
class WorkerInfo:
    """What get_worker_info() returns inside a worker: its id (0..num_workers-1), the number of workers, its seed
    (the epoch's base seed + id, as PyTorch) and its copy of the data set."""

    id: int
    num_workers: int
    seed: int
    dataset: object


_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The WorkerInfo of the DataLoader worker this code runs in, or None in the main process."""
    return _info


_GOLDEN = 0x9E3779B97F4A7C15F39CC0605CEDC835  # odd, about 2^128 / golden ratio: spreads the batches over the cycle


@functools.lru_cache(maxsize=4)
def _epoch_state(base_seed: int) -> dict:
    return np.random.PCG64(base_seed).state["state"]


@contextmanager
def seeded(base_seed: int, batch: int):
    """toynn's generator set to a state made from (base_seed, batch) inside, restored after: a batch's random
    transforms draw the same numbers whichever process makes it.

    NOTE: the batch's PCG64 state is the epoch's plus batch * _GOLDEN (mod 2^128), a point far along the one cycle:
    4 us a batch, where seeding a new PCG64 from (base_seed, batch) costs 50 us.
    """
    bits = default_generator().bit_generator
    saved = bits.state
    start = _epoch_state(base_seed)
    state = {"state": (start["state"] + batch * _GOLDEN) % (1 << 128), "inc": start["inc"]}
    bits.state = {"bit_generator": "PCG64", "state": state, "has_uint32": 0, "uinteger": 0}
    try:
        yield
    finally:
        bits.state = saved


class WorkerError:
    """A worker's exception on its way to the main process: its type and its traceback as text."""

    def __init__(self, exc: BaseException, worker_id: int):
        self.exc_type = type(exc)
        try:
            pickle.dumps(self.exc_type)
        except Exception:  # a class defined inside a function cannot travel; its name still does
            self.exc_type = RuntimeError
        self.text = "".join(traceback.format_exception(exc))
        self.worker_id = worker_id

    def reraise(self):
        message = (
            f"Caught {self.exc_type.__name__} in DataLoader worker process {self.worker_id}.\n"
            f"Original {self.text.rstrip()}"
        )
        try:
            exc = self.exc_type(message)
        except Exception:  # an exception class that takes other arguments
            exc = RuntimeError(message)
        raise exc


def _worker_loop(fetch, index_queue, result_queue, done, generation, worker_id, num_workers, seed, init_fn, parent):
    """A worker: make the batches whose indices arrive on index_queue until told to stop (None, or done set)."""
    global _info
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle; it stops the workers
    from .. import runtime

    runtime.set_num_threads(1)  # as PyTorch: the workers share the cores; no thread pool inside each
    random.seed(seed)
    np.random.seed(seed % 2**32)  # NumPy's legacy global generator differs between workers too
    _info = WorkerInfo(worker_id, num_workers, seed, fetch.dataset)
    init_error = None
    if init_fn is not None:
        try:
            init_fn(worker_id)
        except Exception as exc:
            init_error = WorkerError(exc, worker_id)
    while not done.is_set():
        try:
            task = index_queue.get(timeout=POLL_S)
        except queue.Empty:
            if os.getppid() != parent:  # the main process died without stopping us
                break
            continue
        if task is None or done.is_set():
            break
        gen, k, indices, base_seed = task
        if gen != generation.value:  # a batch of an epoch the main process has left (persistent workers)
            continue
        if init_error is not None:
            data = init_error
        else:
            try:
                data = fetch(indices, base_seed, k)
            except Exception as exc:
                data = WorkerError(exc, worker_id)
        try:
            result_queue.put((gen, k, data))
        except Exception as exc:  # the batch does not pickle
            result_queue.put((gen, k, WorkerError(exc, worker_id)))
    result_queue.cancel_join_thread()  # exit now even if the main process no longer reads what is queued


def context(requested=None):
    """The multiprocessing context for the workers: the one asked for, else fork where available, else spawn."""
    if requested is not None:
        return multiprocessing.get_context(requested) if isinstance(requested, str) else requested
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def _stop(workers, index_queues, result_queue, done) -> None:
    """Tell the workers to stop, wait for them, terminate those that do not exit, close the queues."""
    done.set()
    for q in index_queues:
        try:
            q.put(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + JOIN_S
    for p in workers:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in workers:
        if p.is_alive():
            p.terminate()
            p.join(1.0)
        if p.is_alive():
            p.kill()
            p.join()
    for q in [*index_queues, result_queue]:
        q.cancel_join_thread()
        q.close()


class WorkerPool:
    """num_workers processes running fetch(indices, base_seed, batch) -> batch; see the module's docstring."""

    def __init__(self, fetch, num_workers: int, seed: int, worker_init_fn=None, multiprocessing_context=None):
        ctx = context(multiprocessing_context)
        if ctx.get_start_method() != "fork":
            try:
                pickle.dumps((fetch, worker_init_fn))
            except Exception as err:
                raise RuntimeError(
                    f"DataLoader: num_workers={num_workers} with the {ctx.get_start_method()!r} start method sends "
                    f"the data set, collate_fn, transform and worker_init_fn to each worker by pickle, and they do "
                    f"not pickle ({type(err).__name__}: {err}); define them at module level, or use num_workers=0"
                ) from err
        self.num_workers, self.seed = num_workers, seed
        self.result_queue = ctx.Queue()
        self.done = ctx.Event()
        self.generation = ctx.Value("q", 0, lock=False)
        self.index_queues, self.workers = [], []
        for i in range(num_workers):
            index_queue = ctx.Queue()
            index_queue.cancel_join_thread()  # the main process never waits on unsent indices to exit
            args = (
                fetch,
                index_queue,
                self.result_queue,
                self.done,
                self.generation,
                i,
                num_workers,
                seed + i,
                worker_init_fn,
                os.getpid(),
            )
            p = ctx.Process(target=_worker_loop, args=args, daemon=True, name=f"toynn-data-worker-{i}")
            p.start()
            self.index_queues.append(index_queue)
            self.workers.append(p)
        self._finalizer = weakref.finalize(self, _stop, self.workers, self.index_queues, self.result_queue, self.done)

    @property
    def alive(self) -> bool:
        return self._finalizer.alive

    def pids(self) -> list[int]:
        return [p.pid for p in self.workers]

    def new_generation(self) -> int:
        """Start an epoch: batches still queued from the one before are skipped by the workers."""
        self.generation.value += 1
        return self.generation.value

    def send(self, gen: int, k: int, indices, base_seed: int) -> None:
        self.index_queues[k % self.num_workers].put((gen, k, indices, base_seed))

    def get(self, timeout: float):
        """The next (generation, batch, data) a worker made; raises RuntimeError when the wait exceeds timeout
        (> 0) or a worker died."""
        start = time.monotonic()
        while True:
            wait = POLL_S if timeout <= 0 else min(POLL_S, max(0.0, timeout - (time.monotonic() - start)))
            try:
                return self.result_queue.get(timeout=wait)
            except queue.Empty:
                pass
            dead = [p for p in self.workers if p.exitcode is not None]
            if dead:
                codes = ", ".join(f"pid {p.pid}: exit code {p.exitcode}" for p in dead)
                self.shutdown()
                raise RuntimeError(
                    f"DataLoader worker ({codes}) exited unexpectedly; a signal (e.g. the out-of-memory killer) "
                    "or os._exit in the data set can do it"
                )
            if timeout > 0 and time.monotonic() - start >= timeout:
                self.shutdown()
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds waiting for a batch from a worker")

    def shutdown(self) -> None:
        self._finalizer()


class PoolIterator:
    """One epoch over a WorkerPool: batches in order (or as they come, in_order=False), finish(data) applied."""

    def __init__(
        self,
        pool: WorkerPool,
        batches: list,
        base_seed: int,
        finish,
        *,
        prefetch_factor: int,
        timeout: float,
        in_order: bool,
        persistent: bool,
    ):
        self.pool, self.batches, self.base_seed, self.finish = pool, batches, base_seed, finish
        self.timeout, self.in_order, self.persistent = timeout, in_order, persistent
        self.gen = pool.new_generation()
        self.sent = self.done = 0
        self.next_k = 0
        self.buffer: dict = {}
        for _ in range(prefetch_factor * pool.num_workers):
            self._send()

    def _send(self) -> None:
        if self.sent < len(self.batches):
            self.pool.send(self.gen, self.sent, self.batches[self.sent], self.base_seed)
            self.sent += 1

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self.batches)

    def __next__(self):
        if self.done >= len(self.batches) or not self.pool.alive:
            self.close()
            raise StopIteration
        while True:
            k = self.next_k if self.in_order else next(iter(self.buffer), None)
            if k in self.buffer:
                break
            gen, got, data = self.pool.get(self.timeout)
            if gen == self.gen:  # else a batch of an epoch left early (persistent workers)
                self.buffer[got] = data
        data = self.buffer.pop(k)
        self.done += 1
        self.next_k += 1
        self._send()
        if isinstance(data, WorkerError):
            self.pool.shutdown()
            data.reraise()
        if self.done >= len(self.batches):
            self.close()
        return self.finish(data)

    def close(self) -> None:
        """The epoch is over (or left): stop the workers unless they persist."""
        if not self.persistent:
            self.pool.shutdown()

    def __del__(self):
        self.close()
