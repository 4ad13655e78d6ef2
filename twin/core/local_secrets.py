"""Random secrets for a local installation, generated once and kept in ``$TWIN_HOME/secrets.env``.

`twin up`, `twin demo`, `twin web`, `twin serve` and `twin airflow` on the embedded database call
:func:`ensure_local_secrets`, so a local stack never runs on the shipped defaults; every process
that shares the ``TWIN_HOME`` reads the same file through :func:`twin.core.settings.load_settings`.
Variables set in the environment or ``.env`` still win.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from twin.core.settings import SECRETS_FILE, Settings

GENERATED = ("TWIN_SECRET_KEY", "TWIN_SERVING_TOKEN", "TWIN_AIRFLOW_PASSWORD")


def secrets_path(settings: Settings) -> Path:
    return settings.home / SECRETS_FILE


def ensure_local_secrets(settings: Settings) -> bool:
    """Write ``$TWIN_HOME/secrets.env`` (mode 0600) unless it exists; return whether it was written.
    An existing file readable by others is made private again."""
    path = secrets_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Generated once by the twin CLI for this TWIN_HOME; keep private. Environment variables win.\n"]
    lines += [f"{name}={secrets.token_urlsafe(32)}\n" for name in GENERATED]
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
        return False
    with os.fdopen(fd, "w") as handle:
        handle.writelines(lines)
    return True


def local_settings() -> Settings:
    """This installation's settings; on the embedded database (a local installation) with its
    generated secrets, written first if missing (what the service commands and benchmarks run on)."""
    from twin.core.settings import get_settings

    settings = get_settings()
    if settings.uses_embedded_db and ensure_local_secrets(settings):
        get_settings.cache_clear()
        settings = get_settings()
    return settings


def read_local_secret(settings: Settings, name: str) -> str | None:
    """One generated value (e.g. to tell the user where the Airflow admin password is)."""
    path = secrets_path(settings)
    if not path.is_file():
        return None
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == name:
            return value.strip()
    return None
