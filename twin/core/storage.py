"""Shared storage for what training writes and serving reads: Ray Train checkpoints, LoRA adapters
and dataset snapshots.

``TWIN_STORAGE_URI`` names it once. Unset, it is ``$TWIN_HOME`` (one machine, or a shared filesystem
mounted as ``TWIN_HOME`` on every node). Otherwise a filesystem path (an NFS mount) or a URI that
pyarrow's filesystems understand: ``s3://bucket/twin``, ``gs://bucket/twin``, ``abfs://...``,
``hdfs://...`` and ``file:///shared/twin``. Ray Train takes the same URI as its ``storage_path``.

A location with a scheme is always read and written through pyarrow (``file://`` included, which is
how the tests run the object-store code path here); a plain path is used as a local directory. A
process that needs files locally (peft loads an adapter from a directory) fetches a directory once
into ``$TWIN_HOME/cache/storage`` with :func:`local_copy`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from twin.core.settings import Settings, get_settings

CACHE_DIR = ("cache", "storage")


class StorageError(OSError):
    """The shared storage could not be read or written; the message names the location."""


def has_scheme(location: str) -> bool:
    """``s3://...``, ``file:///...``: a URI read through pyarrow (not a Windows drive letter)."""
    scheme = urlsplit(location).scheme
    return len(scheme) > 1


def root(settings: Settings | None = None) -> str:
    """The storage location: ``TWIN_STORAGE_URI``, else ``$TWIN_HOME``."""
    settings = settings or get_settings()
    return (settings.storage_uri or "").strip().rstrip("/") or str(settings.home)


def join(location: str, *parts: str) -> str:
    """``location/part/part`` for a path or a URI."""
    cleaned = [str(part).strip("/") for part in parts if str(part).strip("/")]
    if not cleaned:
        return location
    if has_scheme(location):
        return "/".join([location.rstrip("/"), *cleaned])
    return str(Path(location, *cleaned))


def location_for(settings: Settings, *parts: str) -> str:
    """Where ``parts`` (e.g. ``adapters/<user>/<model>``) live in the configured storage."""
    return join(root(settings), *parts)


def _filesystem(location: str):
    from pyarrow import fs

    try:
        return fs.FileSystem.from_uri(location)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid/OSError/ValueError by scheme
        raise StorageError(f"cannot open storage {location}: {exc}") from exc


def upload_dir(source: Path, destination: str) -> str:
    """Copy the directory ``source`` to ``destination`` (a path or URI; replaced if it exists) and
    return ``destination``."""
    if not source.is_dir():
        raise StorageError(f"nothing to store: {source} is not a directory")
    if not has_scheme(destination):
        target = Path(destination)
        if target.resolve() != source.resolve():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)
        return destination
    from pyarrow import fs

    filesystem, path = _filesystem(destination)
    try:
        filesystem.delete_dir(path)
    except (FileNotFoundError, OSError):
        pass
    try:
        filesystem.create_dir(path, recursive=True)
        fs.copy_files(str(source), path, source_filesystem=fs.LocalFileSystem(), destination_filesystem=filesystem)
    except OSError as exc:
        raise StorageError(f"could not write {destination}: {exc}") from exc
    return destination


def exists(location: str) -> bool:
    if not has_scheme(location):
        return Path(location).exists()
    from pyarrow import fs

    filesystem, path = _filesystem(location)
    try:
        return filesystem.get_file_info(path).type != fs.FileType.NotFound
    except OSError as exc:
        raise StorageError(f"could not read {location}: {exc}") from exc


def remove(location: str) -> None:
    """Delete a stored directory (nothing happens when it is not there)."""
    if not has_scheme(location):
        shutil.rmtree(location, ignore_errors=True)
        return
    filesystem, path = _filesystem(location)
    try:
        filesystem.delete_dir(path)
    except (FileNotFoundError, OSError):
        pass


def local_copy(location: str, settings: Settings | None = None) -> Path:
    """A local directory holding what is stored at ``location``: the directory itself for a plain path,
    else a copy fetched once into ``$TWIN_HOME/cache/storage`` (stored directories are written once
    and never changed: an adapter or a snapshot gets a new location when it changes)."""
    if not has_scheme(location):
        return Path(location)
    settings = settings or get_settings()
    digest = hashlib.sha256(location.encode()).hexdigest()[:24]
    cached = settings.home.joinpath(*CACHE_DIR, digest)
    if cached.is_dir():
        return cached
    from pyarrow import fs

    filesystem, path = _filesystem(location)
    try:
        if filesystem.get_file_info(path).type != fs.FileType.Directory:
            raise FileNotFoundError(f"nothing stored at {location}")
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=cached.parent))
        fs.copy_files(path, str(staging), source_filesystem=filesystem, destination_filesystem=fs.LocalFileSystem())
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StorageError(f"could not read {location}: {exc}") from exc
    try:
        os.rename(staging, cached)  # atomic: a concurrent fetch of the same location loses the race
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return cached
