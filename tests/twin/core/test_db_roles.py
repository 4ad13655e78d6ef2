"""Per-service database roles (migration 0002 + twin.core.db.grant_service_roles): each service connects as
its own role and can do what it needs and nothing more. Real logins on the session's server."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import stat
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import sqlalchemy as sa
from psycopg.errors import InsufficientPrivilege

from twin.core.db import PASSWORD_ENV, SERVICE_ROLES, grant_service_roles, sqlalchemy_url, with_login
from twin.core.db import database_url as twin_database_url
from twin.core.embedded_pg import EmbeddedPostgres, ServerState
from twin.core.raw import CrawlRun, DocumentRecord
from twin.core.settings import load_settings
from twin.core.tables import hnsw_index_ddl

MIGRATION = Path(__file__).resolve().parents[3] / "twin" / "core" / "migrations" / "versions" / "0002_service_roles.py"


# --- logins ------------------------------------------------------------------------------------------


def _test_server(url: str) -> EmbeddedPostgres | None:
    """The embedded server behind the session's database, if that is what the suite runs on."""
    server = EmbeddedPostgres(Path(os.environ["TWIN_HOME"]))
    state = server.read_state()
    return server if state is not None and urlsplit(url).port == state.port else None


@pytest.fixture(scope="module")
def role_urls(database_url) -> dict[str, str]:
    """A URL per service role, after giving the roles their logins as `twin migrate` does."""
    server = _test_server(database_url)
    if server is not None:
        passwords = server.role_passwords(tuple(SERVICE_ROLES))  # shared by every session on this server
    else:
        passwords = {role: os.environ[name] for role, name in PASSWORD_ENV.items() if os.environ.get(name)}
        if len(passwords) < len(SERVICE_ROLES):
            pytest.skip(f"external test server: set {', '.join(PASSWORD_ENV.values())} to test the roles")
    assert grant_service_roles(database_url, passwords=passwords) == sorted(SERVICE_ROLES)
    return {role: with_login(database_url, SERVICE_ROLES[role], password) for role, password in passwords.items()}


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


@pytest.fixture(scope="module")
def web(role_urls):
    with _connect(role_urls["web"]) as conn:
        yield conn


@pytest.fixture(scope="module")
def serving(role_urls):
    with _connect(role_urls["serving"]) as conn:
        yield conn


@pytest.fixture(scope="module")
def pipeline(role_urls):
    with _connect(role_urls["pipeline"]) as conn:
        yield conn


def allowed(conn: psycopg.Connection, statement: str, params=None) -> None:
    """Runs (then rolled back): the role holds the privileges ``statement`` needs."""
    with conn.transaction(force_rollback=True):
        conn.execute(statement, params)


def refused(conn: psycopg.Connection, statement: str, params=None) -> None:
    with pytest.raises(InsufficientPrivilege):
        with conn.transaction(force_rollback=True):
            conn.execute(statement, params)


def _post(url: str) -> DocumentRecord:
    return DocumentRecord(platform="web", kind="link", source_url=url, content="A link someone shared, read and kept.")


@pytest.fixture
def user_id(engine):
    user_id = random.randint(10**9, 2 * 10**9)
    yield user_id
    with engine.begin() as conn:
        conn.execute(sa.text("delete from raw.documents where user_id = :u"), {"u": user_id})
        conn.execute(sa.text("delete from raw.crawl_runs where user_id = :u"), {"u": user_id})


def _store_as(url: str, user_id: int, name: str) -> str | None:
    engine = sa.create_engine(sqlalchemy_url(url))
    try:
        with CrawlRun(engine, user_id, f"role-test-{name}", "web") as run:
            outcome = run.store(_post(f"https://example.org/{name}/{uuid.uuid4().hex}"))
        assert run.status == "succeeded", run.counts.errors
        return outcome
    finally:
        engine.dispose()


DATA_PLANE_READS = [
    "select * from raw.documents limit 1",
    "select * from raw.crawl_runs limit 1",
    "select * from vectors.chunk_embeddings limit 1",
    "select * from registry.models limit 1",
]
VECTOR_WRITES = [
    "insert into vectors.chunk_embeddings (chunk_id, model, user_id, embedding) values ('c', 'm', 1, '[1,2,3]')",
    "update vectors.chunk_embeddings set user_id = 2 where false",
    "delete from vectors.chunk_embeddings where false",
]
REGISTRY_WRITES = [
    "insert into registry.models (model_id, user_id, base_model) values (gen_random_uuid(), 1, 'b')",
    "update registry.models set status = 'failed' where false",
    "delete from registry.models where false",
]
# what neither reader may do to raw.*
RAW_CHANGES = [
    "update raw.documents set content = 'x' where false",
    "delete from raw.documents where false",
    "update raw.crawl_runs set user_id = 1 where false",
    "delete from raw.crawl_runs where false",
    "truncate raw.documents",
]


# --- the web app --------------------------------------------------------------------------------------


def test_web_reads_the_data_plane_but_changes_nothing_in_it(web):
    assert web.execute("select current_user").fetchone()[0] == "twin_web"
    for statement in DATA_PLANE_READS:
        allowed(web, statement)
    for statement in VECTOR_WRITES + REGISTRY_WRITES + RAW_CHANGES:
        refused(web, statement)


def test_web_owns_its_django_tables_but_not_the_bookkeeping(web):
    allowed(web, "insert into django_session (session_key, session_data, expire_date) values ('k', 'd', now())")
    allowed(web, "update django_session set session_data = 'e' where false")
    allowed(web, "delete from django_session where false")
    allowed(web, "update auth_user set is_active = is_active where false")
    allowed(web, "select * from django_migrations limit 1")  # runserver's check for unapplied migrations
    refused(web, "insert into django_migrations (app, name, applied) values ('x', 'y', now())")
    refused(web, "select * from twin_alembic_version")
    refused(web, "create table public.role_probe (x int)")


RAW_APPENDS = [
    "insert into raw.crawl_runs (crawl_run_id, user_id, source, platform) values (gen_random_uuid(), 1, 'x', 'web')",
    "insert into raw.documents (document_version_id, user_id, platform, kind, source_url, content, "
    "content_hash, crawl_run_id) values ('v', 1, 'web', 'post', 'https://example.org', 'c', 'h', gen_random_uuid())",
]


def test_web_cannot_append_to_raw_either(web):
    """Uploaded exports are imported by the twin_import DAG (the pipeline role), not the web app."""
    for statement in RAW_APPENDS:
        refused(web, statement)


# --- serving ------------------------------------------------------------------------------------------


def test_serving_reads_what_it_serves_and_writes_nothing_else(serving):
    assert serving.execute("select current_user").fetchone()[0] == "twin_serving"
    for statement in DATA_PLANE_READS:
        allowed(serving, statement)
    allowed(serving, "select id, email, is_active from auth_user limit 1")  # resolve_user
    refused(serving, "select password from auth_user limit 1")
    for statement in (
        "select * from sources_source limit 1",
        "select * from django_session limit 1",
        "select * from compose_generation limit 1",
    ):
        refused(serving, statement)
    for statement in VECTOR_WRITES + REGISTRY_WRITES + RAW_CHANGES + RAW_APPENDS:
        refused(serving, statement)
    for statement in (
        "insert into auth_user (password, is_superuser, username, first_name, last_name, email, "
        "is_staff, is_active, date_joined) values ('x', true, 'u', '', '', 'e', true, true, now())",
        "update auth_user set is_superuser = true where false",
        "delete from auth_user where false",
    ):
        refused(serving, statement)


def test_serving_resolves_users(engine, role_urls):
    from twin.core.users import user_id_for_email

    email = f"role-test-{uuid.uuid4().hex[:8]}@example.org"
    with engine.begin() as conn:
        created = conn.execute(
            sa.text(
                "insert into auth_user (password, is_superuser, username, first_name, last_name, email, is_staff, "
                "is_active, date_joined) values ('!', false, :e, '', '', :e, false, true, now()) returning id"
            ),
            {"e": email},
        ).scalar()
    serving_engine = sa.create_engine(sqlalchemy_url(role_urls["serving"]))
    try:
        with serving_engine.connect() as conn:
            assert user_id_for_email(conn, email) == created
    finally:
        serving_engine.dispose()
        with engine.begin() as conn:
            conn.execute(sa.text("delete from auth_user where id = :i"), {"i": created})


# --- the pipeline (Airflow tasks: crawlers, dbt, embedding, training) ---------------------------------


def test_pipeline_writes_the_data_plane(pipeline, role_urls, user_id):
    assert pipeline.execute("select current_user").fetchone()[0] == "twin_pipeline"
    assert _store_as(role_urls["pipeline"], user_id, "pipeline") == "new"
    for statement in DATA_PLANE_READS + VECTOR_WRITES + REGISTRY_WRITES:
        allowed(pipeline, statement)
    allowed(pipeline, "update raw.crawl_runs set status = 'failed' where false")  # abandon_run
    allowed(pipeline, hnsw_index_ddl(f"role-probe-{uuid.uuid4().hex[:6]}", 3))  # embedding: an index per model
    allowed(pipeline, "select * from sources_source limit 1")  # the sources to collect


def test_pipeline_cannot_touch_the_web_apps_tables(pipeline):
    for statement in (
        "select id from auth_user limit 1",
        "update auth_user set is_active = false where false",
        "select * from django_session limit 1",
        "select * from compose_generation limit 1",
        "select * from sources_upload limit 1",
        "insert into sources_source (user_id) values (1)",
        "update sources_source set is_active = false where false",
        "create table public.role_probe (x int)",
    ):
        refused(pipeline, statement)


def test_dbt_relations_belong_to_the_pipeline_and_the_readers_read_them(engine, database_url, pipeline, web, serving):
    """dbt builds as twin_pipeline whoever runs it (DBT_PG_ROLE), so the pipeline can replace what the
    owner built by hand; the web app and serving read marts through default privileges."""
    from twin.core.transform import run_dbt

    outcome = run_dbt(["run", "--select", "stg_raw__crawl_runs"], url=database_url)
    assert outcome.success, outcome.exception
    with engine.connect() as conn:
        owner = conn.execute(
            sa.text("select viewowner from pg_views where schemaname = 'staging' and viewname = 'stg_raw__crawl_runs'")
        ).scalar()
    assert owner == "twin_pipeline"
    table = f"marts.role_probe_{uuid.uuid4().hex[:8]}"
    pipeline.execute(f"create table {table} (x int)")
    try:
        allowed(web, f"select * from {table}")
        allowed(serving, f"select * from {table}")
        refused(web, f"insert into {table} values (1)")
        refused(serving, f"insert into {table} values (1)")
        refused(web, "select * from staging.stg_raw__crawl_runs")
    finally:
        pipeline.execute(f"drop table {table}")


# --- choosing the role ------------------------------------------------------------------------------


def test_embedded_role_urls_log_in_as_the_role(database_url, role_urls):
    server = _test_server(database_url)
    if server is None:
        pytest.skip("the suite runs on an external server")
    name = urlsplit(database_url).path.lstrip("/")
    for role, login in [("owner", server.read_state().user), *SERVICE_ROLES.items()]:
        settings = load_settings(database_url=None, home=server.home, db_role=role)
        with psycopg.connect(twin_database_url(settings, database=name)) as conn:
            assert conn.execute("select current_user").fetchone()[0] == login
    pipeline_settings = load_settings(database_url=None, home=server.home, db_role="pipeline")
    assert urlsplit(twin_database_url(pipeline_settings, role="owner")).username == server.read_state().user


def test_external_role_urls_come_from_the_password_variables(monkeypatch):
    owner = "postgresql://twin:owner-secret@db.example.org:5432/twin"
    settings = load_settings(database_url=owner, db_role="web")
    monkeypatch.delenv("TWIN_DB_PASSWORD_WEB", raising=False)
    assert twin_database_url(settings) == owner  # no password for the role: DATABASE_URL as today
    monkeypatch.setenv("TWIN_DB_PASSWORD_WEB", "p@ss/word:1")
    assert twin_database_url(settings) == "postgresql://twin_web:p%40ss%2Fword%3A1@db.example.org:5432/twin"
    assert twin_database_url(settings, role="owner") == owner
    assert twin_database_url(settings, database="airflow", role="owner").endswith("@db.example.org:5432/airflow")


def test_role_passwords_are_generated_once_and_kept_private(tmp_path):
    server = EmbeddedPostgres(tmp_path)
    server._write_state(ServerState(port=5999, user="twin", password="owner-secret"))
    server.state_file.chmod(0o644)  # as an older file might be
    first = server.role_passwords(("web", "serving", "pipeline"))
    assert len(set(first.values())) == 3 and all(len(password) >= 24 for password in first.values())
    assert server.role_passwords(("web", "serving", "pipeline")) == first
    assert stat.S_IMODE(server.state_file.stat().st_mode) == 0o600
    state = json.loads(server.state_file.read_text())
    assert state["password"] == "owner-secret" and state["roles"] == first
    assert EmbeddedPostgres(tmp_path, port=6001).read_state().roles == first


def test_the_stack_starts_each_service_as_its_role(monkeypatch, tmp_path):
    import twin.orchestration.stack as stack_module
    from twin.orchestration.stack import Stack

    settings = load_settings(home=tmp_path)
    stack = Stack.create(settings)
    spawned, prepared = {}, {}

    class Started:
        def __init__(self, name):
            self.name = name

    def spawn(name, command, *, env=None, kind=None):
        spawned[name] = env or stack.env
        return Started(name)

    class FakeAirflow:
        def __init__(self, env, log_dir, workers=()):
            pass

        def start(self):
            pass

        def wait_until_ready(self, url, timeout):
            pass

    monkeypatch.setattr(stack, "_spawn", spawn)
    monkeypatch.setattr(stack, "_wait_http", lambda *args, **kwargs: None)
    monkeypatch.setattr(
        stack_module, "prepare", lambda settings, base_env: prepared.update(role=settings.db_role) or {}
    )
    monkeypatch.setattr(stack_module, "AirflowProcesses", FakeAirflow)
    assert stack.start_services() == (f"http://127.0.0.1:{settings.web_port}", str(settings.serving_url).rstrip("/"))
    assert list(spawned) == ["serving", "web"], "serving starts beside Airflow, the web app after both answer"
    assert spawned["web"]["TWIN_DB_ROLE"] == "web"
    assert spawned["serving"]["TWIN_DB_ROLE"] == "serving"
    assert prepared["role"] == "pipeline"
    assert "TWIN_DB_ROLE" not in stack.env  # the stack's own commands (migrations, the CLI) stay the owner


def test_airflow_tasks_connect_as_the_pipeline_and_its_metadata_as_the_owner(monkeypatch, tmp_path):
    from twin.orchestration.airflow import airflow_env

    monkeypatch.setenv("TWIN_DB_PASSWORD_PIPELINE", "pipeline-secret")
    settings = load_settings(
        home=tmp_path, database_url="postgresql://twin:owner-secret@db.example.org:5432/twin", db_role="pipeline"
    )
    env = airflow_env(settings, base_env={})
    assert urlsplit(env["DATABASE_URL"]).username == "twin_pipeline"
    metadata = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (metadata.username, metadata.path) == ("twin", "/airflow")


# --- the migration ----------------------------------------------------------------------------------


def _privileges(url: str) -> set[tuple]:
    """Every grant to the twin_* roles, the owners of what they own, and the default privileges."""
    engine = sa.create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("""
                select 'relation', c.oid::regclass::text, pg_get_userbyid(c.relowner), acl::text
                from pg_class c join pg_namespace n on n.oid = c.relnamespace
                left join lateral unnest(c.relacl) acl on true
                where n.nspname in ('public', 'raw', 'vectors', 'registry', 'staging', 'intermediate', 'marts')
                  and c.relkind in ('r', 'p', 'v', 'm')
                union all
                select 'column', a.attrelid::regclass::text || '.' || a.attname::text, '', acl::text
                from pg_attribute a, unnest(a.attacl) acl
                union all
                select 'schema', nspname::text, pg_get_userbyid(nspowner), acl::text
                from pg_namespace left join lateral unnest(nspacl) acl on true
                where nspname in ('public', 'raw', 'vectors', 'registry', 'staging', 'intermediate', 'marts')
                union all
                select 'default', coalesce(n.nspname::text, '') || ':' || d.defaclobjtype::text, pg_get_userbyid(d.defaclrole), acl::text
                from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace, unnest(d.defaclacl) acl
                union all
                select 'database', datname::text, '', acl::text
                from pg_database, unnest(datacl) acl where datname = current_database()
            """)
            )
            return {tuple(row) for row in rows}
    finally:
        engine.dispose()


def _upgrade_0002_again(url: str) -> None:
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    spec = importlib.util.spec_from_file_location("service_roles_0002", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    engine = sa.create_engine(sqlalchemy_url(url))
    try:
        with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
            module.upgrade()
    finally:
        engine.dispose()


def _downgrade_to_0001(url: str) -> None:
    from alembic import command

    from twin.core.migrate import _alembic_config

    engine = sa.create_engine(sqlalchemy_url(url))
    try:
        config = _alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0001")
    finally:
        engine.dispose()


def test_the_migration_is_idempotent_and_reversible(scratch_database):
    from twin.core.migrate import migrate

    settings = load_settings()
    migrate(scratch_database, settings, include_airflow=False)
    granted = _privileges(scratch_database)
    grants = {acl for kind, _, _, acl in granted if acl}
    assert any(acl.startswith("twin_web=arwd/") for acl in grants)  # the web app's DML on Django's tables
    assert ("relation", "vectors.chunk_embeddings", "twin_pipeline", "twin_serving=r/twin_pipeline") in granted
    assert ("schema", "marts", "twin_pipeline", "twin_web=U/twin_pipeline") in granted

    _upgrade_0002_again(scratch_database)
    grant_service_roles(scratch_database, passwords={})
    assert _privileges(scratch_database) == granted

    _downgrade_to_0001(scratch_database)
    left = {acl for kind, _, _, acl in _privileges(scratch_database) if acl and acl.split("=")[0].startswith("twin_")}
    assert left == set()
    migrate(scratch_database, settings, include_airflow=False)
    assert _privileges(scratch_database) == granted


def test_compose_runs_each_service_as_its_role():
    import yaml

    docker = Path(__file__).resolve().parents[3] / "docker"
    services = yaml.safe_load((docker / "compose.yaml").read_text())["services"]
    expected = {
        "web": "web",
        "serving": "serving",
        "ray-head": "serving",
        "ray-worker-gpu": "serving",
        **{f"airflow-{name}": "pipeline" for name in ("api-server", "scheduler", "dag-processor", "triggerer")},
    }
    for name, service in services.items():
        paths = [entry["path"] if isinstance(entry, dict) else entry for entry in service["env_file"]]
        role_files = [path for path in paths if path.startswith("roles/")]
        if name not in expected:
            assert role_files == [], name  # migrate (the owner) and postgres
            continue
        assert role_files == [paths[-1]], name  # read last: the role is the service's, not a user's choice
        assert f"TWIN_DB_ROLE={expected[name]}\n" in (docker / paths[-1]).read_text(), name
    env_example = (docker / ".env.example").read_text()
    for name in PASSWORD_ENV.values():
        assert f"\n{name}=" in env_example
