"""The files behind the data sets: their errors, compressed streams read with a cap on what they inflate to,
archives (.tar.gz/.tgz/.tar.bz2/.tar.xz/.tar/.zip) unpacked safely once into a cache folder, and image files
opened within Pillow's decompression-bomb limit."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path, PurePosixPath


class DatasetNotFoundError(FileNotFoundError):
    """A data set's file or folder is missing from the root the user gave."""


class CorruptDatasetError(ValueError):
    """A data set's file exists but is not what it should be: bad magic, truncated, wrong counts or checksum."""


# NOTE: a compressed input is refused once it inflates past what its content can need. Where the content's size is
# known (an IDX file's header gives it) that is the bound; an archive's content is not known beforehand, so it may
# unpack to at most MAX_INFLATE_RATIO times its own size (images and the CIFAR batches barely compress: ~1-6x),
# and at least INFLATE_FLOOR, so that small archives of compressible files still unpack.
MAX_INFLATE_RATIO = 100
INFLATE_FLOOR = 64 << 20
DEFLATE_MAX_RATIO = 1032  # the most deflate can expand: 258 bytes out per 2 bits in, rounded up
_CHUNK = 1 << 20


def inflate_limit(compressed_bytes: int) -> int:
    """The most bytes an archive of compressed_bytes may unpack to."""
    return max(MAX_INFLATE_RATIO * compressed_bytes, INFLATE_FLOOR)


class DecompressionBombError(CorruptDatasetError):
    """A compressed file inflates past what its content can need."""


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def read_up_to(stream, n: int) -> bytes:
    """At most n bytes of stream, fewer only at its end; reads in chunks, so a bomb never inflates all at once."""
    parts, got = [], 0
    while got < n:
        part = stream.read(min(_CHUNK, n - got))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def read_into(stream, buffer: memoryview) -> int:
    """Fill buffer from stream chunk by chunk -> bytes read (fewer than len(buffer) only at the stream's end)."""
    got = 0
    while got < len(buffer):
        part = stream.read(min(_CHUNK, len(buffer) - got))
        if not part:
            break
        buffer[got : got + len(part)] = part
        got += len(part)
    return got


# ---------------------------------------------------------------------------------------------
# Archives


class _CappedReader:
    """A decompressed stream that raises DecompressionBombError once more than limit bytes came out of it."""

    def __init__(self, stream, limit: int, where: Path):
        self.stream, self.limit, self.where, self.count = stream, limit, where, 0

    def read(self, n: int = -1) -> bytes:
        room = self.limit - self.count + 1  # one byte past the limit shows that the stream goes on
        data = self.stream.read(room if n is None or n < 0 else min(n, room))
        self.count += len(data)
        if self.count > self.limit:
            raise _bomb(self.where, self.limit)
        return data


def _bomb(archive: Path, limit: int) -> DecompressionBombError:
    return DecompressionBombError(
        f"{archive}: unpacks to more than {limit / 1e6:.0f} MB, {MAX_INFLATE_RATIO}x its "
        f"{archive.stat().st_size:,} bytes: refused as a likely decompression bomb (if the archive is genuine, "
        "raise toynn.data.files.MAX_INFLATE_RATIO)"
    )


def _decompressor(raw, archive: Path):
    """The decompressed stream of an archive file opened as raw (gzip, bzip2, xz, or none for a plain .tar)."""
    magic = raw.read(6)
    raw.seek(0)
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw)
    if magic[:3] == b"BZh":
        return bz2.BZ2File(raw)
    if magic == b"\xfd7zXZ\x00":
        return lzma.LZMAFile(raw)
    return raw


def _link_error(archive: Path, name: str, target: str) -> CorruptDatasetError:
    return CorruptDatasetError(
        f"{archive}: holds a link {name} -> {target}; refused (a data set's archive holds folders and files only)"
    )


def _extract_tar(archive: Path, dest: Path, members, limit: int) -> None:
    total = 0

    def check(member: tarfile.TarInfo, path: str):
        nonlocal total
        if member.islnk() or member.issym():
            raise _link_error(archive, member.name, member.linkname)
        member = tarfile.data_filter(member, path)  # NOTE: refuses '..', absolute targets, devices
        if members is not None and not members(member.name):
            return None
        total += member.size  # the header's size, checked before any of the member's bytes are inflated
        if total > limit:
            raise _bomb(archive, limit)
        return member

    with open(archive, "rb") as raw, _decompressor(raw, archive) as stream:
        with tarfile.open(fileobj=_CappedReader(stream, limit, archive), mode="r|") as tar:
            tar.extractall(dest, filter=check)


def _extract_zip(archive: Path, dest: Path, members, limit: int) -> None:
    with zipfile.ZipFile(archive) as z:
        chosen = []
        for info in z.infolist():
            name = info.filename
            if stat.S_ISLNK(info.external_attr >> 16):
                raise _link_error(archive, name, z.read(info)[:200].decode(errors="replace"))
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise CorruptDatasetError(f"{archive}: member {name!r} would be written outside {dest}; refused")
            if members is None or members(name):
                chosen.append(info)
        # NOTE: ZipFile stops each member at its declared size (and then fails its CRC), so the sizes bound the output
        if sum(i.file_size for i in chosen) > limit:
            raise _bomb(archive, limit)
        z.extractall(dest, members=chosen)


def extract_archive(archive, cache_dir, members: Callable[[str], bool] | None = None) -> Path:
    """Unpack a .tar.gz/.tgz/.tar.bz2/.tar.xz/.tar/.zip archive into cache_dir once (a marker file skips later
    calls) -> cache_dir.

    Refuses, with CorruptDatasetError naming the member, entries that would land outside cache_dir, links and
    devices, and stops an archive that unpacks to more than inflate_limit(its size) bytes (DecompressionBombError).
    members, when given, keeps only the entries whose name it accepts (and then nothing is cached by a marker).
    """
    archive, cache_dir = Path(archive), Path(cache_dir)
    if not archive.is_file():
        raise DatasetNotFoundError(f"{archive}: no such archive")
    marker = cache_dir / f".{archive.name}.extracted"
    if members is None and marker.exists():
        return cache_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    limit = inflate_limit(archive.stat().st_size)
    try:
        if zipfile.is_zipfile(archive):
            _extract_zip(archive, cache_dir, members, limit)
        else:
            _extract_tar(archive, cache_dir, members, limit)
    except CorruptDatasetError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error, lzma.LZMAError, OSError) as err:
        if isinstance(err, OSError) and err.errno is not None:
            raise  # a real I/O error (disk full, permissions) is not the archive's fault; bad data has no errno
        raise CorruptDatasetError(f"{archive}: cannot extract ({err})") from None
    if members is None:
        marker.touch()
    return cache_dir


ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".zip")


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def cache_root() -> Path:
    """Where archives are unpacked: $TOYNN_CACHE, else $XDG_CACHE_HOME/toynn, else ~/.cache/toynn."""
    if os.environ.get("TOYNN_CACHE"):
        return Path(os.environ["TOYNN_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "toynn"


def extracted(archive) -> Path:
    """The folder that archive unpacks to, unpacked on first use into cache_root() (see extract_archive).

    The folder is named after the archive and keyed by its path, size and modification time, so a changed archive
    is unpacked again. It is unpacked into a temporary folder first and renamed, so a run killed while unpacking
    leaves nothing that a later run would take for complete.
    """
    archive = Path(archive).resolve()
    info = archive.stat()
    key = hashlib.sha256(f"{archive}|{info.st_size}|{info.st_mtime_ns}".encode()).hexdigest()[:12]
    dest = cache_root() / "archives" / f"{archive.name}-{key}"
    marker = dest / f".{archive.name}.extracted"
    if marker.exists():
        return dest
    tmp = dest.with_name(f"{dest.name}.part{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        extract_archive(archive, tmp)
        if not marker.exists():  # NOTE: another process may have finished first; its folder may be in use
            shutil.rmtree(dest, ignore_errors=True)  # an incomplete folder, if any
            os.replace(tmp, dest)
    except OSError:
        if not marker.exists():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


# ---------------------------------------------------------------------------------------------
# Image files


def open_image(path):
    """The image file at path as a loaded PIL image; refuses images over Pillow's decompression-bomb limit
    (PIL.Image.MAX_IMAGE_PIXELS, ~89 megapixels) before decoding them. Errors name the file."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)  # NOTE: reads the header only; the size check happens here, before decoding
            im.load()
    except FileNotFoundError:
        raise DatasetNotFoundError(f"{path}: no such file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise DecompressionBombError(
            f"{path}: refused as a possible decompression bomb: {err} (the limit is PIL.Image.MAX_IMAGE_PIXELS)"
        ) from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        raise CorruptDatasetError(f"{path}: cannot read image ({err})") from None
    return im
