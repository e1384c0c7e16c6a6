"""Data sets held as arrays: scikit-learn's digits, MNIST and Fashion-MNIST (IDX files), CIFAR-10 (the official
archive, its Python batches, read by a restricted pickle interpreter that never unpickles, or image folders) and
image folders (a directory or an archive), plus the readers and checks behind them. Nothing downloads unless
download=True."""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import pickletools
import re
import struct
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..tensor import Tensor
from .dataset import Dataset, _fetch
from .files import (
    ARCHIVE_SUFFIXES,
    DEFLATE_MAX_RATIO,
    CorruptDatasetError,
    DatasetNotFoundError,
    extract_archive,
    extracted,
    is_archive,
    is_gzip,
    open_image,
    read_into,
    read_up_to,
)
from .images import image_planes


class UnsafePickleError(CorruptDatasetError):
    """A pickle asks for an import or opcode outside the CIFAR-10 batch format, so the safe reader refuses it."""


# ---------------------------------------------------------------------------------------------
# Array-backed data sets


def _to_float(x: np.ndarray) -> np.ndarray:
    """uint8 0..255 -> float32 [0, 1]; float32 stays as it is."""
    if x.dtype == np.uint8:
        return np.divide(x, np.float32(255), dtype=np.float32)
    return x.astype(np.float32, copy=False)


class _ArrayDataset(Dataset):
    """Images (N, C, H, W) and labels (N,) int64 held as arrays; samples and batches are float32 in [0, 1].

    Without transforms, dataset[i] is (Tensor (C, H, W) float32 in [0, 1], int) and a batch is one fancy index
    (__getitems__). With transform= or target_transform= (torchvision's call form), they run per sample, as in
    torchvision: transform gets the image as torchvision hands it, a PIL image ('L' for one channel, 'RGB' for
    three) for uint8 data when Pillow is installed (else a uint8 (H, W, C) array; toynn's transforms take both),
    a float (C, H, W) Tensor for float data; target_transform gets the label as an int.

    NOTE: images are kept as stored (uint8 for the files) and scaled per batch, which keeps CIFAR-10's 50000
    training images at 150 MB instead of 600 MB.
    """

    classes: list[str] = []

    def _set(self, data, targets: np.ndarray, classes, transform, target_transform) -> None:
        self.data, self.targets, self.classes = data, targets.astype(np.int64, copy=False), list(classes)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.targets)

    def _per_sample(self) -> bool:
        return self.transform is not None or self.target_transform is not None

    def _image(self, index):
        """Image index as torchvision gives it to a transform: a PIL image for uint8 data (see the class)."""
        a = self.data[index]  # (C, H, W)
        if a.dtype != np.uint8:
            return Tensor(_to_float(a))
        try:
            from PIL import Image
        except ImportError:
            return np.ascontiguousarray(a.transpose(1, 2, 0))  # (C, H, W) -> (H, W, C)
        if a.shape[0] == 1:
            return Image.fromarray(np.ascontiguousarray(a[0]), mode="L")
        return Image.fromarray(np.ascontiguousarray(a.transpose(1, 2, 0)), mode="RGB")  # (C, H, W) -> (H, W, C)

    def _tensor_image(self, index) -> Tensor:
        return Tensor(_to_float(self.data[index]))

    def __getitem__(self, index):
        """One sample as torchvision gives it: (image, label); see the class for what the image is."""
        if not self._per_sample():
            x, y = self.__getitems__(np.array([index]))
            return Tensor(x[0]), (y[0].item() if isinstance(y[0], np.generic) else y[0])
        y = int(self.targets[index])
        x = self.transform(self._image(index)) if self.transform is not None else self._tensor_image(index)
        return x, (self.target_transform(y) if self.target_transform is not None else y)

    def __getitems__(self, indices):
        """indices (B,) -> images (B, C, H, W) float32 in [0, 1], labels (B,) int64; with transforms, the list of
        the B samples (DataLoader collates them)."""
        if self._per_sample():
            return [self[int(i)] for i in indices]
        return _to_float(self.data[indices]), self.targets[indices]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole set as (images (N, C, H, W) float32 in [0, 1], labels (N,) int64), transforms applied."""
        return _fetch(self, np.arange(len(self)))

    def __repr__(self) -> str:
        split = {True: "train", False: "test"}.get(getattr(self, "train", None), "")
        shape = f" {tuple(self.data.shape[1:])}" if self.data is not None else ""
        return f"{type(self).__name__}({split + ', ' if split else ''}{len(self)} images{shape})"


def load_digits(train: bool = True, test_fraction: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits, a fixed seeded split: images (N, 1, 8, 8) float32 in [0, 1], labels (N,)."""
    from sklearn.datasets import load_digits as sklearn_digits

    if not 0 < test_fraction < 1:
        raise ValueError(f"load_digits: test_fraction should be in (0, 1), got {test_fraction}")
    bunch = sklearn_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None]  # (1797, 8, 8) in 0..16 -> (1797, 1, 8, 8) in [0, 1]
    labels = bunch.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(labels))
    n_test = math.ceil(len(labels) * test_fraction)  # as sklearn's train_test_split: 450 test, 1347 train
    index = np.sort(perm[n_test:] if train else perm[:n_test])
    return images[index], labels[index]


class Digits(_ArrayDataset):
    """scikit-learn's 8x8 digits (1797 images, no download): images (N, 1, 8, 8) float32 in [0, 1], labels (N,)."""

    classes = [str(i) for i in range(10)]

    def __init__(
        self, train: bool = True, test_fraction: float = 0.25, seed: int = 0, transform=None, target_transform=None
    ):
        self.train = train
        images, labels = load_digits(train, test_fraction, seed)
        self._set(images, labels, type(self).classes, transform, target_transform)


# ---------------------------------------------------------------------------------------------
# IDX files (MNIST, Fashion-MNIST)

_IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


IDX_SLACK = 1 << 16  # trailing bytes past the header's size that are read to report them; more are refused


def read_idx(path, sha256: str | None = None, magic: int | None = None) -> np.ndarray:
    """An IDX file (raw or gzip) -> array of its shape, e.g. uint8 (N,) labels or (N, rows, cols) images.

    Checks the header (magic, or the expected one when given), that the size matches the header's dimensions,
    and, when given, the SHA-256 of the uncompressed bytes. Raises CorruptDatasetError naming the file.
    NOTE: a gzip stream is inflated in chunks straight into the array, and refused once it goes on more than
    IDX_SLACK bytes past the size its header gives: a gzip bomb never inflates beyond that.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"{path}: no such file")
    compressed = is_gzip(path)
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as f:
            return _read_idx(f, path, compressed, sha256, magic)
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError; a cut-off stream an EOFError
        if isinstance(err, OSError) and err.errno is not None:
            raise
        raise CorruptDatasetError(f"{path}: corrupt or truncated gzip stream ({err})") from None


def _read_idx(f, path: Path, compressed: bool, sha256: str | None, magic: int | None) -> np.ndarray:
    head = read_up_to(f, 4)
    if len(head) < 4:
        raise CorruptDatasetError(f"{path}: truncated: expected at least a 4-byte IDX header, got {len(head)} bytes")
    found = int.from_bytes(head, "big")
    if magic is not None and found != magic:
        raise CorruptDatasetError(f"{path}: bad magic number 0x{found:08x}, expected 0x{magic:08x}")
    code, ndim = head[2], head[3]
    if head[:2] != b"\0\0" or code not in _IDX_TYPES or ndim == 0:
        raise CorruptDatasetError(f"{path}: bad magic number 0x{found:08x}: not an IDX file")
    header = 4 + 4 * ndim
    head += read_up_to(f, 4 * ndim)
    if len(head) < header:
        raise CorruptDatasetError(f"{path}: truncated: expected a {header}-byte header, got {len(head)} bytes")
    dims = struct.unpack(f">{ndim}I", head[4:header])
    dtype = _IDX_TYPES[code]
    count = math.prod(dims)
    expected = header + count * dtype.itemsize
    size = path.stat().st_size
    most = DEFLATE_MAX_RATIO * size if compressed else size  # checked before allocating what the header asks for
    if expected > most:
        how = f"a gzip stream of {size} bytes inflates to at most {most}" if compressed else f"got {size}"
        raise CorruptDatasetError(f"{path}: truncated: expected {expected} bytes for dimensions {dims}, {how}")
    array = np.empty(count, dtype=dtype)
    got = header + read_into(f, memoryview(array.view(np.uint8)))
    if got < expected:
        raise CorruptDatasetError(f"{path}: truncated: expected {expected} bytes for dimensions {dims}, got {got}")
    trailing = len(read_up_to(f, IDX_SLACK + 1))
    if trailing > IDX_SLACK:
        raise CorruptDatasetError(
            f"{path}: size mismatch: expected {expected} bytes for dimensions {dims}, but the "
            f"{'gzip stream inflates' if compressed else 'file goes on'} past {expected + IDX_SLACK}: refused "
            "without reading further (a corrupt file, or a decompression bomb)"
        )
    if trailing:
        raise CorruptDatasetError(
            f"{path}: size mismatch: expected {expected} bytes for dimensions {dims}, "
            f"got {expected + trailing} ({trailing} trailing bytes)"
        )
    if sha256 is not None:
        digest = hashlib.sha256(head)
        digest.update(memoryview(array.view(np.uint8)))
        actual = digest.hexdigest()
        if actual != sha256:
            raise CorruptDatasetError(
                f"{path}: checksum mismatch of the uncompressed content: expected SHA-256 {sha256}, got {actual}"
            )
    array = array.reshape(dims)
    return array if dtype.isnative or dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


def _download(urls: Sequence[str], dest: Path, md5: str | None = None) -> None:
    """Fetch the first of urls that answers into dest (through a temporary file); check its MD5 when given."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for url in urls:
        tmp = dest.with_name(dest.name + ".part")
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as f:
                while chunk := response.read(1 << 20):
                    f.write(chunk)
        except OSError as err:
            errors.append(f"{url}: {err}")
            tmp.unlink(missing_ok=True)
            continue
        if md5 is not None:
            actual = hashlib.md5(tmp.read_bytes(), usedforsecurity=False).hexdigest()
            if actual != md5:
                tmp.unlink()
                errors.append(f"{url}: checksum mismatch: expected MD5 {md5}, got {actual}")
                continue
        os.replace(tmp, dest)
        return
    raise RuntimeError(f"could not download {dest.name}: " + "; ".join(errors))


class MNIST(_ArrayDataset):
    """MNIST from the IDX files in root (gz or raw): images (N, 1, 28, 28) float32 in [0, 1], labels (N,) int64.

    N = 60000 (train) or 10000 (test). The SHA-256 of each file's uncompressed content is checked.
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"]
    files = {
        True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    sha256 = {  # of the uncompressed official files
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    }
    gz_md5: dict[str, str] = {}  # the downloaded files are checked through sha256 above
    classes = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]

    def __init__(self, root, train: bool = True, transform=None, target_transform=None, download: bool = False):
        self.root, self.train = Path(root), bool(train)
        if download:
            self.download()
        image_name, label_name = self.files[self.train]
        image_path, label_path = self._find(image_name), self._find(label_name)
        images = read_idx(image_path, sha256=self.sha256.get(image_name), magic=0x00000803)
        labels = read_idx(label_path, sha256=self.sha256.get(label_name), magic=0x00000801)
        if len(images) != len(labels):
            raise CorruptDatasetError(
                f"{type(self).__name__}: count mismatch: {image_path} holds {len(images)} "
                f"images but {label_path} holds {len(labels)} labels"
            )
        if labels.size and labels.max() >= len(self.classes):
            raise CorruptDatasetError(f"{label_path}: label {labels.max()} out of range 0..{len(self.classes) - 1}")
        self._set(images[:, None], labels, type(self).classes, transform, target_transform)  # (N, 1, rows, cols)

    def _folders(self) -> list[Path]:
        return [self.root, self.root / type(self).__name__ / "raw"]  # also torchvision's layout

    def _find(self, name: str) -> Path:
        for folder in self._folders():
            for candidate in (folder / name, folder / (name + ".gz")):
                if candidate.is_file():
                    return candidate
        every = ", ".join(f"{n}.gz" for pair in self.files.values() for n in pair)
        raise DatasetNotFoundError(
            f"{type(self).__name__}: found neither {self.root / name}.gz nor {self.root / name}; "
            f"put the four IDX files ({every}, from {self.mirrors[0]}) in {self.root}"
        )

    def download(self) -> None:
        """Fetch the four .gz files that root lacks from the mirrors (network needed)."""
        for name in [n for pair in self.files.values() for n in pair]:
            if any((folder / n).is_file() for folder in self._folders() for n in (name, name + ".gz")):
                continue
            _download([m + name + ".gz" for m in self.mirrors], self.root / (name + ".gz"), self.gz_md5.get(name))


class FashionMNIST(MNIST):
    """Fashion-MNIST from IDX files in root: images (N, 1, 28, 28) float32 in [0, 1], labels (N,) int64.

    NOTE: only the structure is checked on load (magic, sizes, counts): the official checksums known are MD5s of
    the .gz files, not of the uncompressed content, so they are only checked on download.
    """

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    sha256: dict[str, str] = {}
    gz_md5 = {  # official .gz files (Zalando's README, torchvision)
        "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


# ---------------------------------------------------------------------------------------------
# A safe reader of the CIFAR-10 Python batches (pickles)
#
# NOTE: the batches are pickles; pickle.load would run whatever callable the file names. This reader walks the
# opcodes with pickletools.genops (which only decodes them) and builds the few objects the format holds itself:
# dicts, lists, tuples, ints, floats, strings, bytes and NumPy arrays of plain numeric dtypes. Any other import
# or opcode is refused with UnsafePickleError. Nothing in the file is ever called.


class _Global:
    def __init__(self, kind: str):
        self.kind = kind


class _DtypeStub:
    def __init__(self, dtype: np.dtype):
        self.dtype = dtype


class _ArrayStub:
    array: np.ndarray | None = None


_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy.core.numeric", "_frombuffer"): "frombuffer",
    ("numpy._core.numeric", "_frombuffer"): "frombuffer",
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
    ("_codecs", "encode"): "encode",  # Python 3 bytes in protocol 2
    ("__builtin__", "bytes"): "bytes",
    ("builtins", "bytes"): "bytes",
}
_DTYPE_CODE = re.compile(r"[<>|=]?(b1|[iu][1248]|f[248])")
_CONST_OPS = {
    "INT",
    "BININT",
    "BININT1",
    "BININT2",
    "LONG",
    "LONG1",
    "LONG4",
    "FLOAT",
    "BINFLOAT",
    "UNICODE",
    "BINUNICODE",
    "SHORT_BINUNICODE",
    "BINUNICODE8",
    "BINBYTES",
    "SHORT_BINBYTES",
    "BINBYTES8",
}
_STR2_OPS = {"STRING", "BINSTRING", "SHORT_BINSTRING"}  # Python 2 str: bytes, as pickle.load(encoding="bytes")


def _dtype(state, where: str) -> np.dtype:
    if isinstance(state, _DtypeStub):
        return state.dtype
    raise UnsafePickleError(f"{where}: expected a numpy dtype, got {type(state).__name__}")


def _reduce(func, args, where: str):
    """Apply one of the allowed callables (our own stand-ins, never the named one) to its pickled arguments."""
    if not isinstance(func, _Global) or not isinstance(args, tuple):
        raise UnsafePickleError(f"{where}: REDUCE of {type(func).__name__} is not part of the format")
    if func.kind == "reconstruct" and len(args) == 3 and isinstance(args[0], _Global) and args[0].kind == "ndarray":
        return _ArrayStub()
    if func.kind == "dtype" and 1 <= len(args) <= 3 and isinstance(args[0], (str, bytes)):
        code = args[0].decode("latin-1") if isinstance(args[0], bytes) else args[0]  # a Python 2 str
        if not _DTYPE_CODE.fullmatch(code):
            raise UnsafePickleError(f"{where}: dtype {code!r} is not a plain numeric dtype")
        return _DtypeStub(np.dtype(code))
    if func.kind == "frombuffer" and len(args) == 4 and isinstance(args[0], (bytes, bytearray)):
        buf, dtype, shape, order = args
        return _make_array(shape, _dtype(dtype, where), order == "F", buf, where)
    if func.kind == "encode" and len(args) == 2 and isinstance(args[0], str) and args[1] in ("latin1", "latin-1"):
        return args[0].encode("latin-1")
    if func.kind == "bytes" and args == ():
        return b""
    raise UnsafePickleError(f"{where}: call of {func.kind} with these arguments is not part of the format")


def _make_array(shape, dtype: np.dtype, fortran: bool, raw, where: str) -> np.ndarray:
    if not isinstance(shape, tuple) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise CorruptDatasetError(f"{where}: bad array shape {shape!r}")
    if not isinstance(raw, (bytes, bytearray)):
        raise UnsafePickleError(f"{where}: array data should be bytes, got {type(raw).__name__}")
    expected = math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        raise CorruptDatasetError(
            f"{where}: truncated array: expected {expected} bytes for shape {shape} {dtype}, got {len(raw)}"
        )
    array = np.frombuffer(bytes(raw), dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return array if dtype.isnative or dtype.itemsize == 1 else array.astype(dtype.newbyteorder("="))


def _build(obj, state, where: str) -> None:
    if isinstance(obj, _DtypeStub) and isinstance(state, tuple) and len(state) >= 2:
        order = state[1].decode("latin-1") if isinstance(state[1], bytes) else state[1]  # b"|" from Python 2
        if order not in ("<", ">", "|", "=") or any(s is not None for s in state[2:5]):
            raise UnsafePickleError(f"{where}: only plain numeric dtypes are allowed, got state {state[:5]!r}")
        obj.dtype = obj.dtype.newbyteorder(order) if order in "<>" else obj.dtype
    elif isinstance(obj, _ArrayStub) and isinstance(state, tuple) and len(state) in (4, 5):
        shape, dtype, fortran, raw = state[-4:]
        obj.array = _make_array(shape, _dtype(dtype, where), bool(fortran), raw, where)
    else:
        raise UnsafePickleError(f"{where}: BUILD of {type(obj).__name__} is not part of the format")


def _resolve(obj, where: str):
    """Replace array stand-ins by their arrays; refuse anything but containers, numbers, strings and arrays."""
    if isinstance(obj, _ArrayStub):
        if obj.array is None:
            raise CorruptDatasetError(f"{where}: an array without data")
        return obj.array
    if isinstance(obj, dict):
        return {k: _resolve(v, where) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_resolve(v, where) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_resolve(v, where) for v in obj)
    if obj is None or isinstance(obj, (bool, int, float, str, bytes, bytearray, np.ndarray)):
        return obj
    raise UnsafePickleError(f"{where}: a {type(obj).__name__} is not part of the format")


def _safe_unpickle(data: bytes, where: str):
    """Interpret a pickle's opcodes for the CIFAR batch subset -> the object; never imports or calls what it names."""
    stack: list = []
    marks: list[list] = []
    memo: dict = {}
    try:
        for op, arg, pos in pickletools.genops(data):
            name = op.name
            if name in ("PROTO", "FRAME"):
                continue
            if name == "STOP":
                break
            if name in _CONST_OPS:
                stack.append(arg)
            elif name in _STR2_OPS:
                stack.append(arg.encode("latin-1"))
            elif name == "BYTEARRAY8":
                stack.append(bytes(arg))
            elif name == "NONE":
                stack.append(None)
            elif name in ("NEWTRUE", "NEWFALSE"):
                stack.append(name == "NEWTRUE")
            elif name == "MARK":
                marks.append(stack)
                stack = []
            elif name == "EMPTY_DICT":
                stack.append({})
            elif name == "EMPTY_LIST":
                stack.append([])
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                items = tuple(stack[-n:])
                if len(items) != n:
                    raise IndexError("stack underflow")
                del stack[-n:]
                stack.append(items)
            elif name in ("TUPLE", "LIST", "DICT", "APPENDS", "SETITEMS", "POP_MARK"):
                items, stack = stack, marks.pop()
                if name == "TUPLE":
                    stack.append(tuple(items))
                elif name == "LIST":
                    stack.append(items)
                elif name == "DICT":
                    stack.append(dict(zip(items[::2], items[1::2], strict=True)))
                elif name == "APPENDS":
                    _container(stack[-1], list, where, pos).extend(items)
                elif name == "SETITEMS":
                    _container(stack[-1], dict, where, pos).update(zip(items[::2], items[1::2], strict=True))
            elif name == "APPEND":
                value = stack.pop()
                _container(stack[-1], list, where, pos).append(value)
            elif name == "SETITEM":
                value, key = stack.pop(), stack.pop()
                _container(stack[-1], dict, where, pos)[key] = value
            elif name == "POP":
                stack.pop()
            elif name == "DUP":
                stack.append(stack[-1])
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo[arg])
            elif name in ("GLOBAL", "STACK_GLOBAL"):
                if name == "GLOBAL":
                    module, qualname = arg.split(" ", 1)
                else:
                    qualname, module = stack.pop(), stack.pop()
                kind = _GLOBALS.get((module, qualname))
                if kind is None:
                    raise UnsafePickleError(
                        f"{where}: refusing to import {module}.{qualname} (byte {pos}); the "
                        "CIFAR-10 batch format only holds dicts, lists, strings and arrays"
                    )
                stack.append(_Global(kind))
            elif name == "REDUCE":
                args, func = stack.pop(), stack.pop()
                stack.append(_reduce(func, args, f"{where} (byte {pos})"))
            elif name == "BUILD":
                state = stack.pop()
                _build(stack[-1], state, f"{where} (byte {pos})")
            else:
                raise UnsafePickleError(f"{where}: opcode {name} (byte {pos}) is not part of the CIFAR-10 batch format")
    except CorruptDatasetError:
        raise
    except ValueError as err:  # genops: unknown opcode, or data that ends before STOP
        raise CorruptDatasetError(f"{where}: not a valid pickle or truncated ({err})") from None
    except (IndexError, KeyError, TypeError) as err:
        raise CorruptDatasetError(f"{where}: malformed pickle ({type(err).__name__}: {err})") from None
    if len(stack) != 1 or marks:
        raise CorruptDatasetError(f"{where}: malformed pickle (stack holds {len(stack)} objects at STOP)")
    return _resolve(stack[0], where)


def _container(obj, kind: type, where: str, pos: int):
    if not isinstance(obj, kind):
        raise UnsafePickleError(f"{where}: byte {pos} adds items to a {type(obj).__name__}, expected a {kind.__name__}")
    return obj


def read_cifar_batch(path) -> dict:
    """One CIFAR-10 Python batch (a pickled dict) -> dict with bytes keys (b'data', b'labels', ...); never unpickles."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{path}: no such file") from None
    obj = _safe_unpickle(raw, str(path))
    if not isinstance(obj, dict):
        raise CorruptDatasetError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
    return obj


def _field(batch: dict, key: str, path: Path):
    for k in (key.encode(), key):  # official files have bytes keys (Python 2 str); accept str keys too
        if k in batch:
            return batch[k]
    raise CorruptDatasetError(f"{path}: missing key {key!r}; found {sorted(map(str, batch))}")


CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


class CIFAR10(_ArrayDataset):
    """CIFAR-10 as users have it: images (N, 3, 32, 32) float32 in [0, 1], labels (N,) int64; N = 50000 (train) or
    10000 (test). root is one of:

    - the official archive cifar-10-python.tar.gz, or a folder holding it (unpacked once into the cache folder);
    - its Python batches: root or root/cifar-10-batches-py holding data_batch_1..5, test_batch, batches.meta;
    - image folders root/train/<class>/*.jpg and root/test/<class>/*.jpg with the ten classes, or their archives
      root/train.tar.gz and root/test.tar.gz (images of another size are resized to 32x32).

    Only the split asked for is read.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [f"data_batch_{i}" for i in range(1, 6)]
    test_list = ["test_batch"]
    meta = "batches.meta"

    def __init__(self, root, train: bool = True, transform=None, target_transform=None, download: bool = False):
        self.root, self.train = Path(root), bool(train)
        if download:
            self.download()
        root = _unwrap(extracted(self.root)) if is_archive(self.root) else self.root
        has_batches = (root / self.base_folder).is_dir() or (root / self.meta).is_file()
        if not has_batches and (root / self.filename).is_file():
            root, has_batches = extracted(root / self.filename), True
        if has_batches:
            images, labels, names = self._read_batches(root)
        else:
            split = "train" if self.train else "test"
            folder = find_split(root, split)
            if folder is None:
                raise DatasetNotFoundError(
                    f"CIFAR10: no CIFAR-10 {split} set found in {self.root}; put there one of: the official archive "
                    f"{self.filename} (from https://www.cs.toronto.edu/~kriz/cifar.html), its extracted folder "
                    f"{self.base_folder}/ (data_batch_1..5, test_batch, batches.meta), or image folders "
                    "train/<class>/*.jpg and test/<class>/*.jpg (or their archives train.tar.gz and test.tar.gz)"
                )
            check_classes(class_folders(folder), CIFAR10_CLASSES, f"CIFAR10: {folder}", "CIFAR-10's classes")
            samples = image_files(folder, CIFAR10_CLASSES)
            images, labels, names = read_images(samples, (32, 32), "RGB"), samples_labels(samples), CIFAR10_CLASSES
        self._set(images, labels, names, transform, target_transform)

    def _read_batches(self, root: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
        folder = root / self.base_folder if (root / self.base_folder).is_dir() else root
        missing = [n for n in self.train_list + self.test_list + [self.meta] if not (folder / n).is_file()]
        needed = (self.train_list if self.train else self.test_list) + [self.meta]
        if any(n in missing for n in needed):
            raise DatasetNotFoundError(
                f"CIFAR10: {', '.join(n for n in needed if n in missing)} not found in {folder}; put there all of "
                f"the Python batches ({', '.join(self.train_list + self.test_list)}, {self.meta}), or the official "
                f"archive {self.filename} in {self.root}"
            )
        names = [
            str(c.decode() if isinstance(c, bytes) else c)
            for c in _field(read_cifar_batch(folder / self.meta), "label_names", folder / self.meta)
        ]
        images, labels = [], []
        for name in self.train_list if self.train else self.test_list:
            path = folder / name
            batch = read_cifar_batch(path)
            data, y = _field(batch, "data", path), _field(batch, "labels", path)
            if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
                found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
                raise CorruptDatasetError(f"{path}: data should be a uint8 array (N, 3072), got {found}")
            y = np.asarray(y)
            if y.shape != (len(data),) or y.dtype.kind not in "iu":
                raise CorruptDatasetError(
                    f"{path}: count mismatch: {len(data)} images but labels of shape {y.shape} ({y.dtype})"
                )
            if y.size and (y.min() < 0 or y.max() >= len(names)):
                raise CorruptDatasetError(f"{path}: labels out of range 0..{len(names) - 1}")
            images.append(data.reshape(-1, 3, 32, 32))  # (n, 3072) -> (n, 3, 32, 32), channel-major as stored
            labels.append(y.astype(np.int64))
        return np.concatenate(images), np.concatenate(labels), names

    def download(self) -> None:
        """Fetch and unpack the official archive into root unless the batches are there (network needed)."""
        if (self.root / self.base_folder / self.meta).is_file() or (self.root / self.meta).is_file():
            return
        archive = self.root / self.filename
        if not archive.is_file():
            _download([self.url], archive, self.tgz_md5)
        extract_archive(archive, self.root)


# ---------------------------------------------------------------------------------------------
# Image folders

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _unwrap(folder: Path) -> Path:
    """The one folder inside folder when it holds nothing else (an archive of mydata/train/...), else folder."""
    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name not in ("train", "test"):
        return entries[0]
    return folder


def find_split(root, split: str) -> Path | None:
    """The folder of split ('train' or 'test') of an image-folder data set, <split>/<class>/<image>, or None.

    root is a folder holding split/ or an archive split.tar.gz (.tgz, .zip, ...) of it, or an archive holding
    split/ (archives are unpacked once into the cache folder, see files.extracted).
    """
    root = Path(root)
    if is_archive(root):
        root = _unwrap(extracted(root))
    if not root.is_dir():
        return None
    if (root / split).is_dir():
        return root / split
    for suffix in ARCHIVE_SUFFIXES:
        if (root / (split + suffix)).is_file():
            dest = extracted(root / (split + suffix))
            return dest / split if (dest / split).is_dir() else _unwrap(dest)
    return None


def class_folders(root: Path) -> list[str]:
    """The class names of an image folder: its subfolders, sorted (labels are their indices)."""
    return sorted(d.name for d in Path(root).iterdir() if d.is_dir() and not d.name.startswith("."))


def check_classes(found: Sequence[str], expected: Sequence[str], where: str, what: str) -> None:
    """Raise ValueError naming the classes when found differs from expected: labels are class indices, so a
    mismatch would silently score one class as another."""
    found, expected = [str(c) for c in found], [str(c) for c in expected]
    if found == expected:
        return
    extra, missing = [c for c in found if c not in expected], [c for c in expected if c not in found]
    detail = (
        "; ".join(
            part
            for part in (
                f"{', '.join(extra)} not in {what}" if extra else "",
                f"{', '.join(missing)} missing" if missing else "",
            )
            if part
        )
        or "the same names in another order"
    )
    raise ValueError(
        f"{where} holds the classes {{{', '.join(found)}}} but {what} are {{{', '.join(expected)}}} ({detail}); "
        "labels are class indices, so each split must hold the same class folders"
    )


def image_files(
    root: Path,
    classes: Sequence[str],
    extensions=IMG_EXTENSIONS,
    max_per_class=None,
    is_valid_file=None,
    allow_empty: bool = False,
):
    """(path, label) of the images in root/<class>/**, classes in the given order, files sorted by name.

    A file is an image when its suffix is one of extensions or, when given, is_valid_file(path) says so. An empty
    class folder raises DatasetNotFoundError unless allow_empty.
    """
    exts = tuple(e.lower() for e in extensions)
    samples: list[tuple[str, int]] = []
    for label, name in enumerate(classes):
        if is_valid_file is None:
            files = sorted(p for p in (root / name).rglob("*") if p.suffix.lower() in exts and p.is_file())
        else:
            files = sorted(p for p in (root / name).rglob("*") if p.is_file() and is_valid_file(str(p)))
        if not files and not allow_empty:
            what = "valid file (is_valid_file)" if is_valid_file is not None else f"image ({', '.join(exts)})"
            raise DatasetNotFoundError(f"ImageFolder: class folder {root / name} holds no {what}")
        samples += [(str(p), label) for p in files[:max_per_class]]
    return samples


def samples_labels(samples) -> np.ndarray:
    return np.array([y for _, y in samples], dtype=np.int64)


def load_image(path, mode: str = "RGB", image_size=None):
    """One image file -> a PIL image in mode ('RGB' or 'L'), resized (bilinear) to image_size (int or (h, w)) when
    given. 16-bit and 32-bit grey is scaled from its full range, transparent pixels become white, and the file is
    opened within Pillow's decompression-bomb limit (files.open_image)."""
    from PIL import Image

    with open_image(path) as im:
        if im.mode.startswith("I") or im.mode == "F":  # 16- and 32-bit grey: scaled, not clipped at 255
            im = Image.fromarray(np.round(image_planes(im)[0] * 255).astype(np.uint8))
        elif "A" in im.mode or "transparency" in im.info:  # composite on white, not on the hidden colours
            rgba = im.convert("RGBA")
            im = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
        im = im.convert(mode)
    if image_size is not None:
        h, w = _hw(image_size)
        if im.size != (w, h):
            im = im.resize((w, h), Image.BILINEAR)  # PIL sizes are (w, h)
    return im


def read_images(samples, image_size=None, mode: str = "RGB") -> np.ndarray:
    """Decode the image files of samples [(path, label)] -> uint8 (N, C, H, W); C = 3 for mode 'RGB', 1 for 'L'.

    image_size (int or (h, w)) resizes every image (bilinear); without it all must share one size. Transparent
    pixels become white. Each file is opened within Pillow's decompression-bomb limit (files.open_image).
    """
    data = None
    for k, (path, _) in enumerate(samples):
        a = np.asarray(load_image(path, mode, image_size), dtype=np.uint8)
        a = a[:, :, None] if a.ndim == 2 else a  # (H, W) -> (H, W, 1)
        if data is None:
            data = np.empty((len(samples),) + a.shape, dtype=np.uint8)  # (N, H, W, C)
        elif a.shape != data.shape[1:]:
            raise ValueError(
                f"ImageFolder: {path} is {a.shape[1]}x{a.shape[0]} ({a.shape[2]} channels), but "
                f"{samples[0][0]} is {data.shape[2]}x{data.shape[1]}: the images differ in size; resize them all "
                "with image_size= (on the command line: toynn train --image-size)"
            )
        data[k] = a
    return np.ascontiguousarray(data.transpose(0, 3, 1, 2))  # (N, H, W, C) -> (N, C, H, W)


class ImageFolder(_ArrayDataset):
    """Images in root/<class>/**/<file>, classes sorted by name -> labels 0..K-1 (torchvision's ImageFolder).

    Two ways to read them:
    - toynn's (no transform, no loader): every image is decoded now with Pillow into one array, images
      (N, C, H, W) uint8 (C = 3 for mode 'RGB', 1 for 'L'), given as float32 in [0, 1] (see _ArrayDataset);
      all must share one size unless image_size (int or (h, w)) resizes them;
    - torchvision's (transform= or loader= given, or lazy=True): each image is decoded when it is asked for, the
      PIL image (RGB by default: loader(path), or toynn's safe reader) handed to transform, as torchvision does;
      images of any size then work, and DataLoader(num_workers=) decodes in parallel.

    root may also be a .tar.gz/.zip archive of such a folder (unpacked once into the cache folder). A file is an
    image when its suffix is one of extensions (IMG_EXTENSIONS), or when is_valid_file(path) says so; empty class
    folders are refused unless allow_empty. max_per_class keeps the first files of each class (sorted by name).
    """

    def __init__(
        self,
        root,
        transform=None,
        target_transform=None,
        loader=None,
        is_valid_file=None,
        allow_empty: bool = False,
        *,
        image_size=None,
        max_per_class: int | None = None,
        mode: str = "RGB",
        extensions: Sequence[str] | None = None,
        lazy: bool | None = None,
    ):
        self.root = Path(root)
        if extensions is not None and is_valid_file is not None:
            raise ValueError("ImageFolder: both extensions and is_valid_file were given; pass only one of them")
        folder = _unwrap(extracted(self.root)) if is_archive(self.root) else self.root
        if not folder.is_dir():
            raise DatasetNotFoundError(f"ImageFolder: {self.root} is not a folder (nor a .tar.gz/.zip archive)")
        classes = class_folders(folder)
        if not classes:
            raise DatasetNotFoundError(f"ImageFolder: no class folders in {self.root}; expected root/<class>/<image>")
        if max_per_class is not None and max_per_class <= 0:
            raise ValueError(f"ImageFolder: max_per_class should be positive, got {max_per_class}")
        exts = IMG_EXTENSIONS if extensions is None else extensions
        samples = image_files(folder, classes, exts, max_per_class, is_valid_file, allow_empty)
        self.samples = self.imgs = samples
        self.loader, self.mode, self.image_size = loader, mode, image_size
        self.lazy = (transform is not None or loader is not None) if lazy is None else bool(lazy)
        images = None if self.lazy else read_images(samples, image_size, mode)
        self._set(images, samples_labels(samples), classes, transform, target_transform)

    def _per_sample(self) -> bool:
        return self.lazy or super()._per_sample()

    def _image(self, index):
        """Image index as a PIL image: decoded now (lazy) or from the array."""
        if not self.lazy:
            return super()._image(index)
        path = self.samples[index][0]
        return self.loader(path) if self.loader is not None else load_image(path, self.mode, self.image_size)

    def _tensor_image(self, index) -> Tensor:
        if not self.lazy:
            return super()._tensor_image(index)
        a = np.asarray(self._image(index))
        a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)  # (H, W) -> (1, H, W); (H, W, C) -> (C, H, W)
        return Tensor(_to_float(np.ascontiguousarray(a)))


def _hw(size) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)):
        return int(size), int(size)
    h, w = size
    return int(h), int(w)


__all__ = [
    "CIFAR10",
    "CIFAR10_CLASSES",
    "IMG_EXTENSIONS",
    "MNIST",
    "CorruptDatasetError",
    "DatasetNotFoundError",
    "Digits",
    "FashionMNIST",
    "ImageFolder",
    "UnsafePickleError",
    "extract_archive",
    "find_split",
    "load_digits",
    "load_image",
    "read_cifar_batch",
    "read_idx",
]
