"""The one database access layer: where the URL comes from, engines, and server-level setup.

With ``DATABASE_URL`` set that server is used and nothing is started; otherwise the embedded
server under ``$TWIN_HOME`` is (see :mod:`twin.embedded_pg`).
"""

from __future__ import annotations

import functools
from urllib.parse import unquote, urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from twin.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError
from twin.settings import Settings, get_settings


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; the message says how to fix it."""


def embedded_server(settings: Settings | None = None) -> EmbeddedPostgres:
    settings = settings or get_settings()
    return EmbeddedPostgres(settings.home, port=settings.db_port)


def database_url(settings: Settings | None = None, *, database: str | None = None, start: bool = False) -> str:
    """A plain ``postgresql://`` URL (psql, psycopg, SQLAlchemy, Django and dbt all accept it).

    ``start=True`` starts the embedded server when it is not running; otherwise a stopped
    embedded server is an error that says to run ``twin db start``.
    """
    settings = settings or get_settings()
    if settings.database_url:
        url = _normalise_scheme(settings.database_url)
        return with_database(url, database) if database else url
    server = embedded_server(settings)
    if start:
        state = server.start()
    else:
        status = server.status()
        state = server.read_state()
        if not status.running or state is None:
            raise DatabaseUnavailable(
                f"the embedded database under {settings.home} is not running: run `twin db start` "
                "(or set DATABASE_URL to use another PostgreSQL server)"
            )
    return state.url(database or settings.db_name)


def _normalise_scheme(url: str) -> str:
    scheme, rest = url.split("://", 1)
    if scheme in ("postgres", "postgresql") or scheme.startswith("postgresql+"):
        return "postgresql://" + rest
    return url


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def sqlalchemy_url(url: str) -> str:
    """The same URL with the psycopg 3 driver named, as SQLAlchemy and Airflow 3 want it."""
    return "postgresql+psycopg://" + _normalise_scheme(url).split("://", 1)[1]


def django_database(url: str) -> dict:
    """Django's DATABASES entry for a ``postgresql://`` URL."""
    parts = urlsplit(_normalise_scheme(url))
    query = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": query.pop("host", None) or parts.hostname or "",
        "PORT": str(parts.port or ""),
        "OPTIONS": query,
    }


def connection_parts(url: str) -> dict:
    """host/port/user/password/dbname, for dbt profiles and libpq-style environments."""
    parsed = make_url(_normalise_scheme(url))
    return {
        "host": parsed.query.get("host") or parsed.host or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "",
        "password": parsed.password or "",
        "dbname": parsed.database or "",
    }


@functools.cache
def _engine_for(url: str) -> Engine:
    return sa.create_engine(sqlalchemy_url(url), pool_pre_ping=True, future=True)


def get_engine(settings: Settings | None = None, *, start: bool = False) -> Engine:
    """The shared engine for the project database (one pool per URL per process)."""
    return _engine_for(database_url(settings, start=start))


def check_connection(engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {engine.url.render_as_string(hide_password=True)}: "
            f"{str(exc.orig).strip().splitlines()[0]}. Start it with `twin db start` or fix DATABASE_URL."
        ) from exc


def ensure_database(admin_url: str, name: str) -> bool:
    """Create database ``name`` on the server behind ``admin_url`` if missing; return whether created."""
    engine = sa.create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(sa.text("select 1 from pg_database where datname = :n"), {"n": name}).scalar()
            if exists:
                return False
            conn.execute(sa.text(f'create database "{name}"'))
            return True
    finally:
        engine.dispose()


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` (disconnecting its sessions) if it exists."""
    engine = sa.create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
    finally:
        engine.dispose()


def prepare_server(settings: Settings | None = None) -> str:
    """Start the embedded server if it is the one in use, and make sure the project database exists."""
    settings = settings or get_settings()
    url = database_url(settings, start=True)
    if settings.uses_embedded_db:
        ensure_database(with_database(url, "postgres"), settings.db_name)
    return url


__all__ = [
    "DatabaseUnavailable",
    "EmbeddedPostgresError",
    "check_connection",
    "connection_parts",
    "database_url",
    "drop_database",
    "django_database",
    "embedded_server",
    "ensure_database",
    "get_engine",
    "prepare_server",
    "sqlalchemy_url",
]
