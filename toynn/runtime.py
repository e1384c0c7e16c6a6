"""The machine room: threads, BLAS control and scratch buffers. The ops say what to compute; this module
says how the CPU runs it (docs/benchmarks.md, "Tuning constants and why", has the measurements)."""

from __future__ import annotations

import os
import threading
import time

import numpy as np

from .backend import array_module

# elementwise ops split across threads from this many elements: below it a hand-off to a thread costs more
# than the split saves (a ReLU ran faster split from 2^20 values, slower at 2^18)
ELEMENTWISE_SPLIT = 1 << 20
# products split into parts of at least this many multiply-adds, enough work to dwarf the hand-off to a thread;
# smaller products run whole
PARALLEL_MACS = 1 << 25
# seconds since the last split across threads after which a product may wake BLAS's own threads again (see gemm)
QUIET_SECONDS = 1.0

_scratch = threading.local()


def scratch(xp, name: str, shape: tuple, dtype):
    """A work array of `shape` for `name`, reused from call to call (its contents are left over: fill before use).

    Saves allocating (and page-faulting in) megabytes of im2col columns for every conv call. Each name holds
    one buffer per thread, array module and dtype, grown on demand: one user at a time, never returned to callers.
    """
    size = 1
    for n in shape:
        size *= int(n)
    pool = getattr(_scratch, "pool", None)
    if pool is None:
        pool = _scratch.pool = {}
    key = (name, xp.__name__, np.dtype(dtype).str)
    buf = pool.get(key)
    if buf is None or buf.size < size:
        buf = pool[key] = xp.empty(size, dtype=dtype)
    return buf[:size].reshape(shape)


# ---------------------------------------------------------------------------------------------
# Threads: big spatial ops split their batch across threads, each running single-threaded BLAS


class _Threads:
    count = None  # None until first asked: then the BLAS library's own thread count (OMP_NUM_THREADS ...)
    blas = None  # threadpoolctl's controller of the loaded BLAS, or False when threadpoolctl is missing
    pool = None  # the worker threads (count - 1 of them: the calling thread takes the first part)
    local = threading.local()  # .inside: this thread is running a part, so nested calls run in place
    last_split = float("-inf")  # time.perf_counter() of the last split across threads (see gemm)


def _forget_pool():  # a forked child has none of its parent's threads: start a new pool there when needed
    _Threads.pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _blas_controller():
    if _Threads.blas is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _Threads.blas = False
        else:
            _Threads.blas = ThreadpoolController().select(user_api="blas")
    return _Threads.blas


def get_num_threads() -> int:
    """Threads the spatial ops use on the CPU: the BLAS's thread count unless set_num_threads says otherwise.

    1 (every op in the calling thread, BLAS threaded as configured) when threadpoolctl is not installed.
    """
    if _Threads.count is None:
        blas = _blas_controller()
        counts = [lib.num_threads for lib in blas.lib_controllers] if blas else []
        _Threads.count = max(counts) if counts else 1
    return _Threads.count


def set_num_threads(n: int) -> None:
    """Use n threads for the spatial ops on the CPU (torch.set_num_threads)."""
    if int(n) < 1:
        raise ValueError(f"set_num_threads: n must be at least 1; got {n}")
    _Threads.count = int(n) if _blas_controller() else 1
    if _Threads.pool is not None:
        _Threads.pool.close()
        _Threads.pool = None


class _OneBlasThread:
    """Inside: BLAS runs on the calling thread only. Its own worker threads are never woken, so they never spin.

    NOTE: OpenBLAS's idle workers spin (sched_yield) for about 0.1 s after every threaded call, taking a core
    from the threads that run next; toynn's parallel ops and products run single-threaded BLAS instead.
    """

    def __enter__(self):
        self.libs = _blas_controller().lib_controllers
        self.before = [lib.get_num_threads() for lib in self.libs]
        for lib in self.libs:
            lib.set_num_threads(1)

    def __exit__(self, *exc):
        for lib, n in zip(self.libs, self.before):
            lib.set_num_threads(n)


class _Worker(threading.Thread):
    """One of the pool's threads: waits on its `go` lock for a part, runs it, and releases `done`."""

    def __init__(self, name: str):
        super().__init__(name=name, daemon=True)
        self.go, self.done = threading.Lock(), threading.Lock()
        self.go.acquire()
        self.done.acquire()
        self.task = self.result = self.error = None

    def run(self):
        while True:
            self.go.acquire()
            if self.task is None:  # the pool closed (set_num_threads)
                return
            fn, a, b = self.task
            _Threads.local.inside = True  # a parallel op inside a part runs in place
            try:
                self.result, self.error = fn(a, b), None
            except BaseException as err:  # handed to the caller, which raises it
                self.result, self.error = None, err
            self.task = None
            self.done.release()


class _Pool:
    """count worker threads, each handed one part at a time through a pair of locks.

    NOTE: concurrent.futures' ThreadPoolExecutor took ~150 us per hand-off here (a Future, a work item, a queue
    and a condition per part); a lock released by one thread and acquired by the other takes 25-50 us, which
    decides how small an op may be and still gain from a second thread (LeNet-5's ~20 split ops per step).
    """

    def __init__(self, count: int):
        self.busy = threading.Lock()  # held by the one caller whose parts the workers are running
        self.workers = [_Worker(f"toynn-{i}") for i in range(count)]
        for w in self.workers:
            w.start()

    def run(self, fn, bounds) -> list:
        """[fn(bounds[i], bounds[i + 1]) ...]: part 0 on the calling thread, the others on the workers."""
        rest = self.workers[: len(bounds) - 2]
        for i, w in enumerate(rest, 1):
            w.task = (fn, bounds[i], bounds[i + 1])
            w.go.release()
        _Threads.local.inside = True
        try:
            first = fn(bounds[0], bounds[1])
        finally:
            _Threads.local.inside = False
            for w in rest:  # NOTE: wait for every part before BLAS gets its threads back
                w.done.acquire()
        results, errors = [first], []
        for w in rest:  # NOTE: the workers drop their results, so that no array outlives its caller's use
            results.append(w.result)
            if w.error is not None:
                errors.append(w.error)
            w.result = w.error = None
        if errors:
            raise errors[0]
        return results

    def close(self) -> None:
        """End the workers (after any parts they are running)."""
        with self.busy:
            for w in self.workers:
                w.task = None
                w.go.release()


def _quiet() -> bool:
    """No op has split across toynn's threads in the last QUIET_SECONDS (see gemm)."""
    return time.perf_counter() - _Threads.last_split > QUIET_SECONDS


def _whole(fn, *args):
    """fn(*args), an op run whole on the calling thread: on BLAS's threads when quiet, else on one BLAS thread.

    NOTE: OpenBLAS's workers spin for ~0.1 s after each threaded call; in a CNN whose big convs split across
    toynn's threads, a small conv or product woken onto BLAS's threads leaves them spinning through the next split
    op, on the core its second part needs (the CIFAR net's step at batch 16 ran 1.5-2x slower so).
    """
    if _quiet():
        return fn(*args)
    with _OneBlasThread():
        return fn(*args)


def parallel(fn, n: int, xp=np, step: int = 1) -> list:
    """[fn(start, stop) for the parts of range(n) split across get_num_threads() threads], in order of start.

    Saves what threaded BLAS cannot: NumPy's copies (im2col) run on one core, and BLAS's own threads synchronise
    many times per product and spin when idle (costly on a busy machine). Here each thread runs its share of the
    batch, copies and products, on single-threaded BLAS, and the threads meet once. fn must write disjoint
    outputs. Parts start at multiples of step and get as equal a number of steps as can be. fn(0, n) runs in the
    calling thread alone with one thread and inside another part; on CuPy arrays the parts run one after another.
    """
    threads = get_num_threads()
    if threads == 1 or getattr(_Threads.local, "inside", False):
        return [fn(0, n)]
    if n <= step:  # too small to split (n = 0: an empty batch), one call
        return [_whole(fn, 0, n)]
    steps = -(-n // step)
    k = min(threads, steps)
    bounds = [min(n, steps * i // k * step) for i in range(k + 1)]
    # NOTE: the same parts and single-threaded BLAS on CuPy arrays too: a device stand-in that computes with NumPy
    # (tests/fake_cupy.py) then rounds exactly as the CPU does (BLAS sums differently with more threads or columns)
    if k > 1:
        _Threads.last_split = time.perf_counter()
    with _OneBlasThread():
        if k == 1 or xp is not np:
            return [fn(bounds[i], bounds[i + 1]) for i in range(k)]
        pool = _Threads.pool
        if pool is None:
            pool = _Threads.pool = _Pool(threads - 1)
        if not pool.busy.acquire(blocking=False):  # another thread of the program is using the pool: run in place
            return [fn(bounds[i], bounds[i + 1]) for i in range(k)]
        try:
            return pool.run(fn, bounds)
        finally:
            pool.busy.release()


def part_size(n: int, work: int, min_work: int) -> int:
    """parallel()'s step for n items of `work` in all: as many equal parts as there are threads, each of at least
    min_work (one part, n, when the work is smaller)."""
    parts = max(1, min(get_num_threads(), work // min_work))
    return -(-n // parts)


def elementwise(fn, out) -> None:
    """fn(s) for slices s of out's first axis that cover it, split across threads when out is big; fn(s) writes
    out[s]. Small (or 0-d) arrays get one call, fn(...).

    NumPy's elementwise loops run on one core: a conv's ReLU over millions of values runs about twice as fast on
    two threads.
    """
    if out.ndim == 0 or out.size < ELEMENTWISE_SPLIT:
        fn(...)
    else:
        parallel(lambda a, b: fn(slice(a, b)), out.shape[0], array_module(out))


def gemm(a, b):
    """a @ b for 2-D arrays: on BLAS's own threads, or, when big and right after a split, with the rows of a (or
    the columns of b, when b has more) split across toynn's threads.

    NOTE: the choice depends on the clock. OpenBLAS's idle workers spin for ~0.1 s after a threaded call and take
    a core from the conv threads that run next, so a big product in a CNN whose convs split stays off BLAS's
    threads; with no split in the last QUIET_SECONDS (a network of linear layers, small convs that run whole) every
    product runs on BLAS's threads, whose spinning workers take each product in microseconds where a hand-off to
    toynn's threads costs ~0.1 ms (the MLP's step at batch 256: 1.6-1.7x PyTorch's time split, 0.97x on BLAS's).
    """
    M, K = a.shape
    N = b.shape[1]
    if get_num_threads() == 1:
        return a @ b
    xp = array_module(a, b)
    if _quiet():
        return a @ b
    if M * N * K < PARALLEL_MACS:
        return _whole(xp.matmul, a, b)
    out = xp.empty((M, N), dtype=xp.result_type(a, b))
    step = part_size(max(M, N), M * N * K, PARALLEL_MACS)
    if M >= N:
        parallel(lambda s, e: xp.matmul(a[s:e], b, out=out[s:e]), M, xp, step)
    else:
        parallel(lambda s, e: xp.matmul(a, b[:, s:e], out=out[:, s:e]), N, xp, step)
    return out
