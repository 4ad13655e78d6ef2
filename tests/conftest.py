"""Test harness: one real PostgreSQL + pgvector, started only when a test needs it; tiers by marker.

``pytest_configure`` only points the process at this session's database (``DATABASE_URL``,
Django's settings, Airflow's metadata connection) without starting anything: the embedded server
under ``.twin/test`` (or ``TWIN_TEST_HOME``; ``DATABASE_URL`` when set) is started, a fresh
database created and every migration applied (``twin.core.migrate``: Alembic + Django) the first
time a test requests a fixture that needs it (``database_url``, ``engine``, ``db``...). Each test
then isolates itself: ``db_conn`` rolls back, Django's ``db`` fixture rolls back, and tests that
commit through a subprocess use unique users.

Under pytest-xdist (``make test`` runs ``-n 2``) each worker has a home of its own under that home
(``gw0``, ``gw1``: its own embedded server) and ``testing.scheduling`` decides which tests run where.

Tiers (``pytest -m unit`` / ``integration`` / ``e2e``) are given in ``pytest_collection_modifyitems``
from what a test uses; see :data:`EXPLICIT_TIERS` for those its fixtures cannot tell. A test of
the ``unit`` tier that asks for the database fails with "this test needs Postgres".
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
TESTS = ROOT / "tests"
_session: dict = {}
_current: dict = {}  # "item": the test being run (the lazy database refuses a unit test)

TIERS = ("unit", "integration", "e2e")
# Fixtures whose closure means "a service": the session database (every database fixture below,
# and pytest-django's database fixtures, go through `_twin_database`), Ray, a live server.
INTEGRATION_FIXTURES = {"_twin_database", "local_ray", "serve_app", "airflow_metadata"}
E2E_FIXTURES = {"live_server", "browser_page"}
E2E_NAMES = {"chromium"}  # a test whose body calls tests.browser.chromium() drives the browser
# Tests that start a service without a fixture that says so (path relative to tests/, or a node id
# prefix): Ray, Airflow, dbt, subprocess servers, the `twin` CLI against the database.
# A test whose body drives the browser stays e2e whatever this table says.
EXPLICIT_TIERS: dict[str, str] = {
    "test_demo.py": "e2e",  # `twin demo` / `twin up`: the whole stack and a browser
    "test_stack.py": "e2e",  # the whole stack as processes
    "twin/core/test_embedded_pg.py": "integration",  # starts its own PostgreSQL servers
    "webapp/test_web_server.py": "integration",  # gunicorn as a subprocess, on the database
    "twin/cli/test_web.py::test_twin_web_serves_the_login_page": "integration",  # `twin web` subprocess
    # the `twin` CLI (a subprocess, or in process) against the session database
    "twin/core/test_users.py": "integration",
    "crawlers/test_cli_crawl.py": "integration",
    "twin/cli/test_write.py::test_in_process_unknown_user_fails_before_loading_models": "integration",
    # the shipped base model that `make install` prepares (its `reference` fixture loads it)
    "twin/core/test_post_quality.py::test_the_threshold_separates_real_posts_from_word_salad_under_the_shipped_model": (
        "integration"
    ),
    "twin/core/test_post_quality.py::test_the_tiny_random_models_text_fails_the_check": "integration",
}


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("help") or config.getoption("version"):
        return
    if _xdist_controller(config):
        return  # the workers run the tests; each configures itself
    config.pluginmanager.register(_UnitGuard(), "twin-unit-guard")
    from twin.core import db
    from twin.core.embedded_pg import EmbeddedPostgres
    from twin.core.settings import get_settings, load_settings

    external = os.environ.get("DATABASE_URL")
    home = Path(os.environ.get("TWIN_TEST_HOME", ROOT / ".twin" / "test"))
    if worker := os.environ.get("PYTEST_XDIST_WORKER"):
        home = home / worker
    if external:
        admin_url = db.with_database(db.database_url(load_settings()), "postgres")
    else:
        server = EmbeddedPostgres(home)
        # the recorded port and password (initdb once per home, which starts no server)
        admin_url = (server.read_state() or server.init()).url("postgres")
    name = f"twin_test_{os.getpid()}"
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
    _session.update(
        external=bool(external), home=home, admin_url=admin_url, name=name, url=url, airflow_name=airflow_name
    )

    import django

    django.setup()  # pytest-django's own set-up only runs for settings configured before this hook


def _start_database() -> None:
    """Start the server (unless it runs already), create this session's database and migrate it."""
    from twin.core import db
    from twin.core.embedded_pg import EmbeddedPostgres
    from twin.core.migrate import migrate
    from twin.core.settings import get_settings

    server = None
    if not _session["external"]:
        server = EmbeddedPostgres(_session["home"])
        if server.status().running:
            server = None  # another session (or a developer) runs it: leave it running at the end
        else:
            server.start()
    _session["server"] = server
    _session["started"] = True
    db.drop_database(_session["admin_url"], _session["name"])
    db.ensure_database(_session["admin_url"], _session["name"])
    migrate(_session["url"], get_settings(), include_airflow=False)


def pytest_unconfigure(config: pytest.Config) -> None:
    if not _session.get("started"):
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


def _xdist_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput") and config.getoption("dist", "no") != "no"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    from testing.scheduling import GroupedScheduling

    return GroupedScheduling(config, log)


# -- tiers -----------------------------------------------------------------------------------------
def _explicit_tier(item: pytest.Item) -> str | None:
    path = Path(item.path)
    if TESTS not in path.parents:
        return None
    node = path.relative_to(TESTS).as_posix() + item.nodeid.split(".py", 1)[-1]
    for prefix, tier in EXPLICIT_TIERS.items():
        if node == prefix or node.startswith((prefix + "::", prefix + "[")):
            return tier
    return None


def _inferred_tier(item: pytest.Item) -> str:
    fixtures = set(getattr(item, "fixturenames", ()))
    function = getattr(item, "function", None)
    names = set(getattr(getattr(function, "__code__", None), "co_names", ()))
    if fixtures & E2E_FIXTURES or names & E2E_NAMES:
        return "e2e"
    if fixtures & INTEGRATION_FIXTURES or item.get_closest_marker("django_db") is not None:
        return "integration"
    return "unit"


# Not trylast: the tiers must be given before `-m` deselects. pytest-django's ordering (tryfirst)
# has run already; the stable sort below keeps it within each rank.
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give every test one tier: its own mark, else the higher of :data:`EXPLICIT_TIERS` and what
    its fixtures and body use. Then the longest tests first (``testing.scheduling``)."""
    from testing.scheduling import rank

    items.sort(key=lambda item: rank(item.nodeid))
    for item in items:
        if any(item.get_closest_marker(tier) for tier in TIERS):
            continue
        tiers = [_inferred_tier(item), _explicit_tier(item) or "unit"]
        item.add_marker(max(tiers, key=TIERS.index))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    _current["item"] = item
    try:
        return (yield)
    finally:
        _current.pop("item", None)


class _UnitGuard:
    """Registered as a plugin of its own (a conftest's hooks do not see session-scoped fixtures)."""

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, fixturedef, request):
        try:
            return (yield)
        except pytest.fail.Exception:
            if fixturedef.argname == "_twin_database":
                # a unit test was refused: forget it, so the next integration test gets the database
                fixturedef.finish(request)
            raise


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _twin_database() -> str:
    """This session's database, started and migrated on first use; refused to ``unit`` tests."""
    item = _current.get("item")
    if item is not None and item.get_closest_marker("unit") is not None:
        pytest.fail(
            f"{item.nodeid}: this test needs Postgres: mark it integration "
            "(@pytest.mark.integration, or EXPLICIT_TIERS in tests/conftest.py)",
            pytrace=False,
        )
    if not _session.get("started"):
        _start_database()
    return _session["url"]


@pytest.fixture(scope="session")
def django_db_setup(_twin_database):
    """The session database is already migrated (by twin.core.migrate); Django uses it as it is."""


@pytest.fixture(scope="session")
def database_url(_twin_database) -> str:
    return _twin_database


@pytest.fixture(scope="session")
def admin_database_url(_twin_database) -> str:
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


# Session fixtures that create a web app user: fixture name -> (id attribute, email attribute).
SESSION_WEB_USERS = {"serving_users": ("ada_id", "ada_email"), "indexed_corpus": ("author_id", "author_email")}


@pytest.fixture(autouse=True)
def _session_web_users_survive_django_flushes(request):
    """pytest-django empties ``auth_user`` after a transactional test: put back the web app user of
    each session fixture this test uses (``testing.web_users``)."""
    for name in SESSION_WEB_USERS.keys() & set(request.fixturenames):
        from testing.web_users import restore_web_user

        id_attribute, email_attribute = SESSION_WEB_USERS[name]
        users = request.getfixturevalue(name)
        restore_web_user(
            request.getfixturevalue("engine"), getattr(users, id_attribute), getattr(users, email_attribute)
        )


@pytest.fixture
def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"
