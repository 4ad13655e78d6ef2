"""Reading untrusted export archives (a zip, or the folder it was extracted to) safely, in memory.

Shared by every export importer and by the web app's upload. Nothing is ever extracted to disk:
members are read as bytes through :meth:`ExportArchive.read`. Before any member is read, the
central directory is checked as a whole (upload size, member count, per-member and total
uncompressed size, compression ratio, ``../`` / absolute names, symlinks, encryption), so a
decompression bomb or a traversal attempt is rejected before a single byte is inflated. Sizes are
enforced again while streaming, in case a header lies.
"""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

MiB = 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024
# Below this size a member is too small to be a bomb, whatever its ratio (tiny files of repeated
# characters compress several-hundred-fold legitimately).
RATIO_CHECK_MIN_BYTES = 1 * MiB
WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


class ArchiveError(ValueError):
    """The export as a whole cannot be read; the message says why, for the user."""


class UnsafeArchive(ArchiveError):
    """Hostile or oversized: traversal, symlink, decompression bomb, too many or too large members."""


class EncryptedArchive(ArchiveError):
    pass


class CorruptArchive(ArchiveError):
    """Not a zip, truncated, or a member whose data does not decompress."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_upload_bytes: int = 256 * MiB
    max_member_bytes: int = 64 * MiB
    max_total_bytes: int = 1024 * MiB
    max_members: int = 20_000
    max_compression_ratio: float = 200.0

    @classmethod
    def from_settings(cls, settings=None) -> ArchiveLimits:
        if settings is None:
            from twin.core.settings import get_settings

            settings = get_settings()
        return cls(
            max_upload_bytes=settings.import_max_bytes,
            max_member_bytes=settings.import_max_member_bytes,
            max_total_bytes=settings.import_max_total_bytes,
            max_members=settings.import_max_members,
            max_compression_ratio=settings.import_max_compression_ratio,
        )


def _human(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError


def check_member_name(name: str) -> str:
    """The member's path as a clean relative POSIX path; :class:`UnsafeArchive` for anything that escapes."""
    portable = name.replace("\\", "/")
    if "\x00" in portable:
        raise UnsafeArchive(f"unsafe path in archive: {name!r} contains a NUL byte")
    if portable.startswith("/") or WINDOWS_DRIVE.match(portable):
        raise UnsafeArchive(f"unsafe path in archive: {name!r} is absolute")
    parts = PurePosixPath(portable).parts
    if ".." in parts:
        raise UnsafeArchive(f"unsafe path in archive: {name!r} points outside the archive (../)")
    return "/".join(part for part in parts if part != ".")


class ExportArchive:
    """Files of an export by relative POSIX path; open with :func:`open_export`, use as a context manager."""

    def __init__(self, label: str, limits: ArchiveLimits):
        self.label = label
        self.limits = limits
        self._bytes_read = 0
        self._index: dict = {}  # member path -> what the subclass needs to read it

    def names(self) -> list[str]:
        return list(self._index)

    def __contains__(self, name: str) -> bool:
        return name in self._index

    def _stream(self, name: str) -> Iterator[bytes]:
        raise NotImplementedError

    def _compressed_size(self, name: str) -> int | None:
        return None

    def find(self, pattern: str | re.Pattern) -> list[str]:
        """Sorted member paths matching ``pattern`` (``re.search``), e.g. ``r"(^|/)posts/[^/]+\\.html$"``."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        return sorted(name for name in self.names() if regex.search(name))

    def read(self, name: str) -> bytes:
        """A member's bytes, with the size and ratio limits enforced as it inflates."""
        compressed = self._compressed_size(name)
        limit = self.limits.max_member_bytes
        received = bytearray()
        for chunk in self._stream(name):
            received += chunk
            if len(received) > limit:
                raise UnsafeArchive(f"{name} is larger than the {_human(limit)} allowed per file")
            if self._bytes_read + len(received) > self.limits.max_total_bytes:
                raise UnsafeArchive(
                    f"the export inflates to more than the {_human(self.limits.max_total_bytes)} allowed"
                )
            if (
                compressed is not None
                and len(received) > RATIO_CHECK_MIN_BYTES
                and len(received) > self.limits.max_compression_ratio * max(compressed, 1)
            ):
                raise UnsafeArchive(
                    f"{name} inflates more than {self.limits.max_compression_ratio:g}x: a decompression bomb, rejected"
                )
        self._bytes_read += len(received)
        return bytes(received)

    def close(self) -> None:
        pass

    def __enter__(self) -> ExportArchive:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class ZipExport(ExportArchive):
    def __init__(self, source: BinaryIO, label: str, limits: ArchiveLimits, *, owns_source: bool = False):
        super().__init__(label, limits)
        self._source = source if owns_source else None
        try:
            self._zip = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
            self.close()
            raise CorruptArchive(
                f"{label} is not a readable zip file (truncated or corrupt: {exc}); download the export again"
            ) from exc
        try:
            self._index = self._checked_members()
        except ArchiveError:
            self.close()
            raise

    def _checked_members(self) -> dict[str, zipfile.ZipInfo]:
        limits = self.limits
        infos = self._zip.infolist()
        if len(infos) > limits.max_members:
            raise UnsafeArchive(f"{self.label} has {len(infos)} files, more than the {limits.max_members} allowed")
        members: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in infos:
            name = check_member_name(info.filename)
            mode = info.external_attr >> 16
            if info.create_system == 3 and stat.S_ISLNK(mode):
                raise UnsafeArchive(f"{self.label} contains a symbolic link ({info.filename}), rejected")
            if info.flag_bits & 0x1:
                raise EncryptedArchive(
                    f"{self.label} is password-protected ({info.filename} is encrypted): "
                    "export it again without a password"
                )
            if info.is_dir() or not name:
                continue
            if info.file_size > limits.max_member_bytes:
                raise UnsafeArchive(
                    f"{info.filename} inflates to {_human(info.file_size)}, more than the "
                    f"{_human(limits.max_member_bytes)} allowed per file"
                )
            if info.file_size > RATIO_CHECK_MIN_BYTES and info.file_size > limits.max_compression_ratio * max(
                info.compress_size, 1
            ):
                raise UnsafeArchive(
                    f"{info.filename} inflates {info.file_size / max(info.compress_size, 1):.0f}x "
                    f"(more than {limits.max_compression_ratio:g}x): a decompression bomb, rejected"
                )
            total += info.file_size
            members[name] = info
        if total > limits.max_total_bytes:
            raise UnsafeArchive(
                f"{self.label} inflates to {_human(total)}, more than the {_human(limits.max_total_bytes)} allowed"
            )
        return members

    def _compressed_size(self, name: str) -> int | None:
        return self._index[name].compress_size if name in self._index else None

    def _stream(self, name: str) -> Iterator[bytes]:
        try:
            with self._zip.open(self._index[name]) as member:
                while chunk := member.read(READ_CHUNK_BYTES):
                    yield chunk
        except KeyError:
            raise FileNotFoundError(name) from None
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
            raise CorruptArchive(f"{name} cannot be read from the archive (corrupt: {exc})") from exc

    def close(self) -> None:
        if hasattr(self, "_zip"):
            self._zip.close()
        if self._source is not None:
            self._source.close()


class FolderExport(ExportArchive):
    """An export already extracted by the user. Symlinks are refused like in a zip."""

    def __init__(self, root: Path, limits: ArchiveLimits):
        super().__init__(str(root), limits)
        self.root = root.resolve()
        self._index = self._checked_files()

    def _checked_files(self) -> dict[str, Path]:
        """Every file by relative path; sizes are enforced when a file is read (it is local, not an upload)."""
        files: dict[str, Path] = {}
        for directory, subdirectories, filenames in os.walk(self.root, followlinks=False):
            for entry in [*subdirectories, *filenames]:
                path = Path(directory, entry)
                if path.is_symlink():
                    raise UnsafeArchive(
                        f"{self.label} contains a symbolic link ({path.relative_to(self.root)}), rejected"
                    )
            for filename in filenames:
                path = Path(directory, filename)
                files[path.relative_to(self.root).as_posix()] = path
                if len(files) > self.limits.max_members:
                    raise UnsafeArchive(f"{self.label} has more than the {self.limits.max_members} files allowed")
        return files

    def _stream(self, name: str) -> Iterator[bytes]:
        if name not in self._index:
            raise FileNotFoundError(name)
        with open(self._index[name], "rb") as handle:
            while chunk := handle.read(READ_CHUNK_BYTES):
                yield chunk


def open_export(source: str | os.PathLike | bytes | BinaryIO, limits: ArchiveLimits | None = None) -> ExportArchive:
    """Open an export: a zip file path, an extracted folder, the zip's bytes, or a binary file object (an upload)."""
    limits = limits or ArchiveLimits.from_settings()
    if isinstance(source, (bytes, bytearray)):
        _check_upload_size("the uploaded archive", len(source), limits)
        return ZipExport(io.BytesIO(source), "the uploaded archive", limits)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if path.is_dir():
            return FolderExport(path, limits)
        if not path.is_file():
            raise ArchiveError(f"{path} does not exist (pass the export's .zip file or the folder it was extracted to)")
        _check_upload_size(path.name, path.stat().st_size, limits)
        return ZipExport(open(path, "rb"), path.name, limits, owns_source=True)
    label = str(getattr(source, "name", None) or "the uploaded archive")
    _check_upload_size(label, source.seek(0, io.SEEK_END), limits)
    source.seek(0)
    return ZipExport(source, label, limits)


def _check_upload_size(label: str, size: int, limits: ArchiveLimits) -> None:
    if size > limits.max_upload_bytes:
        raise UnsafeArchive(f"{label} is {_human(size)}, more than the {_human(limits.max_upload_bytes)} allowed")
