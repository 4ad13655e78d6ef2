"""``twin migrate``: every schema the product needs, idempotently.

1. Alembic migrations for the schemas ``twin`` owns (``raw``, ``vectors``, ``registry``, pgvector).
2. Django's migrations for the web app's own tables (run as ``python -m webapp.manage migrate`` in
   a child process, so that nothing outside ``webapp/`` imports Django).
3. The web app's static files, collected into ``$TWIN_HOME/static`` for WhiteNoise.
4. The service roles' grants on Django's tables and their logins (:func:`twin.core.db.grant_service_roles`).
5. The separate ``airflow`` database on the same server for Airflow's metadata.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from twin.core.db import check_connection, ensure_database, grant_service_roles, sqlalchemy_url, with_database
from twin.core.settings import PROJECT_ROOT, Settings, get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "twin_alembic_version"


class MigrationError(RuntimeError):
    pass


@dataclass
class MigrationReport:
    alembic_before: str | None
    alembic_after: str | None
    django_applied: list[str]
    airflow_database_created: bool

    @property
    def changed(self) -> bool:
        return self.alembic_before != self.alembic_after or bool(self.django_applied) or self.airflow_database_created


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade_data_plane(url: str) -> tuple[str | None, str | None]:
    """Apply Alembic migrations up to head; returns (revision before, revision after)."""
    engine = sa.create_engine(sqlalchemy_url(url))
    try:
        check_connection(engine)
        before = current_revision(engine)
        if before != head_revision():
            config = _alembic_config()
            with engine.begin() as conn:
                config.attributes["connection"] = conn
                try:
                    command.upgrade(config, "head")
                except sa.exc.ProgrammingError as exc:
                    if "extension" in str(exc.orig) and "vector" in str(exc.orig):
                        raise MigrationError(
                            "the pgvector extension is not available on this server or this role may not "
                            "create it: install pgvector >= 0.8 and run `create extension vector` as a superuser"
                        ) from exc
                    raise
        return before, current_revision(engine)
    finally:
        engine.dispose()


def django_migrate(url: str, settings: Settings) -> list[str]:
    """Run Django's migrations against ``url``; returns the migrations applied."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TWIN_HOME": str(settings.home),
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
    }
    result = subprocess.run(
        [sys.executable, "-m", "webapp.manage", "migrate", "--noinput", "-v", "1"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise MigrationError(f"Django migrations failed:\n{result.stderr.strip()[-3000:]}")
    return [
        line.strip().removeprefix("Applying ").split("...")[0]
        for line in result.stdout.splitlines()
        if "Applying " in line
    ]


def collect_static(url: str, settings: Settings) -> None:
    """``collectstatic`` into ``$TWIN_HOME/static``, which WhiteNoise serves (idempotent: unchanged files are skipped)."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TWIN_HOME": str(settings.home),
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
    }
    result = subprocess.run(
        [sys.executable, "-m", "webapp.manage", "collectstatic", "--noinput", "-v", "0"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise MigrationError(f"collecting the web app's static files failed:\n{result.stderr.strip()[-3000:]}")


def migrate(url: str, settings: Settings | None = None, *, include_airflow: bool = True) -> MigrationReport:
    settings = settings or get_settings()
    before, after = upgrade_data_plane(url)
    applied = django_migrate(url, settings)
    collect_static(url, settings)
    grant_service_roles(url, settings)
    created = False
    if include_airflow:
        try:
            created = ensure_database(with_database(url, "postgres"), settings.airflow_db_name)
        except sa.exc.SQLAlchemyError as exc:
            raise MigrationError(
                f"could not create the `{settings.airflow_db_name}` database for Airflow's metadata "
                f"({str(getattr(exc, 'orig', exc)).strip()}); create it yourself or grant CREATEDB to this role"
            ) from exc
    return MigrationReport(before, after, applied, created)
