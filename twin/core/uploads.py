"""Uploaded export archives: ``$TWIN_HOME/uploads/<user_id>/<32 hex>.zip``, written by the web app,
imported by the ``twin_import`` DAG (deleted after a successful import, kept after a failed one) and
removed by ``twin_collect`` once older than ``TWIN_UPLOAD_RETENTION_DAYS``."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

from twin.core.settings import Settings

ARCHIVE_NAME = re.compile(r"[0-9a-f]{32}\.zip")


class UnknownArchive(ValueError):
    """The name is not one the web app gives an archive (a path, another extension): never opened."""


def uploads_root(settings: Settings) -> Path:
    return settings.home / "uploads"


def new_archive_name() -> str:
    return f"{uuid.uuid4().hex}.zip"


def archive_path(settings: Settings, user_id: int, name: str) -> Path:
    """The archive ``name`` of ``user_id``; only names :func:`new_archive_name` makes are accepted, so a
    run's configuration cannot point the importer at another file."""
    if not isinstance(name, str) or not ARCHIVE_NAME.fullmatch(name):
        raise UnknownArchive(f"{name!r} is not an uploaded archive's name")
    return uploads_root(settings) / str(int(user_id)) / name


def run_source(kind: str, upload_id: int) -> str:
    """The ``raw.crawl_runs.source`` of an upload's import: how the web app finds its outcome."""
    return f"{kind}-export:upload-{int(upload_id)}"


def remove_expired(settings: Settings, *, now: float | None = None) -> list[Path]:
    """Delete archives older than the retention period (failed imports are kept until then)."""
    cutoff = (now if now is not None else time.time()) - settings.upload_retention_days * 86400
    removed = []
    root = uploads_root(settings)
    for path in root.glob("*/*.zip") if root.is_dir() else ():
        if ARCHIVE_NAME.fullmatch(path.name) and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
