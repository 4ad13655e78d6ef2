"""Test harness: one real PostgreSQL + pgvector for the whole session.

Before anything imports Django, ``pytest_configure`` starts the embedded server under
``.twin/test`` (or uses ``DATABASE_URL`` when set), creates a fresh database for this session,
applies every migration to it with ``twin.core.migrate`` (Alembic + Django) and points both the data
plane and Django at it. Each test then isolates itself: ``db_conn`` rolls back, Django's ``db``
fixture rolls back, and tests that commit through a subprocess use unique users.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
_session: dict = {}


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("help") or config.getoption("version"):
        return
    from twin.core import db
    from twin.core.embedded_pg import EmbeddedPostgres
    from twin.core.migrate import migrate
    from twin.core.settings import get_settings, load_settings

    external = os.environ.get("DATABASE_URL")
    home = Path(os.environ.get("TWIN_TEST_HOME", ROOT / ".twin" / "test"))
    if external:
        server = None
        admin_url = db.with_database(db.database_url(load_settings()), "postgres")
    else:
        server = EmbeddedPostgres(home)
        if server.status().running:
            server = None  # another session (or a developer) runs it: leave it running at the end
            admin_url = EmbeddedPostgres(home).read_state().url("postgres")
        else:
            admin_url = server.start().url("postgres")
    name = f"twin_test_{os.getpid()}"
    db.drop_database(admin_url, name)
    db.ensure_database(admin_url, name)
    url = db.with_database(admin_url, name)

    airflow_name = f"airflow_test_{os.getpid()}"
    os.environ.update(
        # Airflow reads its configuration when first imported: point it at this session's own
        # metadata database (created and migrated by the `airflow_metadata` fixture when needed).
        AIRFLOW_HOME=str(home / f"airflow-{os.getpid()}"),
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=db.sqlalchemy_url(db.with_database(admin_url, airflow_name)),
        DATABASE_URL=url,
        TWIN_HOME=str(home),
        # the offline base model prepared by `make install` (converted once, shared by every session)
        TWIN_MODELS_DIR=os.environ.get("TWIN_MODELS_DIR", str(ROOT / ".twin" / "models")),
        DJANGO_SETTINGS_MODULE="webapp.settings",
        TWIN_ALLOW_PRIVATE_URLS="true",
        # the services refuse the shipped default secrets (TWIN_DEBUG stays off in tests)
        TWIN_SECRET_KEY=f"test-secret-key-{os.getpid()}-0123456789abcdef",
        TWIN_SERVING_TOKEN=f"test-serving-secret-{os.getpid()}",
        TWIN_AIRFLOW_PASSWORD=f"test-airflow-password-{os.getpid()}",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    get_settings.cache_clear()
    migrate(url, get_settings(), include_airflow=False)
    _session.update(server=server, admin_url=admin_url, name=name, url=url, airflow_name=airflow_name)

    import django

    django.setup()  # pytest-django's own set-up only runs for settings configured before this hook


def pytest_unconfigure(config: pytest.Config) -> None:
    if not _session:
        return
    from django.db import connections

    connections.close_all()
    if "airflow.settings" in sys.modules:
        sys.modules["airflow.settings"].dispose_orm()  # before its database is dropped below
    from twin.core.db import drop_database

    drop_database(_session["admin_url"], _session["name"])
    drop_database(_session["admin_url"], _session["airflow_name"])
    shutil.rmtree(os.environ["AIRFLOW_HOME"], ignore_errors=True)
    if _session["server"] is not None:
        _session["server"].stop()


@pytest.fixture(scope="session")
def django_db_setup():
    """The session database is already migrated (by twin.core.migrate); Django uses it as it is."""


@pytest.fixture(scope="session")
def database_url() -> str:
    return _session["url"]


@pytest.fixture(scope="session")
def admin_database_url() -> str:
    """The same server's ``postgres`` database, for tests that create databases of their own."""
    return _session["admin_url"]


@pytest.fixture(scope="session")
def airflow_metadata(admin_database_url) -> str:
    """Airflow's metadata database for this session, created and migrated on first use."""
    import subprocess

    from twin.core.db import ensure_database

    ensure_database(admin_database_url, _session["airflow_name"])
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "airflow"), "db", "migrate"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


@pytest.fixture(scope="session")
def engine(database_url):
    from twin.core.db import sqlalchemy_url

    engine = sa.create_engine(sqlalchemy_url(database_url))
    yield engine
    engine.dispose()


@pytest.fixture
def db_conn(engine):
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as conn:
        transaction = conn.begin()
        yield conn
        transaction.rollback()


@pytest.fixture
def scratch_database(admin_database_url):
    """A brand-new empty database on the test server, dropped afterwards."""
    from twin.core.db import drop_database, ensure_database, with_database

    name = f"twin_scratch_{uuid.uuid4().hex[:10]}"
    ensure_database(admin_database_url, name)
    yield with_database(admin_database_url, name)
    drop_database(admin_database_url, name)


@pytest.fixture
def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"
