"""Running Airflow 3 for this project: environment, metadata database, the four components and, with
the Celery executor, its workers.

Metadata lives in the ``airflow`` database on the project's Postgres server. The admin login comes
from settings (``TWIN_AIRFLOW_USER`` / ``TWIN_AIRFLOW_PASSWORD``) through the simple auth manager's
passwords file. Each component runs in its own process group so that stopping kills its workers too.
``TWIN_AIRFLOW_EXECUTOR`` picks where tasks run: LocalExecutor (forked by the scheduler) or
CeleryExecutor (``airflow celery worker`` processes here and on other machines, through the Redis
broker ``TWIN_AIRFLOW_BROKER_URL``; task results go to the metadata database).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from twin.core.db import database_url, sqlalchemy_url
from twin.core.processes import descendants, start_service, stop_tree
from twin.core.settings import PROJECT_ROOT, Settings, SettingsError, get_settings, require_secrets

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
DAGS_FOLDER = PROJECT_ROOT / "dags"
AIRFLOW_LOCAL_SETTINGS = Path(__file__).resolve().parent / "airflow_local"  # on the PYTHONPATH of Airflow processes


class AirflowError(RuntimeError):
    pass


def airflow_home(settings: Settings) -> Path:
    return settings.home / "airflow"


def airflow_env(
    settings: Settings | None = None, *, dags_folder: Path | None = None, base_env: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment every Airflow process of this project runs with (``base_env``, default this
    process's environment, plus Airflow's configuration)."""
    settings = settings or get_settings()
    home = airflow_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    # Airflow's own metadata as the owner; the DAGs' tasks as ``settings.db_role`` (`twin up`: pipeline).
    metadata_url = sqlalchemy_url(database_url(settings, database=settings.airflow_db_name, role="owner"))
    project_url = database_url(settings)
    port = settings.airflow_url.port or 8080
    host = settings.airflow_url.host or "127.0.0.1"
    # A stable secret per installation, so tokens issued by one component are valid for the others.
    secret = hashlib.sha256(f"{settings.secret_key.get_secret_value()}|airflow-jwt".encode()).hexdigest()
    env = dict(os.environ if base_env is None else base_env)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder or DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": settings.airflow_executor,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.airflow_user}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{host}:{port}/execution/",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__API__HOST": host,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": str(settings.airflow_url).rstrip("/"),
            "AIRFLOW__API_AUTH__JWT_SECRET": secret,
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # A scheduler killed mid-run (with its executor's task processes) leaves task instances
            # `running` that no process runs: the next scheduler resets them for another try once
            # the dead one's heartbeat is older than the health threshold (30 s), checked this often.
            "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30",
            # The DAGs' tasks talk to the project database and settings like every other component.
            "DATABASE_URL": project_url,
            "TWIN_HOME": str(settings.home),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONPATH": os.pathsep.join(
                ([str(AIRFLOW_LOCAL_SETTINGS)] if settings.airflow_preload else [])
                + [part for part in env.get("PYTHONPATH", "").split(os.pathsep) if part]
            ),
            "NO_COLOR": "1",
        }
    )
    if settings.airflow_executor == "CeleryExecutor":
        env.update(celery_env(settings, metadata_url))
    return env


def celery_env(settings: Settings, metadata_url: str) -> dict[str, str]:
    """Airflow's Celery configuration: the Redis broker, task results in the metadata database, and
    the task slots per worker."""
    if settings.airflow_broker_url is None:
        raise AirflowError(
            "TWIN_AIRFLOW_EXECUTOR=CeleryExecutor needs TWIN_AIRFLOW_BROKER_URL=redis://:PASSWORD@HOST:6379/0, a "
            "Redis that every Airflow machine reaches and that requires a password (Debian: apt-get install "
            "redis-server, then set requirepass in /etc/redis/redis.conf)."
        )
    return {
        "AIRFLOW__CELERY__BROKER_URL": settings.airflow_broker_url.get_secret_value(),
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata_url}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(settings.airflow_worker_concurrency),
    }


def local_workers(settings: Settings) -> tuple[str, ...]:
    """The Celery workers `twin airflow` and `twin up` run beside the other components (none with
    LocalExecutor, whose scheduler runs the tasks)."""
    if settings.airflow_executor != "CeleryExecutor":
        return ()
    return tuple(f"worker-{number}" for number in range(1, settings.airflow_workers + 1))


def worker_command(name: str, *, serve_logs: bool) -> list[str]:
    """A Celery worker named ``<name>@<host>``. One on another machine serves its task logs to the
    api-server; those started beside the api-server need not (it reads the shared log folder)."""
    return airflow_command(
        "celery", "worker", "--celery-hostname", f"{name}@%h", *([] if serve_logs else ["--skip-serve-logs"])
    )


def component_command(component: str) -> list[str]:
    """``airflow <component>``, or for ``worker-<n>`` a Celery worker started beside it."""
    if component.startswith("worker-"):
        return worker_command(component, serve_logs=False)
    return airflow_command(component)


def write_admin_login(settings: Settings) -> None:
    home = airflow_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    path = home / "passwords.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({settings.airflow_user: settings.airflow_password.get_secret_value()}, handle)


def airflow_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "airflow"), *args]


POOLS = {"twin_marts": (1, "dbt builds and embedding: one at a time across twin_collect and twin_import runs")}


# `airflow db migrate` and `airflow pools set ...` in one interpreter: each `airflow` command spends
# seconds importing Airflow before it does anything.
_SETUP_COMMANDS = """
import json, sys
from airflow.cli import cli_parser
parser = cli_parser.get_parser()
for argv in json.loads(sys.argv[1]):
    print("$ airflow " + " ".join(argv), flush=True)
    args = parser.parse_args(argv)
    args.func(args)
"""


def migrate_metadata(env: dict[str, str]) -> None:
    """``airflow db migrate`` against the project's ``airflow`` database, then the pools the DAGs use
    (both idempotent)."""
    commands = [["db", "migrate"]] + [
        ["pools", "set", name, str(slots), description] for name, (slots, description) in POOLS.items()
    ]
    result = subprocess.run(
        [sys.executable, "-c", _SETUP_COMMANDS, json.dumps(commands)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        ran = [line for line in result.stdout.splitlines() if line.startswith("$ airflow ")]
        raise AirflowError(
            f"{ran[-1][2:] if ran else 'airflow db migrate'} failed:\n" + (result.stderr or result.stdout)[-3000:]
        )


@dataclass
class AirflowProcesses:
    """The api-server, scheduler, dag-processor and triggerer, plus ``workers`` (Celery workers named
    ``worker-<n>``), each in its own process group."""

    env: dict[str, str]
    log_dir: Path
    workers: tuple[str, ...] = ()
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self) -> None:
        for component in COMPONENTS + self.workers:
            self.start_component(component)

    def start_component(self, component: str, env: dict[str, str] | None = None) -> None:
        """Start one component (again, after it died), logging to ``<log_dir>/<component>.log``;
        ``env`` adds to the shared environment for this one."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{component}.log", "ab") as log:
            self.processes[component] = start_service(
                component_command(component), env={**self.env, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
            )

    def dead(self) -> list[str]:
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def wait_until_ready(self, base_url: str, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if dead := self.dead():
                raise AirflowError(f"Airflow {', '.join(dead)} exited; see the logs in {self.log_dir}")
            try:
                response = httpx.get(f"{base_url.rstrip('/')}/api/v2/monitor/health", timeout=5)
                if response.status_code == 200 and response.json().get("scheduler", {}).get("status") == "healthy":
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(1)
        raise AirflowError(f"Airflow was not healthy after {timeout:.0f}s; see the logs in {self.log_dir}")

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM to every component at once, then whatever is left of each tree is killed: API
        workers, executor workers and task processes (``airflow worker -- <id>``), which start
        sessions of their own and would otherwise outlive the scheduler."""
        trees = {name: descendants(process.pid) for name, process in self.processes.items()}
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        for name, process in self.processes.items():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            stop_tree(process, signals=(), tree=trees[name])
        self.processes.clear()


@contextmanager
def running_airflow(
    settings: Settings,
    *,
    dags_folder: Path | None = None,
    base_env: dict[str, str] | None = None,
    log_dir: Path | None = None,
    timeout: float = 300.0,
) -> Iterator[AirflowProcesses]:
    """Prepare, start and (on exit) stop Airflow's components; yields once the API is healthy."""
    processes = AirflowProcesses(
        prepare(settings, dags_folder=dags_folder, base_env=base_env),
        log_dir or airflow_home(settings) / "logs" / "components",
        workers=local_workers(settings),
    )
    processes.start()
    try:
        processes.wait_until_ready(str(settings.airflow_url), timeout=timeout)
        yield processes
    finally:
        processes.stop()


def prepare(
    settings: Settings | None = None, *, dags_folder: Path | None = None, base_env: dict[str, str] | None = None
) -> dict[str, str]:
    """Everything before starting: the env, the admin login file and the metadata schema."""
    settings = settings or get_settings()
    try:
        require_secrets(
            settings,
            "airflow_password",
            "secret_key",
            "database_url",
            "airflow_jwt_secret",
            "airflow_broker_url",
            component="Airflow",
            environ=base_env,
        )
    except SettingsError as exc:
        raise AirflowError(str(exc)) from None
    env = airflow_env(settings, dags_folder=dags_folder, base_env=base_env)
    write_admin_login(settings)
    migrate_metadata(env)
    return env
