"""toynn.distributed: sharding and bucketing in one process, then 2-rank jobs under mpirun (equivalence, failures).

The mpirun tests skip when Open MPI or mpi4py is missing, unless TOYNN_REQUIRE_MPI=1 (CI), where they fail.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import toynn
import toynn.train.distributed as distributed
from toynn import nn
from toynn.data import DataLoader, TensorDataset
from toynn.train.distributed import Distributed, DistributedLoader, DistributedSampler, LocalComm

SCRIPTS = Path(__file__).parent / "mpi_scripts"


def _load_script():
    spec = importlib.util.spec_from_file_location("train_mlp", SCRIPTS / "train_mlp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_mlp = _load_script()


# ---------------------------------------------------------------------------------------------
# One process: the sampler, buckets and metrics, with a fake 2-rank communicator


class TwinComm(LocalComm):
    """Rank 0 of 2 whose peer holds exactly the same buffers: a sum doubles, max/min/bcast keep; calls recorded."""

    rank, size = 0, 2

    def __init__(self):
        self.calls = []

    def allreduce(self, buf, op="sum"):
        self.calls.append(("allreduce", buf.size, buf.dtype))
        if op == "sum":
            buf *= 2

    def bcast(self, buf, root=0):
        self.calls.append(("bcast", buf.size, buf.dtype))


@pytest.mark.parametrize("n", [10, 11, 13])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_matches_torch_without_shuffle(torch, n, drop_last):
    from torch.utils.data import DistributedSampler as TorchSampler

    data = list(range(n))
    for rank in range(3):
        ours = DistributedSampler(data, num_replicas=3, rank=rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(data, num_replicas=3, rank=rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs)


def test_sampler_shards_one_seeded_permutation_per_epoch():
    data = list(range(11))
    shards = [DistributedSampler(data, num_replicas=4, rank=r, seed=5) for r in range(4)]
    first = [s.indices() for s in shards]
    assert {len(i) for i in first} == {3}  # 11 padded to 12
    union = np.concatenate(first)
    assert sorted(set(union.tolist())) == list(range(11)) and len(union) == 12
    perm = np.random.default_rng(5).permutation(11)
    padded = np.concatenate([perm, perm[:1]])
    for r in range(4):
        np.testing.assert_array_equal(first[r], padded[r::4])
    for s in shards:
        s.set_epoch(1)
    second = np.concatenate([s.indices() for s in shards])
    assert not np.array_equal(second, union)  # a new order each epoch
    assert sorted(set(second.tolist())) == list(range(11))
    dropped = np.concatenate([DistributedSampler(data, 4, r, seed=5, drop_last=True).indices() for r in range(4)])
    assert len(dropped) == 8 and len(set(dropped.tolist())) == 8


def test_sampler_needs_a_job_or_explicit_ranks():
    if distributed.is_initialized():
        pytest.skip("this process has joined an MPI job")
    with pytest.raises(RuntimeError, match="num_replicas and rank"):
        DistributedSampler(list(range(4)))
    with pytest.raises(ValueError, match="invalid rank 2"):
        DistributedSampler(list(range(4)), num_replicas=2, rank=2)


def test_loader_gives_every_rank_the_same_number_of_batches_from_its_shard():
    x = np.arange(23, dtype=np.float32)[:, None]
    ds = TensorDataset(x, np.arange(23))
    loaders = [DistributedLoader(ds, 5, DistributedSampler(ds, 2, r, seed=1)) for r in range(2)]
    batches = [list(loader) for loader in loaders]
    assert [len(b) for b in batches] == [len(loaders[0])] * 2 == [3, 3]
    assert [len(yb) for _, yb in batches[0]] == [5, 5, 2]
    seen = np.concatenate([yb.array for b in batches for _, yb in b])
    assert len(seen) == 24 and set(seen.tolist()) == set(range(23))
    for b in batches:
        for xb, yb in b:  # rows stay paired with their labels
            np.testing.assert_array_equal(xb.array[:, 0], yb.array.astype(np.float32))


def test_shard_splits_the_global_batch():
    ds = TensorDataset(np.zeros((20, 2), np.float32), np.zeros(20, np.int64))
    dist = Distributed(TwinComm())
    shard = dist.shard(DataLoader(ds, batch_size=8, shuffle=True, drop_last=True), seed=3)
    assert shard.batch_size == 4 and shard.drop_last and len(shard) == 2 and shard.sampler.seed == 3
    with pytest.raises(ValueError, match="global batch size 7 is not divisible by the number of ranks 2"):
        dist.shard(DataLoader(ds, batch_size=7))


def _many_small_parameters():
    toynn.manual_seed(0)
    return nn.Sequential(*[nn.Linear(16, 16) for _ in range(50)])  # 100 tensors, 13600 floats (1088 bytes a layer)


def test_gradients_go_in_few_buckets_and_come_back_averaged():
    model = _many_small_parameters()
    for p in model.parameters():
        p.grad = toynn.tensor(np.random.default_rng(0).standard_normal(p.shape).astype(np.float32))
    model[3].bias.grad = None  # no rank has a gradient for it: it must stay None
    before = {id(p): None if p.grad is None else p.grad.array.copy() for p in model.parameters()}
    comm = TwinComm()
    Distributed(comm, bucket_mb=0.01).all_reduce_gradients(model)  # 10485 bytes: 9 layers a bucket
    sizes = [size for _, size, _ in comm.calls]
    assert sizes == [9 * 272 + 18] * 5 + [5 * 272 + 10]  # the gradients and one has-gradient flag per parameter
    for p in model.parameters():
        if before[id(p)] is None:
            assert p.grad is None
        else:
            np.testing.assert_array_equal(p.grad.array, before[id(p)])  # the mean of two equal gradients
            assert p.grad.array.dtype == np.float32 and p.grad.shape == p.shape
    comm.calls.clear()
    dist = Distributed(comm)
    dist.all_reduce_gradients(model)
    assert len(comm.calls) == 1  # the default 4 MB bucket holds all 100 tensors
    dist.all_reduce_gradients(model)  # the gradients are views of the bucket now: packing copies them onto themselves
    np.testing.assert_array_equal(model[0].weight.grad.array, before[id(model[0].weight)])


def test_buckets_are_per_dtype():
    a, b = nn.Linear(3, 2), nn.Linear(3, 2).double()
    for p in [*a.parameters(), *b.parameters()]:
        p.grad = toynn.tensor(np.ones(p.shape, dtype=p.dtype))
    comm = TwinComm()
    Distributed(comm).all_reduce_gradients([*a.parameters(), *b.parameters()])
    assert sorted(str(dtype) for _, _, dtype in comm.calls) == ["float32", "float64"]
    assert all(p.grad.dtype == p.dtype for p in [*a.parameters(), *b.parameters()])


def test_reduce_metrics_sums_counts_as_ints():
    dist = Distributed(TwinComm())
    total = dist.reduce_metrics({"seen": 64, "correct": np.int64(40), "loss_sum": 3.25})
    assert total == {"seen": 128, "correct": 80, "loss_sum": 6.5}
    assert isinstance(total["seen"], int) and isinstance(total["correct"], int)
    assert dist.reduce_metrics({"loss": 0.5}, op="mean") == {"loss": 0.5}
    with pytest.raises(ValueError, match="op must be"):
        dist.reduce_metrics({"loss": 0.5}, op="avg")
    assert distributed.current().reduce_metrics({"seen": 3}) == {"seen": 3}  # one process: the identity


def test_one_process_is_rank_0_of_1_and_collectives_are_identities():
    dist = distributed.current() if not distributed.is_initialized() else Distributed()
    assert (dist.rank, dist.world_size, dist.is_main) == (0, 1, True)
    model = nn.Linear(2, 2)
    model.weight.grad = toynn.ones(2, 2)
    dist.all_reduce_gradients(model)
    assert model.bias.grad is None and model.weight.grad.array.sum() == 4
    assert dist.broadcast_parameters(model) is model
    dist.check_equal(3, "epoch")


def test_missing_mpi4py_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # `from mpi4py import MPI` now raises ImportError
    with pytest.raises(ImportError, match="apt-get install openmpi-bin libopenmpi-dev && pip install mpi4py"):
        distributed.MPIComm()


# ---------------------------------------------------------------------------------------------
# Two ranks under mpirun


def _need_mpi() -> None:
    missing = None
    if shutil.which("mpirun") is None:
        missing = "mpirun not found: apt-get install openmpi-bin libopenmpi-dev"
    elif importlib.util.find_spec("mpi4py") is None:
        missing = "mpi4py not installed: pip install mpi4py"
    if missing:
        if os.environ.get("TOYNN_REQUIRE_MPI") == "1":
            pytest.fail(f"TOYNN_REQUIRE_MPI=1 but {missing}")
        pytest.skip(missing)


def mpirun(n: int, args: list[str], timeout: float = 60, env: dict | None = None) -> tuple[int, str, float]:
    """(exit code, stdout+stderr, seconds) of `mpirun -n n python args`; fails the test if it hangs past timeout."""
    _need_mpi()
    launcher = ["mpirun", "-n", str(n)]
    if "Open MPI" in subprocess.run(["mpirun", "--version"], capture_output=True, text=True).stdout:
        launcher += ["--oversubscribe"] + (["--allow-run-as-root"] if os.geteuid() == 0 else [])
    # NOTE: one BLAS thread per rank (2 ranks share 2 cores); no single-copy shared memory, which containers
    # without ptrace rights refuse (Open MPI then fails on messages over 4 KB)
    root = str(Path(__file__).resolve().parents[1])  # the ranks import this checkout's toynn, installed or not
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    full_env = {
        **os.environ,
        "PYTHONPATH": path,
        "OMP_NUM_THREADS": "1",
        "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
        **(env or {}),
    }
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*launcher, sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=full_env,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"mpirun -n {n} hung for more than {timeout} s:\n{out}")
    return proc.returncode, out, time.perf_counter() - start


def _weights(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(path))


def _assert_same_weights(got: dict, want: dict) -> None:
    assert sorted(got) == sorted(want)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("bucket_mb", [4.0, 0.001])
def test_two_ranks_on_half_batches_match_one_process_on_the_whole(tmp_path, bucket_mb):
    rc, out, _ = mpirun(2, [str(SCRIPTS / "train_mlp.py"), "--out", str(tmp_path), "--bucket-mb", str(bucket_mb)])
    assert rc == 0, out
    want = train_mlp.reference("split")
    start = train_mlp.build_model(seed=1).state_dict()
    assert any(np.abs(want[k] - start[k].array).max() > 1e-3 for k in want)  # training moved the weights
    for rank in range(2):  # rank 1 started from other weights: the broadcast made them rank 0's
        _assert_same_weights(_weights(tmp_path / f"rank{rank}.safetensors"), want)


def test_two_ranks_through_distributed_loader_match_one_process(tmp_path):
    rc, out, _ = mpirun(2, [str(SCRIPTS / "train_mlp.py"), "--out", str(tmp_path), "--mode", "loader"])
    assert rc == 0, out
    want = train_mlp.reference("loader")
    for rank in range(2):
        _assert_same_weights(_weights(tmp_path / f"rank{rank}.safetensors"), want)
    epochs = json.loads((tmp_path / "metrics.json").read_text())["epochs"]
    assert [e["seen"] for e in epochs] == [38, 38]  # 37 samples padded to 38, summed over both ranks
    assert [e["steps"] for e in epochs] == [10, 10]  # 5 batches on each rank


@pytest.mark.parametrize(
    "fail, message",
    [
        ("exit", "exited with non-zero status"),  # mpirun's own report names the rank and exit code
        ("raise", "rank 1 of 2: uncaught RuntimeError: rank 1 failed on purpose; aborting the job"),
        ("hang", "rank 0 of 2: Allreduce of gradient bucket 1 of 1 (0.01 MB) did not complete within 2 s"),
    ],
)
def test_a_failing_rank_ends_the_job_with_a_clear_error(tmp_path, fail, message):
    args = [str(SCRIPTS / "train_mlp.py"), "--out", str(tmp_path), "--fail", fail]
    rc, out, seconds = mpirun(2, args, timeout=60, env={"TOYNN_DIST_TIMEOUT": "2"})
    assert rc != 0, out
    assert message in out, out
    assert seconds < 20, f"the job took {seconds:.1f} s to end"
    assert not (tmp_path / "rank0.safetensors").exists()


def test_fit_trains_data_parallel_and_only_rank_0_writes(tmp_path):
    from toynn.train import fit

    if "distributed" not in inspect.signature(fit).parameters:
        pytest.skip("toynn.train.fit has no distributed= parameter yet (issue 8's train.py change)")
    rc, out, _ = mpirun(2, [str(SCRIPTS / "fit_mlp.py"), "--out", str(tmp_path)])
    assert rc == 0, out
    _assert_same_weights(_weights(tmp_path / "rank1.safetensors"), train_mlp.reference("loader"))
    assert out.count("epoch 2/2: train loss") == 1  # the per-epoch line is printed by rank 0 only
    history = json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs"]
    assert [e["epoch"] for e in history] == [1, 2]
    assert (tmp_path / "run" / "checkpoint.safetensors").exists()
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "checkpoint.json",
        "checkpoint.safetensors",
        "metrics.json",
    ]


def test_cli_trains_with_mpirun_and_distributed_flag(tmp_path):
    from toynn.cli import build_parser

    if "--distributed" not in build_parser()._subparsers._group_actions[0].choices["train"].format_help():
        pytest.skip("`toynn train` has no --distributed flag yet (issue 8's cli.py change)")
    pytest.importorskip("sklearn", reason="the digits data set comes with scikit-learn")
    out_dir = tmp_path / "run"
    args = ["-m", "toynn", "train", "--epochs", "1", "--distributed", "--quiet", "--out", str(out_dir)]
    rc, out, _ = mpirun(2, args, timeout=120)
    assert rc == 0, out
    assert out.count("test accuracy") == 1 and out.count("training mlp on digits") == 1, out
    assert (out_dir / "checkpoint.safetensors").exists() and (out_dir / "config.json").exists()
    accuracy = float(out.split("test accuracy: ")[1].split()[0])
    assert accuracy > 0.6  # one epoch of the digits: far above the 0.1 of chance
