"""Data-parallel training over MPI: ranks, parameter broadcast, bucketed gradient averaging, per-rank data shards,
metric reduction, and a watchdog so that a dead or stuck rank ends the job instead of hanging it.

mpi4py (and CuPy's NCCL binding, for GPU arrays) are imported lazily: `import toynn` never needs them.
Run a script under `mpirun -n N python script.py`; see docs/distributed.md.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator

import numpy as np

from ..backend import array_module, device_of, to_device
from ..data import DataLoader, Subset
from ..tensor import Tensor

DEFAULT_TIMEOUT_S = 300.0
DEFAULT_BUCKET_MB = 4.0
MPI_MISSING = (
    "toynn.train.distributed needs mpi4py and an MPI library: "
    "apt-get install openmpi-bin libopenmpi-dev && pip install mpi4py (or pip install 'toynn[mpi]')"
)


class MPIUnavailableError(ImportError, RuntimeError):
    """mpi4py or the MPI library is missing (a RuntimeError too, so that the CLI reports it in one line)."""


def _mpi():
    try:
        from mpi4py import MPI
    except (ImportError, OSError, RuntimeError) as err:  # no wheel, or a wheel that finds no libmpi
        raise MPIUnavailableError(f"{MPI_MISSING} ({type(err).__name__}: {err})") from None
    return MPI


# ---------------------------------------------------------------------------------------------
# Communicators: the only code that talks to MPI or NCCL. Collectives work in place on flat buffers.


class LocalComm:
    """One process: rank 0 of 1, every collective is the identity."""

    rank, size, local_rank = 0, 1, 0

    def allreduce(self, buf, op: str = "sum") -> None:
        pass

    def bcast(self, buf, root: int = 0) -> None:
        pass

    def barrier(self) -> None:
        pass

    def abort(self, code: int) -> None:
        os._exit(code)


class MPIComm:
    """Collectives on NumPy buffers over an mpi4py communicator; CuPy buffers go through NCCL when it is set up."""

    def __init__(self, comm=None):
        MPI = _mpi()
        self.MPI, self.comm = MPI, comm if comm is not None else MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)  # the ranks on this machine: local_rank picks the GPU
        self.local_rank = node.Get_rank()
        node.Free()
        self.ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}
        self.nccl = None

    def use_nccl(self) -> bool:
        """Pick this rank's GPU (local_rank) and, when cupy.cuda.nccl imports, reduce CuPy buffers through NCCL."""
        import cupy

        cupy.cuda.Device(self.local_rank % cupy.cuda.runtime.getDeviceCount()).use()
        try:
            from cupy.cuda import nccl
        except ImportError:  # CuPy without NCCL: GPU buffers are copied to the host and reduced over MPI
            return False
        self.nccl = NCCLComm(nccl, self)
        return True

    def allreduce(self, buf, op: str = "sum") -> None:
        if self.nccl is not None and not isinstance(buf, np.ndarray):
            return self.nccl.allreduce(buf, op)
        host = buf if isinstance(buf, np.ndarray) else to_device(buf, "cpu")
        self.comm.Allreduce(self.MPI.IN_PLACE, host, op=self.ops[op])
        if host is not buf:
            buf[...] = to_device(host, "cuda")

    def bcast(self, buf, root: int = 0) -> None:
        if self.nccl is not None and not isinstance(buf, np.ndarray):
            return self.nccl.bcast(buf, root)
        host = buf if isinstance(buf, np.ndarray) else to_device(buf, "cpu")
        self.comm.Bcast(host, root=root)
        if host is not buf:
            buf[...] = to_device(host, "cuda")

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int) -> None:
        if self.nccl is not None:
            self.nccl.comm.abort()  # NOTE: frees a GPU kernel that waits on a dead peer
        self.comm.Abort(code)  # mpi4py initialises MPI_THREAD_MULTIPLE, so the watchdog thread may call this


class NCCLComm:
    """Allreduce and broadcast of CuPy arrays through NCCL (cupy.cuda.nccl); MPI hands out the unique id.

    NOTE: untested in toynn's CI (no GPU there); it follows CuPy's documented NcclCommunicator API.
    """

    def __init__(self, nccl, mpi: MPIComm):
        import cupy

        self.cupy, self.nccl = cupy, nccl
        uid = np.zeros(128, dtype=np.int64)  # NCCL_UNIQUE_ID_BYTES signed chars
        if mpi.rank == 0:
            uid[:] = nccl.get_unique_id()
        mpi.bcast(uid, 0)  # an int64 buffer, not a pickled object
        self.comm = nccl.NcclCommunicator(mpi.size, tuple(int(v) for v in uid), mpi.rank)
        self.dtypes = {
            np.dtype(np.float16): nccl.NCCL_FLOAT16,
            np.dtype(np.float32): nccl.NCCL_FLOAT32,
            np.dtype(np.float64): nccl.NCCL_FLOAT64,
            np.dtype(np.int32): nccl.NCCL_INT32,
            np.dtype(np.int64): nccl.NCCL_INT64,
            np.dtype(np.uint8): nccl.NCCL_UINT8,
        }
        self.ops = {"sum": nccl.NCCL_SUM, "max": nccl.NCCL_MAX, "min": nccl.NCCL_MIN}

    def _dtype(self, buf):
        if buf.dtype not in self.dtypes:
            raise TypeError(f"NCCL: cannot reduce {buf.dtype} buffers; expected one of {sorted(map(str, self.dtypes))}")
        return self.dtypes[buf.dtype]

    def allreduce(self, buf, op: str = "sum") -> None:
        stream = self.cupy.cuda.get_current_stream()
        self.comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, self._dtype(buf), self.ops[op], stream.ptr)
        stream.synchronize()  # NOTE: releases the GIL, so the watchdog can still fire while a peer is dead

    def bcast(self, buf, root: int = 0) -> None:
        stream = self.cupy.cuda.get_current_stream()
        self.comm.bcast(buf.data.ptr, buf.size, self._dtype(buf), root, stream.ptr)
        stream.synchronize()


# ---------------------------------------------------------------------------------------------
# The job as training sees it


def _flat_groups(tensors: list, cap_bytes: float) -> list[list[int]]:
    """Indices of tensors grouped by (dtype, device), each group cut into buckets of at most cap_bytes (or one)."""
    groups: dict[tuple, list[list[int]]] = {}
    sizes: dict[tuple, int] = {}
    for i, t in enumerate(tensors):
        key = (t.array.dtype.str, device_of(t.array))
        nbytes = t.array.size * t.array.dtype.itemsize
        buckets = groups.setdefault(key, [[]])
        if buckets[-1] and sizes[key] + nbytes > cap_bytes:
            buckets.append([])
            sizes[key] = 0
        buckets[-1].append(i)
        sizes[key] = sizes.get(key, 0) + nbytes
    return [b for buckets in groups.values() for b in buckets]


def _named_tensors(model) -> list[tuple[str, Tensor]]:
    """(name, tensor) for a Module's parameters and buffers, or for a plain iterable of tensors."""
    if hasattr(model, "named_parameters"):
        return [*model.named_parameters(), *model.named_buffers()]
    return [(str(i), t) for i, t in enumerate(model)]


class Distributed:
    """This process's place in a data-parallel job (rank of world_size) and the collectives that training needs.

    Every collective runs under a watchdog: one that waits longer than `timeout` seconds (a peer died or hangs)
    prints which collective and which rank, then aborts the whole job (exit code 1) instead of hanging.
    """

    def __init__(self, comm=None, *, timeout: float = DEFAULT_TIMEOUT_S, bucket_mb: float = DEFAULT_BUCKET_MB):
        self.comm = comm if comm is not None else LocalComm()
        self.rank, self.world_size, self.local_rank = self.comm.rank, self.comm.size, self.comm.local_rank
        if not timeout > 0 or not bucket_mb > 0:
            raise ValueError(f"Distributed: timeout and bucket_mb must be positive; got {timeout}, {bucket_mb}")
        self.timeout, self.bucket_bytes = float(timeout), bucket_mb * 2**20
        self._plan_key, self._plan = None, []
        self._pending = None  # (what, since) of the collective in progress; read by the watchdog thread
        self._watchdog = None

    @property
    def is_main(self) -> bool:
        """True on rank 0, the one rank that writes checkpoints and logs."""
        return self.rank == 0

    def __repr__(self) -> str:
        return f"Distributed(rank={self.rank}, world_size={self.world_size}, comm={type(self.comm).__name__})"

    # -- failure handling -------------------------------------------------------------------------
    def _collective(self, what: str, fn, *args) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name="toynn-distributed-watchdog", daemon=True)
            self._watchdog.start()
        self._pending = (what, time.monotonic())  # NOTE: one tuple assignment, atomic for the watchdog's read
        try:
            fn(*args)
        finally:
            self._pending = None

    def _watch(self) -> None:
        period = min(1.0, self.timeout / 20)
        while True:
            time.sleep(period)
            pending = self._pending
            if pending is not None and time.monotonic() - pending[1] > self.timeout:
                self.abort(
                    f"{pending[0]} did not complete within {self.timeout:g} s; "
                    "another rank has probably died or hung (timeout: TOYNN_DIST_TIMEOUT or init(timeout=))"
                )

    def abort(self, message: str, code: int = 1) -> None:
        """Print message naming this rank, then end every rank of the job (MPI_Abort) with exit code `code`."""
        text = f"toynn.train.distributed: rank {self.rank} of {self.world_size}: {message}; aborting the job\n"
        os.write(2, text.encode())  # NOTE: a raw write: the watchdog may call this while another thread prints
        self.comm.abort(code)
        os._exit(code)

    def _install_excepthook(self) -> None:
        previous = sys.excepthook

        def hook(etype, value, tb):
            previous(etype, value, tb)  # the usual traceback first
            self.abort(f"uncaught {etype.__name__}: {value}")

        sys.excepthook = hook

    # -- collectives ------------------------------------------------------------------------------
    def barrier(self) -> None:
        """Wait until every rank gets here."""
        if self.world_size > 1:
            self._collective("Barrier", self.comm.barrier)

    def broadcast_parameters(self, model, root: int = 0):
        """Copy root's parameters and buffers into every rank's model (or list of tensors) in place; returns model."""
        named = _named_tensors(model)
        if self.world_size == 1:
            return model
        self._check_same_layout(named, root)
        tensors = [t for _, t in named]
        for bucket in _flat_groups(tensors, self.bucket_bytes):
            parts = [tensors[i].array for i in bucket]
            xp = array_module(*parts)
            buf = xp.concatenate([p.reshape(-1) for p in parts])  # (sum of sizes,): one Bcast per bucket
            self._collective(
                f"Bcast of {len(parts)} parameters/buffers ({buf.nbytes / 2**20:.2f} MB)", self.comm.bcast, buf, root
            )
            offset = 0
            for i in bucket:
                t = tensors[i]
                t.array[...] = buf[offset : offset + t.array.size].reshape(t.array.shape)
                offset += t.array.size
        return model

    def _check_same_layout(self, named: list, root: int) -> None:
        """Raise on every rank (not only the odd one out) when the models' names, shapes or dtypes differ."""
        mine = [[name, list(t.shape), t.array.dtype.str] for name, t in named]
        text = json.dumps(mine).encode()
        length = np.array([len(text)], dtype=np.int64)
        self._collective("Bcast of the model layout", self.comm.bcast, length, root)
        blob = np.frombuffer(text, dtype=np.uint8).copy() if self.rank == root else np.empty(length[0], np.uint8)
        self._collective("Bcast of the model layout", self.comm.bcast, blob, root)
        theirs = json.loads(blob.tobytes())
        differs = np.array([float(theirs != mine)])
        self._collective("Allreduce of the layout check", self.comm.allreduce, differs, "max")
        if differs[0]:
            detail = "the same on this rank"
            if theirs != mine:
                first = next((a, b) for a, b in zip([*mine, None], [*theirs, None]) if a != b)
                detail = f"this rank has {first[0]}, rank {root} has {first[1]}"
            raise ValueError(
                f"broadcast_parameters: the ranks built different models ({len(mine)} vs {len(theirs)} "
                f"tensors on rank {self.rank} and rank {root}); first difference [name, shape, dtype]: {detail}"
            )

    def all_reduce_gradients(self, params) -> None:
        """p.grad = its mean over ranks, for a Module's or a list's parameters (None where no rank has a gradient).

        Gradients are packed into flat buffers of about bucket_mb each (per dtype and device), so a model with
        many small parameters pays one Allreduce latency per bucket, not per tensor. NOTE: each p.grad is then a
        view of its bucket (as PyTorch DDP's gradient_as_bucket_view), so the next call overwrites it.
        """
        if self.world_size == 1:
            return
        params = [p for p in (params.parameters() if hasattr(params, "parameters") else params) if p.requires_grad]
        buckets = self._buckets(params)
        for k, (bucket, buf) in enumerate(buckets):
            parts = [params[i] for i in bucket]
            n = buf.size - len(parts)  # buf: (gradients..., one has-gradient flag per parameter)
            offset = 0
            for j, p in enumerate(parts):
                size = p.array.size
                buf[offset : offset + size] = 0 if p.grad is None else p.grad.array.reshape(-1)
                buf[n + j] = p.grad is not None
                offset += size
            what = f"Allreduce of gradient bucket {k + 1} of {len(buckets)} ({buf.nbytes / 2**20:.2f} MB)"
            self._collective(what, self.comm.allreduce, buf, "sum")
            buf[:n] /= self.world_size
            flags = to_device(buf[n:], "cpu")
            offset = 0
            for j, p in enumerate(parts):
                size = p.array.size
                p.grad = Tensor(buf[offset : offset + size].reshape(p.array.shape)) if flags[j] else None
                offset += size

    def _buckets(self, params: list) -> list[tuple[list[int], object]]:
        """(parameter indices, flat buffer) per bucket, made once for a given parameter list.

        NOTE: the buffers persist across steps: a fresh multi-MB array each step costs page faults, which made
        an Allreduce of the CIFAR net's gradients several times slower (docs/benchmarks.md, tuning constants).
        """
        key = tuple((id(p), p.array.shape, p.array.dtype.str, device_of(p.array)) for p in params)
        if key != self._plan_key:
            plan = []
            for bucket in _flat_groups(params, self.bucket_bytes):
                p0 = params[bucket[0]].array
                size = sum(params[i].array.size for i in bucket) + len(bucket)
                plan.append((bucket, array_module(p0).empty(size, dtype=p0.dtype)))
            self._plan_key, self._plan = key, plan
        return self._plan

    def reduce_metrics(self, metrics: dict, op: str = "sum") -> dict:
        """metrics with each number combined over ranks by op: "sum", "mean", "max" or "min" (one Allreduce).

        Integers (counts) stay integers unless op is "mean". E.g. {"loss_sum": 3.2, "correct": 40, "seen": 64}.
        """
        if op not in ("sum", "mean", "max", "min"):
            raise ValueError(f"reduce_metrics: op must be 'sum', 'mean', 'max' or 'min'; got {op!r}")
        keys = list(metrics)
        buf = np.array([float(metrics[k]) for k in keys], dtype=np.float64)  # NOTE: counts exact up to 2**53
        if self.world_size > 1:
            self._collective(f"Allreduce of metrics {keys}", self.comm.allreduce, buf, "sum" if op == "mean" else op)
        if op == "mean":
            return {k: float(v) / self.world_size for k, v in zip(keys, buf)}
        return {k: int(v) if isinstance(metrics[k], (int, np.integer)) else float(v) for k, v in zip(keys, buf)}

    def check_equal(self, value: int, what: str) -> None:
        """Raise on every rank when `value` is not the same on all ranks (e.g. the epoch a resumed run starts at)."""
        if self.world_size == 1:
            return
        buf = np.array([value, -value], dtype=np.float64)
        self._collective(f"Allreduce of {what}", self.comm.allreduce, buf, "max")
        if buf[0] != -buf[1]:
            raise RuntimeError(f"{what} differs across ranks: from {-buf[1]:g} to {buf[0]:g} (this rank: {value})")

    # -- data and logs ----------------------------------------------------------------------------
    def shard(self, loader: DataLoader, seed: int = 0, global_batch: bool = True) -> DistributedLoader:
        """loader's data split across ranks; loader.batch_size is the global batch (split evenly) or, else, per rank."""
        batch = loader.batch_size
        if global_batch:
            if batch % self.world_size:
                raise ValueError(
                    f"shard: the global batch size {batch} is not divisible by the number of ranks {self.world_size}"
                )
            batch //= self.world_size
        return DistributedLoader(
            loader.dataset,
            batch,
            DistributedSampler(loader.dataset, self.world_size, self.rank, shuffle=loader.shuffle, seed=seed),
            drop_last=loader.drop_last,
            collate_fn=loader.collate_fn,
            transform=loader.transform,
            device=loader.device,
        )

    def log(self, *args, **kwargs) -> None:
        """print() on rank 0 only."""
        if self.is_main:
            print(*args, **kwargs, flush=True)


# ---------------------------------------------------------------------------------------------
# Data: every rank a disjoint shard of the same seeded permutation


class DistributedSampler:
    """This rank's indices: a permutation seeded by seed + epoch (the same on every rank), padded by repeating its
    head (or, with drop_last, cut) to a multiple of num_replicas, then every num_replicas-th from rank on.

    As torch.utils.data.DistributedSampler: call set_epoch(e) before each epoch, or every epoch has the same order.
    """

    def __init__(
        self,
        dataset,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ):
        if num_replicas is None or rank is None:
            if _current is None:
                raise RuntimeError(
                    "DistributedSampler: pass num_replicas and rank, or call toynn.train.distributed.init()"
                )
            num_replicas = _current.world_size if num_replicas is None else num_replicas
            rank = _current.rank if rank is None else rank
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}; expected 0 <= rank < {num_replicas}")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.epoch = bool(shuffle), int(seed), bool(drop_last), 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """(num_samples,) int64: this rank's indices for the current epoch."""
        n = len(self.dataset)
        order = np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle else np.arange(n)
        if self.total_size > n:  # repeat the head (the whole order as often as needed) so all ranks get as many
            order = np.concatenate([order] * math.ceil(self.total_size / n))
        return order[self.rank : self.total_size : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class DistributedLoader:
    """DataLoader over this rank's shard: batches (B, ...) of batch_size per rank, the same count on every rank.

    A new shard each epoch after set_epoch(epoch); batches come from the data set's __getitems__ as in DataLoader.
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 1,
        sampler: DistributedSampler | None = None,
        *,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        collate_fn=None,
        transform=None,
        device: str | None = None,
    ):
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler = sampler if sampler is not None else DistributedSampler(dataset, shuffle=shuffle, seed=seed)
        self._kwargs = dict(drop_last=drop_last, collate_fn=collate_fn, transform=transform, device=device)
        DataLoader(dataset, batch_size, **self._kwargs)  # validates the arguments now, not at the first epoch

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self) -> Iterator:
        shard = Subset(self.dataset, self.sampler.indices())
        return iter(DataLoader(shard, self.batch_size, shuffle=False, **self._kwargs))

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __repr__(self) -> str:
        s = self.sampler
        return (
            f"DistributedLoader({type(self.dataset).__name__} of {len(self.dataset)}, rank {s.rank} of "
            f"{s.num_replicas}, {len(s)} samples, batch_size={self.batch_size}, shuffle={s.shuffle})"
        )


# ---------------------------------------------------------------------------------------------
# The process-wide job

_current: Distributed | None = None


def init(
    *,
    timeout: float | None = None,
    bucket_mb: float = DEFAULT_BUCKET_MB,
    device: str = "cpu",
    abort_on_error: bool = True,
) -> Distributed:
    """Join the MPI job this process was started in (`mpirun -n N ...`; alone it is rank 0 of 1); idempotent.

    timeout: seconds a collective may wait (default $TOYNN_DIST_TIMEOUT or 300). device="cuda" picks GPU
    local_rank and reduces CuPy arrays through NCCL when present. abort_on_error: an uncaught exception on
    any rank aborts the whole job (as `python -m mpi4py` does) instead of leaving the others waiting.
    """
    global _current
    if _current is not None:
        return _current
    if timeout is None:
        timeout = float(os.environ.get("TOYNN_DIST_TIMEOUT", DEFAULT_TIMEOUT_S))
    comm = MPIComm()
    if str(device).startswith("cuda"):
        comm.use_nccl()
    _current = Distributed(comm, timeout=timeout, bucket_mb=bucket_mb)
    if abort_on_error and _current.world_size > 1:
        _current._install_excepthook()
    return _current


def is_initialized() -> bool:
    return _current is not None


def current() -> Distributed:
    """The job joined by init(), or a one-process stand-in (rank 0 of 1, collectives are identities)."""
    return _current if _current is not None else Distributed(LocalComm())


def abort_job(message: str, code: int = 1) -> None:
    """End every rank of an initialised multi-rank job with `message`; a no-op otherwise (e.g. single process)."""
    if _current is not None and _current.world_size > 1:
        _current.abort(message, code)


def _require(name: str) -> Distributed:
    if _current is None:
        raise RuntimeError(f"toynn.train.distributed.{name}: call toynn.train.distributed.init() first")
    return _current


def broadcast_parameters(model, root: int = 0):
    """Copy root's parameters and buffers into every rank's model in place (see Distributed.broadcast_parameters)."""
    return _require("broadcast_parameters").broadcast_parameters(model, root)


def all_reduce_gradients(params: Iterable) -> None:
    """Average the gradients over ranks, bucketed (see Distributed.all_reduce_gradients)."""
    _require("all_reduce_gradients").all_reduce_gradients(params)


def reduce_metrics(metrics: dict, op: str = "sum") -> dict:
    """Combine numbers over ranks (see Distributed.reduce_metrics)."""
    return _require("reduce_metrics").reduce_metrics(metrics, op)
