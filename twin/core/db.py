"""The one database access layer: where the URL comes from, engines, and server-level setup.

With ``DATABASE_URL`` set that server is used and nothing is started; otherwise the embedded
server under ``$TWIN_HOME`` is (see :mod:`twin.core.embedded_pg`).

Roles: the owner (migrations, the CLI) plus one least-privileged login per service, created by the
Alembic migration ``0002`` and given a password by :func:`grant_service_roles` after every migration.
``TWIN_DB_ROLE`` picks the one a process connects as: on the embedded server with the password kept
in ``$TWIN_HOME/db.json``; with ``DATABASE_URL`` (the owner's) as that server's ``twin_<role>`` with
``TWIN_DB_PASSWORD_<ROLE>``, or as ``DATABASE_URL`` itself while that password is unset.
"""

from __future__ import annotations

import functools
import os
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from twin.core.embedded_pg import EmbeddedPostgres, EmbeddedPostgresError
from twin.core.settings import Settings, get_settings

OWNER = "owner"
SERVICE_ROLES = {"web": "twin_web", "serving": "twin_serving", "pipeline": "twin_pipeline"}
"""``TWIN_DB_ROLE`` value -> PostgreSQL role (the privileges are in twin/core/migrations/versions/0002)."""
PASSWORD_ENV = {role: f"TWIN_DB_PASSWORD_{role.upper()}" for role in SERVICE_ROLES}
"""Where ``twin migrate`` finds each role's password on an external server (unset: the role stays NOLOGIN)."""


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; the message says how to fix it."""


def embedded_server(settings: Settings | None = None) -> EmbeddedPostgres:
    settings = settings or get_settings()
    return EmbeddedPostgres(settings.home, port=settings.db_port)


def database_url(
    settings: Settings | None = None, *, database: str | None = None, start: bool = False, role: str | None = None
) -> str:
    """A plain ``postgresql://`` URL (psql, psycopg, SQLAlchemy, Django and dbt all accept it).

    ``start=True`` starts the embedded server when it is not running; otherwise a stopped
    embedded server is an error that says to run ``twin db start``. ``role`` (default
    ``TWIN_DB_ROLE``, ``owner``) picks the login (see the module's docstring).
    """
    settings = settings or get_settings()
    role = role or settings.db_role
    if role != OWNER and role not in SERVICE_ROLES:
        raise ValueError(f"unknown database role {role!r}")
    if settings.database_url:
        url = _normalise_scheme(settings.database_url)
        if role != OWNER and os.environ.get(PASSWORD_ENV[role]):
            url = with_login(url, SERVICE_ROLES[role], os.environ[PASSWORD_ENV[role]])
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
    return _login_url(state, database or settings.db_name, role)


def recorded_database_url(settings: Settings | None = None) -> str:
    """The URL :func:`database_url` gives, read from the embedded server's recorded state whether or not
    it is running (Django builds its settings before it connects)."""
    settings = settings or get_settings()
    try:
        return database_url(settings)
    except DatabaseUnavailable:
        state = embedded_server(settings).read_state() if settings.uses_embedded_db else None
        if state is None:
            raise
        return _login_url(state, settings.db_name, settings.db_role)


def _login_url(state, database: str, role: str) -> str:
    if role == OWNER:
        return state.url(database)
    password = state.roles.get(role)
    if not password:
        raise DatabaseUnavailable(
            f"the embedded database has no login for the {role} role yet: run `twin migrate` (it creates the "
            "service roles), or unset TWIN_DB_ROLE to connect as the owner"
        )
    return state.url(database, user=SERVICE_ROLES[role], password=password)


def _normalise_scheme(url: str) -> str:
    scheme, rest = url.split("://", 1)
    if scheme in ("postgres", "postgresql") or scheme.startswith("postgresql+"):
        return "postgresql://" + rest
    return url


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def with_login(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


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
    url = database_url(settings, start=True, role=OWNER)
    if settings.uses_embedded_db:
        ensure_database(with_database(url, "postgres"), settings.db_name)
    return url


def service_role_passwords(settings: Settings) -> dict[str, str]:
    """The service roles that get a login, with their passwords: on the embedded server all three
    (generated once, kept in ``$TWIN_HOME/db.json``); otherwise those whose ``TWIN_DB_PASSWORD_*`` is set."""
    if settings.uses_embedded_db:
        return embedded_server(settings).role_passwords(tuple(SERVICE_ROLES))
    return {role: os.environ[name] for role, name in PASSWORD_ENV.items() if os.environ.get(name)}


def grant_service_roles(
    url: str, settings: Settings | None = None, *, passwords: dict[str, str] | None = None
) -> list[str]:
    """Run as the owner after the migrations (Alembic's, then Django's): the grants on Django's tables
    that migration ``0002`` could not make before they existed, and ``LOGIN PASSWORD`` for each
    service role that has a password (``passwords``, default :func:`service_role_passwords`).
    Idempotent; returns the roles given a login."""
    import psycopg
    from psycopg import sql

    if passwords is None:
        passwords = service_role_passwords(settings or get_settings())
    with psycopg.connect(_normalise_scheme(url), autocommit=False) as conn:
        missing = [
            name
            for name in SERVICE_ROLES.values()
            if not conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone()
        ]
        if missing:
            raise DatabaseUnavailable(f"the roles {', '.join(missing)} do not exist: run `twin migrate`")
        # serving resolves users (by email or id) and reads nothing else of Django's; the pipeline
        # reads the sources to collect. Neither writes any table of the web app.
        if conn.execute("select to_regclass('public.auth_user')").fetchone()[0] is not None:
            conn.execute("grant select (id, email, is_active) on public.auth_user to twin_serving")
        if conn.execute("select to_regclass('public.sources_source')").fetchone()[0] is not None:
            conn.execute("grant select on public.sources_source to twin_pipeline")
        if conn.execute("select to_regclass('public.django_migrations')").fetchone()[0] is not None:
            # the web app reads which migrations ran; only `twin migrate` (the owner) records them
            conn.execute("revoke insert, update, delete, truncate on public.django_migrations from twin_web")
        for role, password in passwords.items():
            conn.execute(
                sql.SQL("alter role {} login password {}").format(
                    sql.Identifier(SERVICE_ROLES[role]), sql.Literal(password)
                )
            )
    return sorted(passwords)


__all__ = [
    "DatabaseUnavailable",
    "EmbeddedPostgresError",
    "OWNER",
    "SERVICE_ROLES",
    "check_connection",
    "connection_parts",
    "database_url",
    "drop_database",
    "django_database",
    "embedded_server",
    "ensure_database",
    "get_engine",
    "grant_service_roles",
    "prepare_server",
    "sqlalchemy_url",
]
