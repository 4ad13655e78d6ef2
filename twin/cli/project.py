"""``twin db``, ``twin user``, ``twin migrate``, ``twin airflow`` and ``twin psql``: the project's database, users and Airflow."""

from __future__ import annotations

import json
import subprocess
from typing import Annotated

import typer

from twin.cli.common import AIRFLOW_SECRETS, console, fail, service_settings, settings_or_exit, where_password
from twin.core import db as twin_db

app = typer.Typer()
db_app = typer.Typer(help="The project's PostgreSQL (embedded by default, or DATABASE_URL).", no_args_is_help=True)
user_app = typer.Typer(help="Web app users (the data plane refers to them by id).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")


@db_app.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL (idempotent) and create the project database."""
    settings = settings_or_exit()
    if not settings.uses_embedded_db:
        console.print("DATABASE_URL is set: using that server, nothing to start.")
        return
    try:
        with console.status("starting PostgreSQL..."):
            already = twin_db.embedded_server(settings).status().running
            twin_db.prepare_server(settings)
    except (twin_db.EmbeddedPostgresError, twin_db.DatabaseUnavailable) as exc:
        raise fail(str(exc))
    status = twin_db.embedded_server(settings).status()
    console.print(
        f"PostgreSQL {'was already running' if already else 'started'} on 127.0.0.1:{status.port} "
        f"(data in {status.pgdata})"
    )


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL (idempotent)."""
    settings = settings_or_exit()
    if not settings.uses_embedded_db:
        console.print("DATABASE_URL is set: that server is not managed by twin.")
        return
    try:
        stopped = twin_db.embedded_server(settings).stop()
    except twin_db.EmbeddedPostgresError as exc:
        raise fail(str(exc))
    console.print("PostgreSQL stopped." if stopped else "PostgreSQL was not running.")


@db_app.command("status")
def db_status(as_json: Annotated[bool, typer.Option("--json", help="print a JSON object")] = False) -> None:
    """Say whether the database is running and where. Exit code 0 = running, 3 = not running."""
    settings = settings_or_exit()
    if settings.uses_embedded_db:
        status = twin_db.embedded_server(settings).status()
        info = {
            "mode": "embedded",
            "running": status.running,
            "pid": status.pid,
            "port": status.port,
            "pgdata": str(status.pgdata),
            "initialised": status.initialised,
        }
    else:
        engine = twin_db.get_engine(settings)
        try:
            twin_db.check_connection(engine)
            running = True
        except twin_db.DatabaseUnavailable:
            running = False
        info = {"mode": "external", "running": running, "url": engine.url.render_as_string(hide_password=True)}
    if as_json:
        typer.echo(json.dumps(info))
    else:
        where = f"port {info.get('port')}, data in {info.get('pgdata')}" if info["mode"] == "embedded" else info["url"]
        typer.echo(f"{info['mode']} PostgreSQL {'running' if info['running'] else 'not running'} ({where})")
    raise typer.Exit(0 if info["running"] else 3)


@db_app.command("url")
def db_url(
    database: Annotated[str | None, typer.Option(help="database name (default: the project database)")] = None,
    sqlalchemy: Annotated[
        bool, typer.Option("--sqlalchemy", help="name the psycopg 3 driver (postgresql+psycopg://)")
    ] = False,
) -> None:
    """Print the connection URL (psql, psycopg, SQLAlchemy, Django, dbt and Airflow accept it)."""
    settings = settings_or_exit()
    try:
        url = twin_db.database_url(settings, database=database)
    except (twin_db.DatabaseUnavailable, twin_db.EmbeddedPostgresError) as exc:
        raise fail(str(exc))
    typer.echo(twin_db.sqlalchemy_url(url) if sqlalchemy else url)


@app.command()
def migrate() -> None:
    """Create or upgrade every schema (raw, vectors, registry, the web app's tables, the airflow database).

    Starts the embedded database if it is the one in use. Re-running is a no-op.
    """
    from twin.core.migrate import MigrationError
    from twin.core.migrate import migrate as run_migrations

    settings = service_settings(component="twin migrate")  # a local install gets its secrets before Django runs
    try:
        with console.status("migrating..."):
            url = twin_db.prepare_server(settings)
            report = run_migrations(url, settings)
    except (twin_db.EmbeddedPostgresError, twin_db.DatabaseUnavailable, MigrationError) as exc:
        raise fail(str(exc))
    if not report.changed:
        console.print(f"Everything is up to date (data plane at revision {report.alembic_after}).")
        return
    if report.alembic_before != report.alembic_after:
        console.print(f"Data plane migrated: {report.alembic_before or 'empty'} -> {report.alembic_after}")
    if report.django_applied:
        console.print(f"Web app: applied {len(report.django_applied)} Django migrations")
    if report.airflow_database_created:
        console.print(f"Created the `{settings.airflow_db_name}` database for Airflow")


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Argument(help="the user's email, used to log in")],
    password: Annotated[
        str | None, typer.Option(help="password (default: generate and print one)", envvar="TWIN_USER_PASSWORD")
    ] = None,
    admin: Annotated[bool, typer.Option("--admin", help="give access to the Django admin")] = False,
) -> None:
    """Create a web app user. Fails if the email is taken."""
    from twin.core.users import UserCreationError, create_user

    settings = settings_or_exit()
    try:
        url = twin_db.database_url(settings)
        user_id, used_password = create_user(email, password, url, admin=admin)
    except (twin_db.DatabaseUnavailable, UserCreationError) as exc:
        raise fail(str(exc))
    console.print(f"Created user {email.strip().lower()} (id {user_id}).")
    if password is None:
        console.print(f"Generated password: {used_password}", highlight=False)


@app.command("airflow")
def airflow(
    migrate_only: Annotated[
        bool, typer.Option("--migrate-only", help="prepare the metadata database and exit")
    ] = False,
) -> None:
    """Run Airflow for this project (api-server, scheduler, dag-processor, triggerer) until Ctrl-C.

    Metadata goes to the `airflow` database on the project's server; DAGs come from dags/; the
    admin login is TWIN_AIRFLOW_USER / TWIN_AIRFLOW_PASSWORD.
    """
    import time

    from twin.core.db import ensure_database, with_database
    from twin.orchestration.airflow import AirflowError, AirflowProcesses, airflow_home, local_workers, prepare

    settings = service_settings(*AIRFLOW_SECRETS, component="Airflow")
    try:
        with console.status("preparing Airflow's metadata database..."):
            url = twin_db.prepare_server(settings)
            ensure_database(with_database(url, "postgres"), settings.airflow_db_name)
            env = prepare(settings)
    except (AirflowError, twin_db.DatabaseUnavailable, twin_db.EmbeddedPostgresError) as exc:
        raise fail(str(exc))
    if migrate_only:
        console.print("Airflow metadata database is ready.")
        return
    processes = AirflowProcesses(env, airflow_home(settings) / "logs" / "components", workers=local_workers(settings))
    processes.start()
    try:
        with console.status("starting Airflow..."):
            processes.wait_until_ready(str(settings.airflow_url))
        console.print(
            f"Airflow is up at {settings.airflow_url} — log in as {settings.airflow_user!r} "
            f"with TWIN_AIRFLOW_PASSWORD ({where_password(settings)}). Logs: {processes.log_dir}. Ctrl-C stops it.",
            highlight=False,
        )
        while not processes.dead():
            time.sleep(1)
        raise fail(f"Airflow {', '.join(processes.dead())} exited; see {processes.log_dir}")
    except AirflowError as exc:
        raise fail(str(exc))
    except KeyboardInterrupt:
        console.print("stopping Airflow...")
    finally:
        processes.stop()


@app.command("airflow-worker")
def airflow_worker(
    name: Annotated[
        str | None, typer.Option(help="the worker's name in Airflow and Celery (default: this machine's hostname)")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="task slots (default TWIN_AIRFLOW_WORKER_CONCURRENCY)")
    ] = None,
    log_server_port: Annotated[
        int, typer.Option(min=1, max=65535, help="where the api-server fetches this worker's task logs")
    ] = 8793,
) -> None:
    """Run one Celery worker for this project's Airflow until Ctrl-C (TWIN_AIRFLOW_EXECUTOR=CeleryExecutor).

    Start it on every machine that should run tasks, with the same settings as `twin airflow` (database,
    TWIN_AIRFLOW_BROKER_URL, TWIN_SECRET_KEY, TWIN_AIRFLOW_URL as the workers reach it) and the same
    project version. It takes crawls, dbt builds and embedding from the broker's default queue.
    """
    import socket

    from twin.core.processes import start_service, stop_tree
    from twin.orchestration.airflow import AirflowError, airflow_env, worker_command

    settings = service_settings(*AIRFLOW_SECRETS, component="The Airflow worker")
    if settings.airflow_executor != "CeleryExecutor":
        raise fail(
            "Airflow workers need TWIN_AIRFLOW_EXECUTOR=CeleryExecutor (with LocalExecutor the scheduler runs the tasks)"
        )
    if concurrency is not None:
        settings = settings.model_copy(update={"airflow_worker_concurrency": concurrency})
    try:
        env = airflow_env(settings)
    except AirflowError as exc:
        raise fail(str(exc))
    env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(log_server_port)
    name = name or socket.gethostname()
    process = start_service(worker_command(name, serve_logs=True), env=env)
    console.print(
        f"Airflow worker {name} ({settings.airflow_worker_concurrency} task slots, task logs served on port "
        f"{log_server_port}) is starting; Ctrl-C stops it.",
        highlight=False,
    )
    try:
        raise typer.Exit(process.wait())
    except KeyboardInterrupt:
        console.print("stopping the worker (running tasks get 20 s to finish)...")
    finally:
        stop_tree(process)


@app.command("psql", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def psql(ctx: typer.Context) -> None:
    """Open psql on the project database (extra arguments go to psql)."""
    settings = settings_or_exit()
    try:
        url = twin_db.database_url(settings)
    except twin_db.DatabaseUnavailable as exc:
        raise fail(str(exc))
    binary = str(twin_db.embedded_server(settings).psql_path())
    raise typer.Exit(subprocess.call([binary, url, *ctx.args]))
