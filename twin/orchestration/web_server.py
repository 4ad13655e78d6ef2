"""How the web app is run: gunicorn for use (`twin up`, the demo, `twin web`, docker), Django's
development server only for development (`twin web --dev`). Commands only: nothing here imports
Django, the server process does."""

from __future__ import annotations

import sys

WSGI_APP = "webapp.wsgi:application"


def gunicorn_command(host: str, port: int, *, workers: int = 2, threads: int = 8, graceful_s: int = 20) -> list[str]:
    """gunicorn with threaded workers (a streamed post holds one thread, not a whole worker), access
    log on stdout, and a graceful stop on SIGTERM (``graceful_s`` for requests in flight)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        WSGI_APP,
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--graceful-timeout",
        str(graceful_s),
        "--timeout",
        "120",
        "--access-logfile",
        "-",
        "--forwarded-allow-ips",
        "127.0.0.1",
    ]


def runserver_command(host: str, port: int, *, reload: bool = True) -> list[str]:
    command = [sys.executable, "-m", "webapp.manage", "runserver", f"{host}:{port}"]
    if not reload:
        command.append("--noreload")
    return command
