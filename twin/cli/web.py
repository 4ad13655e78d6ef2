"""``twin web``: the Django web app under gunicorn (or Django's development server with ``--dev``), as
a child process (so nothing in ``twin`` imports Django) that stops, with every worker, on Ctrl-C or
SIGTERM."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from twin.cli.common import WEB_SECRETS, console, fail, service_settings

app = typer.Typer()


@app.command("web")
def web(
    port: Annotated[int | None, typer.Option(help="port (default TWIN_WEB_PORT, 8000)")] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    workers: Annotated[int, typer.Option(min=1, max=64, help="gunicorn worker processes (8 threads each)")] = 2,
    dev: Annotated[bool, typer.Option("--dev", help="Django's development server instead of gunicorn")] = False,
    reload: Annotated[
        bool, typer.Option("--reload/--no-reload", help="with --dev: restart when the code changes")
    ] = True,
) -> None:
    """Run the web app: gunicorn (threaded workers, static files by WhiteNoise, graceful stop on
    Ctrl-C/SIGTERM), or with --dev Django's development server. Needs the database up and migrated
    (`twin db start`, `twin migrate`)."""
    from twin.core import db as twin_db
    from twin.core.processes import run_in_foreground
    from twin.core.settings import PROJECT_ROOT
    from twin.orchestration.web_server import gunicorn_command, runserver_command

    settings = service_settings(*WEB_SECRETS, component="the web app")
    port = port or settings.web_port
    try:
        twin_db.database_url(settings)
    except twin_db.DatabaseUnavailable as exc:
        raise fail(f"{exc} (start it with `twin db start`)")
    command = runserver_command(host, port, reload=reload) if dev else gunicorn_command(host, port, workers=workers)
    server = "Django's development server" if dev else f"gunicorn, {workers} workers"
    console.print(f"web app on http://{host}:{port}/ ({server}; admin at /admin/) — Ctrl-C stops it", highlight=False)
    code = run_in_foreground(
        command, cwd=PROJECT_ROOT, env={**os.environ, "TWIN_DB_ROLE": os.environ.get("TWIN_DB_ROLE", "web")}
    )
    raise typer.Exit(code)
