"""``twin web``: the Django web app on Django's development server, as a child process (so nothing
in ``twin`` imports Django). For production run it under gunicorn (see webapp/README.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Annotated, Optional

import typer

from twin.cli import WEB_SECRETS, _service_settings, app, console, fail


def runserver_command(host: str, port: int, *, reload: bool = True) -> list[str]:
    command = [sys.executable, "-m", "webapp.manage", "runserver", f"{host}:{port}"]
    if not reload:
        command.append("--noreload")
    return command


@app.command("web")
def web(
    port: Annotated[Optional[int], typer.Option(help="port (default TWIN_WEB_PORT, 8000)")] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    reload: Annotated[bool, typer.Option("--reload/--no-reload", help="restart when the code changes")] = True,
) -> None:
    """Run the web app (development server). Needs the database up and migrated (`twin db start`, `twin migrate`)."""
    from twin import db as twin_db
    from twin.settings import PROJECT_ROOT

    settings = _service_settings(*WEB_SECRETS, component="the web app")
    port = port or settings.web_port
    try:
        twin_db.database_url(settings)
    except twin_db.DatabaseUnavailable as exc:
        raise fail(f"{exc} (start it with `twin db start`)")
    console.print(f"web app on http://{host}:{port}/ (admin at /admin/) — Ctrl-C stops it", highlight=False)
    try:
        code = subprocess.call(runserver_command(host, port, reload=reload), cwd=PROJECT_ROOT,
                               env={**os.environ, "TWIN_DB_ROLE": os.environ.get("TWIN_DB_ROLE", "web")})
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)
