"""Run the dbt project (``dbt/``) against the project database, in-process with dbt's ``dbtRunner``.

The connection comes from the database URL through environment variables that ``dbt/profiles.yml``
reads (the password as a ``DBT_ENV_SECRET_`` variable, which dbt scrubs from its logs). dbt's
target and log folders live under ``$TWIN_HOME/dbt`` so the source tree stays clean and parallel
homes never share state. Each database user gets its own target folder: dbt re-parses the whole
project when the profile it last parsed with changes, and the owner (``twin transform`` by hand) and
the pipeline role (Airflow's tasks) would otherwise take turns throwing away each other's parse.
A failing model or test raises :class:`TransformFailed`, naming it, so whatever comes after
(embedding) does not run on data that did not pass.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from twin.core.db import connection_parts
from twin.core.db import database_url as project_database_url
from twin.core.settings import PROJECT_ROOT, Settings, get_settings

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
RESULT_EVENTS = {"LogModelResult", "LogTestResult", "SkippingDetails", "LogSeedResult", "LogSnapshotResult"}

ProgressCallback = Callable[[int, int, str], None]
"""Called as each dbt node finishes: (nodes done, nodes in total, description)."""


class TransformFailed(RuntimeError):
    """dbt did not complete: the message names the failing models/tests (or dbt's own error)."""

    def __init__(self, message: str, result: TransformResult | None = None):
        super().__init__(message)
        self.result = result


@dataclass
class NodeOutcome:
    name: str
    resource_type: str
    status: str
    message: str | None = None


@dataclass
class TransformResult:
    outcomes: list[NodeOutcome] = field(default_factory=list)

    def _with(self, statuses: tuple[str, ...]) -> list[NodeOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status in statuses]

    @property
    def failures(self) -> list[NodeOutcome]:
        return self._with(("error", "fail", "runtime error"))

    @property
    def skipped(self) -> list[NodeOutcome]:
        return self._with(("skipped",))

    @property
    def warnings(self) -> list[NodeOutcome]:
        return self._with(("warn",))

    def count(self, resource_type: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.resource_type == resource_type)

    def summary(self) -> str:
        return (
            f"{self.count('model')} models and {self.count('test')} tests: {len(self.failures)} failed, "
            f"{len(self.warnings)} warned, {len(self.skipped)} skipped"
        )


def dbt_environment(url: str) -> dict[str, str]:
    """The variables ``dbt/profiles.yml`` reads, for the database behind ``url``."""
    parts = connection_parts(url)
    return {
        "DBT_PG_HOST": str(parts["host"]),
        "DBT_PG_PORT": str(parts["port"]),
        "DBT_PG_USER": parts["user"],
        "DBT_ENV_SECRET_PG_PASSWORD": parts["password"],
        "DBT_PG_DBNAME": parts["dbname"],
        # dbt builds as the pipeline role whoever connects (the owner by hand, the pipeline under
        # Airflow), so that role owns every relation and the next run may replace it (migration 0002).
        "DBT_PG_ROLE": "twin_pipeline",
        "DO_NOT_TRACK": "1",
    }


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """dbt reads ``env_var()`` from ``os.environ``; set the variables for one invocation only."""
    previous = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def target_path(settings: Settings, url: str) -> Path:
    """dbt's target folder (compiled SQL, docs, the partial-parse manifest) for the user behind ``url``."""
    return settings.home / "dbt" / "target" / connection_parts(url)["user"]


def run_dbt(
    args: list[str],
    *,
    url: str | None = None,
    project_dir: Path = DBT_PROJECT_DIR,
    settings: Settings | None = None,
    on_progress: ProgressCallback | None = None,
):
    """Invoke one dbt command in-process; returns dbt's ``dbtRunnerResult``."""
    from dbt.cli.main import dbtRunner

    settings = settings or get_settings()
    url = url or project_database_url(settings)
    state_dir = settings.home / "dbt"

    def forward_progress(event) -> None:
        if on_progress is not None and event.info.name in RESULT_EVENTS:
            data = event.data
            total = getattr(data, "total", 0) or getattr(data, "num_models", 0)
            on_progress(int(data.index), int(total), data.node_info.node_name)

    invocation = [
        *args,
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(target_path(settings, url)),
        "--log-path",
        str(state_dir / "logs"),
        "--quiet",
    ]
    with _environment(dbt_environment(url)):
        return dbtRunner(callbacks=[forward_progress]).invoke(invocation)


def transform(
    url: str | None = None,
    *,
    select: list[str] | None = None,
    full_refresh: bool = False,
    project_dir: Path = DBT_PROJECT_DIR,
    settings: Settings | None = None,
    on_progress: ProgressCallback | None = None,
) -> TransformResult:
    """``dbt build``: models and their tests in dependency order (a failing test skips what depends
    on it). Raises :class:`TransformFailed` naming every failed node; returns the outcomes otherwise."""
    args = ["build"]
    if select:
        args += ["--select", *select]
    if full_refresh:
        args.append("--full-refresh")
    outcome = run_dbt(args, url=url, project_dir=project_dir, settings=settings, on_progress=on_progress)
    if outcome.exception is not None:
        raise TransformFailed(f"dbt build could not run: {outcome.exception}")
    result = TransformResult(
        [
            NodeOutcome(
                name=node_result.node.name,
                resource_type=str(node_result.node.resource_type),
                status=str(node_result.status),
                message=node_result.message,
            )
            for node_result in (outcome.result.results if outcome.result is not None else [])
        ]
    )
    if not outcome.success or result.failures:
        failed = (
            "; ".join(
                f"{failure.resource_type} {failure.name}: {_first_line(failure.message)}" for failure in result.failures
            )
            or "see the dbt log"
        )
        raise TransformFailed(f"dbt build failed ({result.summary()}). Failed: {failed}", result)
    return result


def generate_docs(
    url: str | None = None, *, settings: Settings | None = None, project_dir: Path = DBT_PROJECT_DIR
) -> Path:
    """``dbt docs generate``; returns the folder holding ``index.html``, ``manifest.json`` and ``catalog.json``."""
    settings = settings or get_settings()
    url = url or project_database_url(settings)
    outcome = run_dbt(["docs", "generate"], url=url, project_dir=project_dir, settings=settings)
    if not outcome.success:
        raise TransformFailed(f"dbt docs generate failed: {outcome.exception or 'see the dbt log'}")
    return target_path(settings, url)


def _first_line(message: str | None) -> str:
    return (message or "").strip().splitlines()[0] if (message or "").strip() else "no message"
