"""toynn.data: DataLoader, splits, batch transforms and the data sets (digits, MNIST/Fashion-MNIST IDX files,
CIFAR-10 Python batches through the safe reader, image folders), with real data from ../shared/data when present."""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import re
import shutil
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

import toynn
from toynn.data import (
    CIFAR10,
    MNIST,
    ConcatDataset,
    CorruptDatasetError,
    DataLoader,
    Dataset,
    DatasetNotFoundError,
    Digits,
    FashionMNIST,
    ImageFolder,
    Subset,
    TensorDataset,
    UnsafePickleError,
    extract_archive,
    load_digits,
    random_split,
    read_cifar_batch,
    read_idx,
)
from toynn.data import transforms as T
from toynn.errors import ShapeError

DATA = Path(os.environ.get("TOYNN_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
needs_mnist = pytest.mark.skipif(
    not (DATA / "mnist").is_dir(),
    reason=f"real MNIST not found at {DATA / 'mnist'} (set TOYNN_DATA to the data folder)",
)
needs_cifar_jpeg = pytest.mark.skipif(
    not (DATA / "cifar10-jpeg" / "test.tar.gz").is_file(),
    reason=f"CIFAR-10 JPEG folder not found at {DATA / 'cifar10-jpeg'} (set TOYNN_DATA to the data folder)",
)
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _toy(n=10):
    x = np.arange(n * 16, dtype=np.float32).reshape(n, 1, 4, 4)
    return TensorDataset(x, np.arange(n, dtype=np.int64))


def _labels(loader):
    return np.concatenate([y.numpy() for _, y in loader])


# ---------------------------------------------------------------------------------------------
# DataLoader


def test_loader_batches_shapes_dtypes_and_len():
    loader = DataLoader(_toy(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [x.shape for x, _ in batches] == [(4, 1, 4, 4), (4, 1, 4, 4), (2, 1, 4, 4)]
    x, y = batches[0]
    assert isinstance(x, toynn.Tensor) and isinstance(y, toynn.Tensor)
    assert x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(_labels(loader), np.arange(10))


@pytest.mark.parametrize("n, bs", [(10, 4), (12, 4), (3, 5), (1, 1), (7, 1)])
@pytest.mark.parametrize("drop_last", [False, True])
def test_loader_len_matches_iteration(n, bs, drop_last):
    loader = DataLoader(_toy(n), batch_size=bs, shuffle=True, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(batches) == (n // bs if drop_last else -(-n // bs))
    assert all(x.shape[0] == bs for x, _ in batches) or not drop_last


def test_loader_drop_last():
    batches = list(DataLoader(_toy(10), batch_size=4, drop_last=True))
    assert [x.shape[0] for x, _ in batches] == [4, 4]


def test_shuffle_covers_each_sample_once_and_is_reproducible_with_manual_seed():
    loader = DataLoader(_toy(50), batch_size=8, shuffle=True)
    toynn.manual_seed(0)
    epoch1, epoch2 = _labels(loader), _labels(loader)
    toynn.manual_seed(0)
    again1, again2 = _labels(loader), _labels(loader)
    np.testing.assert_array_equal(np.sort(epoch1), np.arange(50))
    np.testing.assert_array_equal(epoch1, again1)
    np.testing.assert_array_equal(epoch2, again2)
    assert not np.array_equal(epoch1, epoch2), "each epoch should draw a new order"
    assert not np.array_equal(epoch1, np.arange(50))


def test_shuffle_with_own_generator():
    a = DataLoader(_toy(30), batch_size=7, shuffle=True, generator=np.random.default_rng(3))
    b = DataLoader(_toy(30), batch_size=7, shuffle=True, generator=3)  # an int seeds a new generator
    toynn.manual_seed(99)  # must not matter
    np.testing.assert_array_equal(_labels(a), _labels(b))


def test_batches_are_made_by_array_indexing():
    class NoItems(TensorDataset):
        def __getitem__(self, index):
            raise AssertionError("DataLoader should index whole arrays, not loop over samples")

    x = np.random.default_rng(0).standard_normal((9, 3)).astype(np.float32)
    loader = DataLoader(NoItems(x, np.arange(9)), batch_size=4, shuffle=True)
    xs = np.concatenate([xb.numpy() for xb, _ in loader])
    assert sorted(map(tuple, xs.tolist())) == sorted(map(tuple, x.tolist()))


def test_generic_dataset_falls_back_to_collation():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.full((2,), i, dtype=np.float32), i * i, float(i)

    x, y, z = next(iter(DataLoader(Squares(), batch_size=5)))
    assert x.shape == (5, 2) and x.dtype == np.float32
    assert y.dtype == np.int64 and y.numpy().tolist() == [0, 1, 4, 9, 16]
    assert z.dtype == np.float32


def test_single_array_dataset_yields_tensors_and_transform_device():
    class Plain(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.full((3,), i, dtype=np.float32)

    (b,) = list(DataLoader(Plain(), batch_size=4, transform=lambda x: x * 2, device="cpu"))
    assert isinstance(b, toynn.Tensor) and b.numpy()[:, 0].tolist() == [0, 2, 4, 6]


def test_loader_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(_toy(), batch_size=0)


def test_tensor_dataset_items_and_mismatch():
    ds = _toy(5)
    x, y = ds[2]
    assert x.shape == (1, 4, 4) and int(y.item()) == 2
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))


# ---------------------------------------------------------------------------------------------
# Subset, random_split, ConcatDataset


def test_random_split_sizes_disjoint_and_reproducible():
    ds = _toy(10)
    a, b = random_split(ds, [7, 3], generator=np.random.default_rng(0))
    assert (len(a), len(b)) == (7, 3) and isinstance(a, Subset)
    assert set(a.indices).isdisjoint(b.indices) and set(a.indices) | set(b.indices) == set(range(10))
    c, _ = random_split(ds, [7, 3], generator=np.random.default_rng(0))
    assert a.indices == c.indices
    assert int(a[0][1].item()) == a.indices[0]
    np.testing.assert_array_equal(np.sort(_labels(DataLoader(a, batch_size=3))), np.sort(a.indices))


def test_random_split_fractions_like_pytorch():
    parts = random_split(_toy(11), [0.5, 0.3, 0.2])  # floor: 5, 3, 2; the remainder 1 goes to the first
    assert [len(p) for p in parts] == [6, 3, 2]
    assert len(set().union(*[set(p.indices) for p in parts])) == 11


def test_random_split_bad_lengths():
    with pytest.raises(ValueError, match="sum to 9"):
        random_split(_toy(10), [5, 4])


def test_concat_dataset():
    ds = _toy(3) + _toy(4)
    assert isinstance(ds, ConcatDataset) and len(ds) == 7
    assert int(ds[4][1].item()) == 1 and int(ds[-1][1].item()) == 3
    np.testing.assert_array_equal(_labels(DataLoader(ds, batch_size=5)), [0, 1, 2, 0, 1, 2, 3])


# ---------------------------------------------------------------------------------------------
# Transforms


def test_normalize_per_channel_and_features():
    x = np.random.default_rng(0).random((2, 3, 4, 4)).astype(np.float32)
    mean, std = [0.1, 0.2, 0.3], [0.5, 1.0, 2.0]
    out = T.Normalize(mean, std)(x)
    expected = (x - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(T.Normalize(0.5, 0.25)(x[:, 0, 0]), (x[:, 0, 0] - 0.5) / 0.25, rtol=1e-6)
    with pytest.raises(ShapeError, match="3 values"):
        T.Normalize(mean, std)(np.zeros((2, 1, 4, 4), np.float32))


def test_to_float_and_flatten_and_compose():
    x = np.array([[[[0, 51, 255]]]], dtype=np.uint8)
    out = T.ToFloat()(x)
    assert out.dtype == np.float32 and out.max() == 1.0
    np.testing.assert_allclose(out.ravel(), [0, 0.2, 1])
    assert T.Flatten()(np.zeros((5, 3, 4, 4))).shape == (5, 48)
    assert T.Compose([T.ToFloat(), T.Flatten()])(np.zeros((2, 1, 2, 2), np.uint8)).shape == (2, 4)


def test_random_crop_shapes_and_shifted_copies():
    N, C, H, W, pad = 64, 3, 8, 8, 2
    x = np.random.default_rng(0).random((N, C, H, W)).astype(np.float32) + 1  # > 0, so padding zeros stand out
    out = T.RandomCrop(H, padding=pad, generator=np.random.default_rng(1))(x)
    assert out.shape == (N, C, H, W) and out.dtype == x.dtype
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    offsets = []
    for n in range(N):  # each crop is the padded image shifted by one (i, j) for all channels
        hits = [
            (i, j)
            for i in range(2 * pad + 1)
            for j in range(2 * pad + 1)
            if np.array_equal(out[n], padded[n, :, i : i + H, j : j + W])
        ]
        assert hits, f"sample {n} is not a shifted copy"
        offsets.append(hits[0])
    assert len(set(offsets)) > 5, "offsets should differ between samples"
    small = T.RandomCrop((3, 5))(x)  # no padding: a window of the image
    assert small.shape == (N, C, 3, 5)
    with pytest.raises(ShapeError, match="larger"):
        T.RandomCrop(10)(x)


def test_random_crop_reproducible_with_seed():
    x = np.random.default_rng(0).random((16, 1, 6, 6))
    toynn.manual_seed(5)
    a = T.RandomCrop(4, padding=1)(x)
    toynn.manual_seed(5)
    np.testing.assert_array_equal(a, T.RandomCrop(4, padding=1)(x))


def test_random_horizontal_flip_is_a_mirror():
    x = np.random.default_rng(0).random((200, 3, 4, 5))
    out = T.RandomHorizontalFlip(generator=np.random.default_rng(0))(x)
    mirrored = np.array([np.array_equal(o, xi[..., ::-1]) for o, xi in zip(out, x)])
    kept = np.array([np.array_equal(o, xi) for o, xi in zip(out, x)])
    assert np.all(mirrored | kept) and 60 < mirrored.sum() < 140
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(x), x)


# ---------------------------------------------------------------------------------------------
# Digits


def test_digits_shapes_counts_range():
    pytest.importorskip("sklearn", reason="Digits needs scikit-learn")
    train, test = Digits(), Digits(train=False)
    assert (len(train), len(test)) == (1347, 450)
    x, y = train.arrays()
    assert x.shape == (1347, 1, 8, 8) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() == 0 and x.max() == 1 and set(np.unique(y)) == set(range(10))
    xa, ya = load_digits(train=False)
    np.testing.assert_array_equal(ya, test.targets)
    assert not np.array_equal(load_digits(seed=1)[1], y)
    xb, yb = next(iter(DataLoader(train, batch_size=32, shuffle=True)))
    assert xb.shape == (32, 1, 8, 8) and yb.dtype == np.int64


# ---------------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST: IDX files


def _idx(array: np.ndarray, magic: int) -> bytes:
    return struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()


def _write_mnist(folder: Path, n=5, prefix="t10k", gz=True, rows=28):
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (n, rows, rows), dtype=np.uint8), rng.integers(0, 10, n).astype(np.uint8)
    for name, data in (
        (f"{prefix}-images-idx3-ubyte", _idx(images, 0x803)),
        (f"{prefix}-labels-idx1-ubyte", _idx(labels, 0x801)),
    ):
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return images, labels


@pytest.fixture(scope="module")
def mnist():
    return MNIST(DATA / "mnist"), MNIST(DATA / "mnist", train=False)


@needs_mnist
def test_mnist_shapes_counts_checksums(mnist):
    train, test = mnist
    assert train.data.shape == (60000, 1, 28, 28) and test.data.shape == (10000, 1, 28, 28)
    assert np.bincount(train.targets).sum() == 60000 and np.bincount(test.targets, minlength=10).shape == (10,)
    assert np.bincount(test.targets).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    for name, expected in MNIST.sha256.items():  # what the constructor verified
        assert hashlib.sha256(gzip.decompress((DATA / "mnist" / (name + ".gz")).read_bytes())).hexdigest() == expected
    x, y = next(iter(DataLoader(test, batch_size=100, shuffle=True)))
    assert x.shape == (100, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    assert 0 <= x.numpy().min() and x.numpy().max() <= 1 and x.numpy().max() == 1


@needs_mnist
def test_mnist_checksum_mismatch_on_a_changed_pixel(tmp_path):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        raw = bytearray(gzip.decompress((DATA / "mnist" / (name + ".gz")).read_bytes()))
        if "images" in name:
            raw[5000] ^= 1
        (tmp_path / name).write_bytes(bytes(raw))  # raw IDX, not gzipped: also supported
    with pytest.raises(CorruptDatasetError, match="checksum mismatch") as err:
        MNIST(tmp_path, train=False)
    assert MNIST.sha256["t10k-images-idx3-ubyte"] in str(err.value) and "t10k-images-idx3-ubyte" in str(err.value)


@needs_mnist
def test_mnist_download_from_a_mirror(tmp_path, monkeypatch):
    monkeypatch.setattr(MNIST, "mirrors", [(DATA / "mnist").as_uri() + "/"])
    ds = MNIST(tmp_path / "new", train=False, download=True)
    assert len(ds) == 10000 and (tmp_path / "new" / "train-images-idx3-ubyte.gz").is_file()


def test_fashion_mnist_reads_idx_gz_and_raw(tmp_path):
    images, labels = _write_mnist(tmp_path, n=5, prefix="train")
    ds = FashionMNIST(tmp_path)  # structure only: no checksums of the uncompressed Fashion-MNIST files are known
    assert ds.data.shape == (5, 1, 28, 28) and ds.classes[0] == "T-shirt/top"
    x, y = ds.arrays()
    np.testing.assert_allclose(x[:, 0], images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)
    raw = tmp_path / "raw"
    raw.mkdir()
    _write_mnist(raw, n=5, prefix="t10k", gz=False)
    assert len(FashionMNIST(raw, train=False)) == 5


def test_idx_missing_file(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="train-images-idx3-ubyte") as err:
        MNIST(tmp_path)
    assert isinstance(err.value, FileNotFoundError)


def test_idx_bad_magic(tmp_path):
    _write_mnist(tmp_path)
    data = gzip.decompress((tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"\0\0\x08\x02" + data[4:]))
    with pytest.raises(
        CorruptDatasetError,
        match=r"t10k-images-idx3-ubyte.gz: bad magic number 0x00000802, "
        r"expected 0x00000803",
    ):
        FashionMNIST(tmp_path, train=False)


def test_idx_truncated(tmp_path):
    _write_mnist(tmp_path, n=5)
    data = gzip.decompress((tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(data[:-100]))
    expected = 16 + 5 * 28 * 28
    with pytest.raises(CorruptDatasetError, match=f"truncated: expected {expected} bytes .* got {expected - 100}"):
        FashionMNIST(tmp_path, train=False)


def test_idx_truncated_gzip_stream(tmp_path):
    _write_mnist(tmp_path, n=5)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])
    with pytest.raises(CorruptDatasetError, match="t10k-labels-idx1-ubyte.gz: corrupt or truncated gzip"):
        FashionMNIST(tmp_path, train=False)


def test_idx_count_mismatch_and_trailing_bytes(tmp_path):
    _write_mnist(tmp_path, n=5)
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(_idx(np.arange(4), 0x801)))
    with pytest.raises(CorruptDatasetError, match="count mismatch: .* 5 images but .* 4 labels"):
        FashionMNIST(tmp_path, train=False)
    labels.write_bytes(gzip.compress(_idx(np.arange(5), 0x801) + b"xx"))
    with pytest.raises(CorruptDatasetError, match="expected 13 bytes .* got 15"):
        read_idx(labels)


def test_idx_checksum_mismatch_small_file(tmp_path):
    _write_mnist(tmp_path, n=5)
    actual = hashlib.sha256(gzip.decompress((tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes())).hexdigest()
    with pytest.raises(CorruptDatasetError, match="checksum mismatch") as err:
        MNIST(tmp_path, train=False)
    assert f"expected SHA-256 {MNIST.sha256['t10k-images-idx3-ubyte']}, got {actual}" in str(err.value)


# ---------------------------------------------------------------------------------------------
# CIFAR-10 Python batches: the safe reader


def _py2_str(b: bytes) -> bytes:
    return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<i", len(b)) + b


def _py2_int(v: int) -> bytes:
    if 0 <= v < 256:
        return b"K" + bytes([v])
    return b"M" + struct.pack("<H", v) if 0 <= v < 65536 else b"J" + struct.pack("<i", v)


def _py2_pickle(entries: dict) -> bytes:
    """The byte layout of the official batches: Python 2 cPickle protocol 2 of a dict with str keys, numpy 1.x."""
    out = [b"\x80\x02}q\x01("]
    for key, value in entries.items():
        out.append(_py2_str(key))
        if isinstance(value, np.ndarray):
            out.append(
                b"cnumpy.core.multiarray\n_reconstruct\nq\x02cnumpy\nndarray\nq\x03K\x00\x85q\x04U\x01b\x87q\x05R"
                b"q\x06(K\x01" + b"".join(_py2_int(s) for s in value.shape) + b"\x86"
            )
            out.append(
                b"cnumpy\ndtype\nq\x07U\x02u1K\x00K\x01\x87Rq\x08(K\x03U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff"
                b"K\x00tb\x89" + _py2_str(value.tobytes()) + b"tb"
            )
        elif isinstance(value, list):
            out.append(b"]q\x09(" + b"".join(_py2_int(v) if isinstance(v, int) else _py2_str(v) for v in value) + b"e")
        else:
            out.append(_py2_int(value) if isinstance(value, int) else _py2_str(value))
    return b"".join(out) + b"u."


def _batch(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"batch %d" % seed,
        b"labels": rng.integers(0, 10, n).tolist(),
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [b"img_%d.png" % i for i in range(n)],
    }


def _write_cifar(root: Path, n=4) -> dict:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    batches = {
        name: _batch(n if name != "test_batch" else 3, seed)
        for seed, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"])
    }
    for name, batch in batches.items():
        (folder / name).write_bytes(_py2_pickle(batch))
    meta = {b"num_cases_per_batch": n, b"label_names": [c.encode() for c in CIFAR_CLASSES], b"num_vis": 3072}
    (folder / "batches.meta").write_bytes(_py2_pickle(meta))
    return batches


def test_py2_layout_is_a_real_pickle():
    batch = _batch(3, 0)
    with warnings.catch_warnings():  # numpy 2 warns about numpy.core; the bytes are ours, so loading them is safe
        warnings.simplefilter("ignore")
        expected = pickle.loads(_py2_pickle(batch), encoding="bytes")
    assert expected[b"labels"] == batch[b"labels"] and np.array_equal(expected[b"data"], batch[b"data"])


def test_cifar10_from_official_format_batches(tmp_path):
    batches = _write_cifar(tmp_path)
    train, test = CIFAR10(tmp_path), CIFAR10(tmp_path / "cifar-10-batches-py", train=False)
    assert train.data.shape == (20, 3, 32, 32) and test.data.shape == (3, 3, 32, 32)
    assert train.classes == CIFAR_CLASSES and test.targets.dtype == np.int64
    first = batches["data_batch_1"]
    np.testing.assert_array_equal(train.data[1], first[b"data"][1].reshape(3, 32, 32))
    np.testing.assert_array_equal(train.targets[:4], first[b"labels"])
    x, y = next(iter(DataLoader(train, batch_size=8, shuffle=True)))
    assert x.shape == (8, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_safe_reader_python3_pickles(tmp_path, protocol):
    batch = _batch(5, 1) | {b"data": np.arange(5 * 6, dtype=np.int64).reshape(5, 6).T, b"extra": (1.5, None, True)}
    (tmp_path / "b").write_bytes(pickle.dumps(batch, protocol=protocol))
    out = read_cifar_batch(tmp_path / "b")
    assert out[b"labels"] == batch[b"labels"] and out[b"filenames"] == batch[b"filenames"]
    assert out[b"extra"] == (1.5, None, True)
    np.testing.assert_array_equal(out[b"data"], batch[b"data"])  # a Fortran-ordered int64 array


def test_safe_reader_refuses_code(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("still here")

    class Evil:
        def __reduce__(self):
            return os.remove, (str(victim),)

    (tmp_path / "evil").write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(UnsafePickleError, match="refusing to import .*remove"):
        read_cifar_batch(tmp_path / "evil")
    assert victim.read_text() == "still here"
    (tmp_path / "obj").write_bytes(pickle.dumps({b"data": np.array([1, "a"], dtype=object)}, protocol=2))
    with pytest.raises(UnsafePickleError):
        read_cifar_batch(tmp_path / "obj")


def test_cifar10_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="data_batch_1"):
        CIFAR10(tmp_path)
    _write_cifar(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "test_batch"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CorruptDatasetError, match="test_batch"):
        CIFAR10(tmp_path, train=False)
    bad = _batch(3, 0) | {b"data": np.zeros((3, 100), np.uint8)}
    path.write_bytes(_py2_pickle(bad))
    with pytest.raises(CorruptDatasetError, match=r"uint8 array \(N, 3072\), got uint8 \(3, 100\)"):
        CIFAR10(tmp_path, train=False)


# ---------------------------------------------------------------------------------------------
# Image folders


def _write_pngs(root: Path):
    from PIL import Image

    colors = {"cat": (255, 0, 0), "ant": (0, 255, 0), "bee": (0, 0, 255)}
    for name, color in colors.items():
        (root / name).mkdir(parents=True)
        for k in range(3):
            Image.new("RGB", (6, 5), tuple(int(c * (k + 1) / 3) for c in color)).save(root / name / f"{k}.png")
    (root / "bee" / "notes.txt").write_text("not an image")


def test_image_folder_pngs(tmp_path):
    pytest.importorskip("PIL", reason="ImageFolder needs Pillow")
    _write_pngs(tmp_path)
    ds = ImageFolder(tmp_path)
    assert ds.classes == ["ant", "bee", "cat"] and ds.class_to_idx["cat"] == 2
    assert ds.data.shape == (9, 3, 5, 6) and ds.targets.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    x, y = ds[8]  # cat, the brightest: pure red
    assert x.shape == (3, 5, 6) and x.dtype == np.float32
    np.testing.assert_allclose(x.array[:, 0, 0], [1, 0, 0])
    small = ImageFolder(tmp_path, max_per_class=2, image_size=4, mode="L")
    assert small.data.shape == (6, 1, 4, 4) and np.bincount(small.targets).tolist() == [2, 2, 2]


def test_image_folder_errors(tmp_path):
    pytest.importorskip("PIL", reason="ImageFolder needs Pillow")
    from PIL import Image

    with pytest.raises(DatasetNotFoundError, match="no class folders"):
        ImageFolder(tmp_path)
    _write_pngs(tmp_path)
    Image.new("RGB", (7, 7)).save(tmp_path / "ant" / "9.png")
    with pytest.raises(ValueError, match="9.png is 7x7.*image_size"):
        ImageFolder(tmp_path)
    (tmp_path / "ant" / "9.png").write_bytes(b"not a png")
    with pytest.raises(CorruptDatasetError, match="9.png: cannot read image"):
        ImageFolder(tmp_path)


@needs_cifar_jpeg
def test_image_folder_cifar10_jpeg(tmp_path):
    pytest.importorskip("PIL", reason="ImageFolder needs Pillow")
    # the first 5 images of each class (writing all 10000 small files takes seconds on a busy disk)
    first5 = re.compile(r"test/[a-z]+/000[0-4]\.jpg").fullmatch
    root = extract_archive(DATA / "cifar10-jpeg" / "test.tar.gz", tmp_path, members=first5)
    ds = ImageFolder(root / "test", max_per_class=5)
    assert ds.classes == CIFAR_CLASSES
    assert ds.data.shape == (50, 3, 32, 32) and np.bincount(ds.targets).tolist() == [5] * 10
    x, y = next(iter(DataLoader(ds, batch_size=16, shuffle=True)))
    assert x.shape == (16, 3, 32, 32) and x.dtype == np.float32 and y.dtype == np.int64
    assert 0 <= x.numpy().min() and x.numpy().max() <= 1


def test_extract_archive_missing(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="nothing.tar.gz"):
        extract_archive(tmp_path / "nothing.tar.gz", tmp_path / "out")


def test_extract_archive_tar(tmp_path):
    import tarfile

    (tmp_path / "src" / "a").mkdir(parents=True)
    (tmp_path / "src" / "a" / "f.txt").write_text("hi")
    with tarfile.open(tmp_path / "x.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "src" / "a", arcname="a")
    out = extract_archive(tmp_path / "x.tar.gz", tmp_path / "cache")
    assert (out / "a" / "f.txt").read_text() == "hi"
    shutil.rmtree(out / "a")
    extract_archive(tmp_path / "x.tar.gz", tmp_path / "cache")  # cached: not extracted again
    assert not (out / "a").exists()
    extract_archive(tmp_path / "x.tar.gz", tmp_path / "some", members=lambda name: name.endswith(".txt"))
    assert (tmp_path / "some" / "a" / "f.txt").is_file()
