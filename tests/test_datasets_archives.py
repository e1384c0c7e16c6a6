"""Data as users have it: CIFAR-10 from the official archive, its batches or image-folder archives; image folders
from a directory, a .tar.gz or a .zip; class lists checked; evaluate reading only the split it scores; archives
unpacked safely once; and every compressed input capped (gzip IDX, tar.gz, zip, image files)."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import struct
import tarfile
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

import toynn
from toynn.cli import main
from toynn.data import CIFAR10, MNIST, CorruptDatasetError, DatasetNotFoundError, ImageFolder, files, read_idx
from toynn.data.datasets import CIFAR10_CLASSES
from toynn.data.files import DecompressionBombError, extract_archive, open_image
from toynn.data.registry import get_dataset
from toynn.models import build_model

from .test_data import DATA, _write_cifar, needs_cifar_jpeg

Image = pytest.importorskip("PIL.Image", reason="image folders are read with Pillow")


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("TOYNN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _unpacked(cache: Path) -> list[str]:
    """The archives unpacked into the cache, by name."""
    folder = cache / "archives"
    return sorted(p.name.rsplit("-", 1)[0] for p in folder.iterdir()) if folder.is_dir() else []


def _images(root: Path, classes, n: int = 2, size=(6, 5), seed: int = 0) -> None:
    """root/<class>/<k>.png: n small images per class, each class its own colour."""
    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True)
        for k in range(n):
            Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(root / name / f"{k}.png")


def _tar(archive: Path, folder: Path, arcname: str) -> Path:
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=arcname)
    return archive


def _zip(archive: Path, folder: Path, arcname: str) -> Path:
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(folder.rglob("*")):
            z.write(path, f"{arcname}/{path.relative_to(folder).as_posix()}")
    return archive


def _run(run: Path, data: str, data_dir, classes, input_shape) -> Path:
    """A run folder as `toynn train` writes it (untrained weights: the tests here are about reading data)."""
    from toynn.io import checkpoint

    run.mkdir(parents=True)
    toynn.manual_seed(0)
    model = build_model("mlp", tuple(input_shape), len(classes))
    args = {"data_dir": str(data_dir), "model": "mlp", "data": data}
    config = {"model": "mlp", "data": data, "input_shape": list(input_shape), "classes": classes, "args": args}
    (run / "config.json").write_text(json.dumps(config))
    checkpoint.save({"model": model.state_dict()}, run / "checkpoint.safetensors")
    return run


# ---------------------------------------------------------------------------------------------
# CIFAR-10 as users have it


def test_cifar10_from_the_official_archive_file_or_its_folder(tmp_path, cache, monkeypatch):
    batches = _write_cifar(tmp_path / "src")
    folder = tmp_path / "src" / "cifar-10-batches-py"
    archive = _tar(tmp_path / "dl" / "cifar-10-python.tar.gz", folder, "cifar-10-batches-py")  # the official layout
    test = CIFAR10(archive, train=False)
    assert test.classes == CIFAR10_CLASSES and test.targets.tolist() == batches["test_batch"][b"labels"]
    np.testing.assert_array_equal(test.data.reshape(3, -1), batches["test_batch"][b"data"])
    assert _unpacked(cache) == ["cifar-10-python.tar.gz"]

    def no_second_unpacking(*args, **kwargs):
        raise AssertionError("the archive was unpacked again")

    monkeypatch.setattr(files, "extract_archive", no_second_unpacking)
    train = CIFAR10(tmp_path / "dl", train=True)  # the folder that holds the archive: the same cache
    assert len(train) == 20 and train.targets[:4].tolist() == batches["data_batch_1"][b"labels"]
    assert get_dataset("cifar10", tmp_path / "dl", train=False).targets.tolist() == test.targets.tolist()


def test_cifar10_from_image_folder_archives_reads_only_the_split_asked_for(tmp_path, cache):
    for split in ("train", "test"):
        _images(tmp_path / "src" / split, CIFAR10_CLASSES, n=1, size=(32, 32))
        _tar(tmp_path / "data" / f"{split}.tar.gz", tmp_path / "src" / split, split)
    Image.new("RGB", (40, 36), "red").save(tmp_path / "src" / "test" / "cat" / "9.png")  # resized to 32x32
    (tmp_path / "data" / "test.tar.gz").unlink()
    _tar(tmp_path / "data" / "test.tar.gz", tmp_path / "src" / "test", "test")
    test = CIFAR10(tmp_path / "data", train=False)
    assert test.data.shape == (11, 3, 32, 32) and test.classes == CIFAR10_CLASSES
    assert np.bincount(test.targets).tolist() == [1, 1, 1, 2, 1, 1, 1, 1, 1, 1]
    assert test.data[4, :, 0, 0].tolist() == [255, 0, 0]  # the red 40x36 image of class cat, the last cat file
    assert _unpacked(cache) == ["test.tar.gz"]  # the training archive was not touched
    assert len(get_dataset("cifar10", tmp_path / "data", train=True)) == 10
    assert _unpacked(cache) == ["test.tar.gz", "train.tar.gz"]


def test_cifar10_image_folders_must_hold_its_ten_classes(tmp_path):
    _images(tmp_path / "test", CIFAR10_CLASSES[:9] + ["kitten"], n=1)
    with pytest.raises(ValueError, match=r"kitten not in CIFAR-10's classes; truck missing"):
        CIFAR10(tmp_path, train=False)


@needs_cifar_jpeg
def test_evaluate_cifar10_jpeg_archives_decodes_only_the_test_set(tmp_path, cache, monkeypatch, capsys):
    """`--data cifar10 --data-dir ../shared/data/cifar10-jpeg`: the folder of train.tar.gz and test.tar.gz."""
    from toynn.data import datasets

    decoded = []
    monkeypatch.setattr(datasets, "open_image", lambda path: decoded.append(path) or open_image(path))
    run = _run(tmp_path / "run", "cifar10", DATA / "cifar10-jpeg", CIFAR10_CLASSES, (3, 32, 32))
    assert main(["evaluate", str(run)]) == 0
    assert "on 10000 images of cifar10" in capsys.readouterr().out
    assert len(decoded) == 10000 and all("/test/" in str(p) for p in decoded)
    assert _unpacked(cache) == ["test.tar.gz"]


# ---------------------------------------------------------------------------------------------
# Image folders: a directory, a .tar.gz, a .zip, or split archives


def test_folder_from_a_directory_a_tar_gz_a_zip_or_split_archives(tmp_path):
    for split in ("train", "test"):
        _images(tmp_path / "dir" / split, ["ant", "bee"], seed=len(split))
    _tar(tmp_path / "data.tar.gz", tmp_path / "dir", "mydata")  # one top folder holding train/ and test/
    _zip(tmp_path / "data.zip", tmp_path / "dir", "mydata")
    (tmp_path / "split").mkdir()
    for split in ("train", "test"):
        _tar(tmp_path / "split" / f"{split}.tar.gz", tmp_path / "dir" / split, split)
    want = {train: get_dataset("folder", tmp_path / "dir", train=train) for train in (True, False)}
    for root in ("data.tar.gz", "data.zip", "split"):
        for train in (True, False):
            got = get_dataset("folder", tmp_path / root, train=train)
            assert got.classes == ["ant", "bee"], root
            np.testing.assert_array_equal(got.data, want[train].data, err_msg=root)
            np.testing.assert_array_equal(got.targets, want[train].targets, err_msg=root)
    assert len(ImageFolder(tmp_path / "split" / "test.tar.gz")) == 4  # ImageFolder takes an archive too


def test_folder_train_and_test_classes_must_match(tmp_path, capsys):
    _images(tmp_path / "train", ["cat", "dog"])
    _images(tmp_path / "test", ["bird", "dog"])
    with pytest.raises(ValueError, match=r"classes \{bird, dog\} but those of .*train are \{cat, dog\}") as err:
        get_dataset("folder", tmp_path, train=False)
    assert "bird not in" in str(err.value) and "cat missing" in str(err.value)
    with pytest.raises(ValueError, match=r"\{bird, dog\} but the model's classes are \{cat, dog\}"):
        get_dataset("folder", tmp_path, train=False, classes=["cat", "dog"])
    out = tmp_path / "run"
    assert main(["train", "--data", "folder", "--data-dir", str(tmp_path), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "bird" in err and "cat" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_folder_with_one_class_is_a_clear_error(tmp_path, capsys):
    for split in ("train", "test"):
        _images(tmp_path / split, ["cat"])
    with pytest.raises(ValueError, match=r"holds 1 class folder \(cat\); a classifier needs at least two"):
        get_dataset("folder", tmp_path, train=True)
    assert main(["train", "--data", "folder", "--data-dir", str(tmp_path), "--out", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "at least two" in err and "IndexError" not in err and "Traceback" not in err


def test_folder_of_mixed_sizes_names_the_image_size_flag(tmp_path):
    for split in ("train", "test"):
        _images(tmp_path / split, ["ant", "bee"])
    Image.new("RGB", (9, 7)).save(tmp_path / "train" / "bee" / "7.png")
    with pytest.raises(ValueError, match=r"7.png is 9x7 .* toynn train --image-size"):
        get_dataset("folder", tmp_path, train=True)
    assert get_dataset("folder", tmp_path, train=True, image_size=8).data.shape == (5, 3, 8, 8)
    assert get_dataset("folder", tmp_path, train=True, image_size=(4, 6)).data.shape == (5, 3, 4, 6)


def test_evaluate_of_a_folder_run_decodes_only_the_test_images(tmp_path, monkeypatch, capsys):
    from toynn.data import datasets

    for split, n in (("train", 5), ("test", 2)):
        _images(tmp_path / "data" / split, ["ant", "bee"], n=n)
    Image.new("RGB", (12, 10)).save(tmp_path / "data" / "test" / "ant" / "big.png")  # resized to the model's 6x5
    decoded = []
    monkeypatch.setattr(datasets, "open_image", lambda path: decoded.append(path) or open_image(path))
    run = _run(tmp_path / "run", "folder", tmp_path / "data", ["ant", "bee"], (3, 5, 6))
    assert main(["evaluate", str(run)]) == 0
    assert "on 5 images of folder" in capsys.readouterr().out
    assert len(decoded) == 5 and all("/test/" in str(p) for p in decoded)
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    assert len(decoded) == 10 and all("/test/" in str(p) for p in decoded)
    (tmp_path / "data" / "test" / "bee").rename(tmp_path / "data" / "test" / "cow")
    assert main(["evaluate", str(run)]) == 1
    assert "cow not in the model's classes; bee missing" in capsys.readouterr().err


def test_missing_data_says_what_to_put_where_never_download(tmp_path, capsys):
    for make, what in [
        (lambda: MNIST(tmp_path), "put the four IDX files (train-images-idx3-ubyte.gz"),
        (lambda: CIFAR10(tmp_path), "cifar-10-python.tar.gz (from https://www.cs.toronto.edu"),
        (lambda: get_dataset("folder", tmp_path), f"put your images in {tmp_path}/train/<class>/"),
    ]:
        with pytest.raises(DatasetNotFoundError) as err:
            make()
        assert what in str(err.value) and "download" not in str(err.value)
    for data in ("mnist", "fashion-mnist", "cifar10", "folder"):
        assert main(["train", "--data", data, "--data-dir", str(tmp_path), "--out", str(tmp_path / "r")]) == 1
        err = capsys.readouterr().err
        assert "download" not in err and "Traceback" not in err and "put" in err, err


# ---------------------------------------------------------------------------------------------
# Archives unpack safely


def _tar_with(archive: Path, members: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for info in members:
            tar.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)
    return archive


def _info(name: str, kind=tarfile.REGTYPE, size: int = 1, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size if kind == tarfile.REGTYPE else 0, target
    return info


@pytest.mark.parametrize(
    "member,message",
    [
        (_info("train/../../evil.txt"), "outside the destination"),
        (_info("train/cat/a.png", tarfile.SYMTYPE, target="/etc/passwd"), r"holds a link train/cat/a.png -> /etc/pas"),
        (_info("train/cat/b.png", tarfile.SYMTYPE, target="a.png"), "holds a link"),
        (_info("train/cat/c.png", tarfile.LNKTYPE, target="train/cat/0.png"), "holds a link"),
        (_info("train/dev", tarfile.CHRTYPE), "cannot extract"),
    ],
)
def test_tar_members_outside_links_and_devices_are_refused(tmp_path, member, message):
    archive = _tar_with(tmp_path / "a.tar.gz", [_info("train/cat/0.png"), member])
    with pytest.raises(CorruptDatasetError, match=message):
        extract_archive(archive, tmp_path / "out" / "deep")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out" / "evil.txt").exists()
    assert not (tmp_path / "out" / "deep" / "train" / "cat" / "a.png").exists()


def test_zip_members_outside_and_links_are_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "up.zip", "w") as z:
        z.writestr("train/cat/0.png", b"x")
        z.writestr("../evil.txt", b"x")
    with pytest.raises(CorruptDatasetError, match=r"'../evil.txt' would be written outside"):
        extract_archive(tmp_path / "up.zip", tmp_path / "out")
    link = zipfile.ZipInfo("train/cat/a.png")
    link.external_attr = (0o120777 << 16) | 0x20  # a symlink, as `zip --symlinks` stores it
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as z:
        z.writestr(link, "/etc/passwd")
    with pytest.raises(CorruptDatasetError, match=r"holds a link train/cat/a.png -> /etc/passwd"):
        extract_archive(tmp_path / "link.zip", tmp_path / "out2")
    assert not (tmp_path / "evil.txt").exists() and not any((tmp_path / "out").rglob("*.png"))  # checked first


def test_an_archive_that_fails_leaves_nothing_in_the_cache(tmp_path, cache):
    (tmp_path / "data").mkdir()
    _tar_with(tmp_path / "data" / "test.tar.gz", [_info("test/cat/0.png"), _info("../x")])
    with pytest.raises(CorruptDatasetError):
        get_dataset("folder", tmp_path / "data", train=False)
    assert list((cache / "archives").iterdir()) == []


# ---------------------------------------------------------------------------------------------
# Decompression caps: a bomb is refused early, in little memory, with a clear error


def _zeros_gzip_member(n_mib: int, prefix: bytes = b"") -> bytes:
    """One gzip member of prefix + n_mib MiB of zeros, compressed chunk by chunk (1 MiB of zeros is ~1 kB)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [z.compress(prefix)] + [z.compress(bytes(1 << 20)) for _ in range(n_mib)]
    return b"".join(parts) + z.flush()


def _bomb(path: Path, head: bytes, gib: int = 2) -> Path:
    """head, then gib GiB of zeros, as a gzip file of 32 members per GiB (multi-member gzip, as `cat a.gz b.gz`)."""
    member = _zeros_gzip_member(64)
    path.write_bytes(_zeros_gzip_member(0, head) + member * (16 * gib))
    return path


def _peak_mib(fn) -> float:
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak / 2**20


def test_idx_gzip_bomb_is_refused_past_its_header_size_in_little_memory(tmp_path):
    header = struct.pack(">IIII", 0x803, 10, 28, 28)  # 10 images: 7,856 bytes, then 2 GiB of zeros
    bomb = _bomb(tmp_path / "t10k-images-idx3-ubyte.gz", header)
    assert bomb.stat().st_size < 3 << 20

    def read():
        with pytest.raises(CorruptDatasetError, match=r"inflates past 73392: refused without reading further"):
            read_idx(bomb)

    assert _peak_mib(read) < 16
    head = struct.pack(">IIII", 0x803, 2_000_000, 28, 28)  # asks for 1.5 GB, more than its gzip stream can hold
    big = _bomb(tmp_path / "b.gz", head, gib=0)

    def read_big():
        with pytest.raises(CorruptDatasetError, match=r"truncated: expected 1568000016 bytes .* inflates to at most"):
            read_idx(big)

    assert _peak_mib(read_big) < 16


def test_tar_gz_bomb_is_refused_before_its_bytes_are_written(tmp_path):
    info = tarfile.TarInfo("train/cat/0.png")
    info.size = 2 << 30  # the header tells the truth: 2 GiB of zeros follow
    bomb = _bomb(tmp_path / "train.tar.gz", info.tobuf(format=tarfile.PAX_FORMAT))
    assert bomb.stat().st_size < 3 << 20

    def unpack():
        with pytest.raises(DecompressionBombError, match=r"unpacks to more than 2\d\d MB, 100x its 2,\d+,\d+ bytes"):
            extract_archive(bomb, tmp_path / "out")

    assert _peak_mib(unpack) < 16
    assert sum(p.stat().st_size for p in (tmp_path / "out").rglob("*") if p.is_file()) == 0


def test_tar_gz_of_many_members_is_refused_at_the_cap(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "INFLATE_FLOOR", 3 << 20)
    with tarfile.open(tmp_path / "a.tar.gz", "w:gz") as tar:
        for k in range(5):
            info = tarfile.TarInfo(f"train/cat/{k}.bin")
            info.size = 1 << 20
            tar.addfile(info, io.BytesIO(bytes(info.size)))
    with pytest.raises(DecompressionBombError, match="unpacks to more than 3 MB"):
        extract_archive(tmp_path / "a.tar.gz", tmp_path / "out")
    assert len(list((tmp_path / "out").rglob("*.bin"))) == 3  # 3 MiB unpacked; the 4th MiB is refused


def test_zip_bomb_is_refused_from_its_declared_sizes(tmp_path):
    with zipfile.ZipFile(tmp_path / "z.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for k in range(80):
            z.writestr(f"train/cat/{k}.bin", bytes(1 << 20))  # 80 MiB of zeros in ~80 kB
    assert (tmp_path / "z.zip").stat().st_size < 1 << 20
    with pytest.raises(DecompressionBombError, match="unpacks to more than 67 MB"):
        extract_archive(tmp_path / "z.zip", tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.bin"))


def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A valid 1x1 PNG whose header claims width x height (the CRC fixed), as a decompression bomb looks."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def test_image_bombs_are_refused_by_their_header(tmp_path, capsys):
    for w, h in [(100_000, 100_000), (10_000, 10_000)]:  # over 2x Pillow's limit (its error), and over 1x (a warning)
        png = _png_claiming(tmp_path / f"{w}.png", w, h)
        assert png.stat().st_size < 100

        def read(png=png, w=w):
            with pytest.raises(DecompressionBombError, match=rf"{w}.png: refused as a possible decompression bomb"):
                open_image(png)

        assert _peak_mib(read) < 16
    (tmp_path / "train" / "cat").mkdir(parents=True)
    os.replace(tmp_path / "100000.png", tmp_path / "train" / "cat" / "0.png")
    with pytest.raises(DecompressionBombError, match=re.escape(str(tmp_path / "train" / "cat" / "0.png"))):
        ImageFolder(tmp_path / "train")
    run = _run(tmp_path / "run", "digits", None, [str(i) for i in range(10)], (1, 8, 8))
    assert main(["predict", str(run), str(tmp_path / "10000.png")]) == 1
    err = capsys.readouterr().err
    assert "decompression bomb" in err and "Traceback" not in err


def test_gzip_reader_keeps_the_small_trailing_byte_report():
    raw = struct.pack(">II", 0x801, 3) + bytes([1, 2, 3]) + b"\0\0"
    path = Path(os.environ["TOYNN_CACHE"]).parent / "l.gz"
    path.write_bytes(gzip.compress(raw))
    with pytest.raises(CorruptDatasetError, match=r"expected 11 bytes for dimensions \(3,\), got 13 \(2 trailing"):
        read_idx(path)


def test_image_folder_reads_16_bit_grey_scaled_and_transparency_as_white(tmp_path):
    grey = np.array([[0, 64], [128, 255]], np.uint8)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    Image.fromarray(grey).save(tmp_path / "a" / "8bit.png")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "a" / "9-16bit.png")  # not clipped at 255
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # one red pixel; the rest transparent black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "b" / "alpha.png")
    ds = ImageFolder(tmp_path)
    np.testing.assert_array_equal(ds.data[1], ds.data[0])
    np.testing.assert_array_equal(ds.data[0, 0], grey)
    assert ds.data[2, :, 0, 0].tolist() == [255, 0, 0] and ds.data[2, :, 1, 1].tolist() == [255, 255, 255]
