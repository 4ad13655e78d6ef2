"""What the twin's Airflow tasks import, loaded once in the process that forks the task processes.

Airflow 3 runs each task in a process forked from its executor's worker (LocalExecutor: forked from
the scheduler at start; Celery: from ``airflow celery worker``). A task process that finds Scrapy's
runner, dbt and sentence-transformers/torch already in ``sys.modules`` skips seconds of imports per
task on a small machine (``benchmarks/airflow_overhead.py``). Only modules are loaded, never a model
or a thread pool: forking after torch has started threads is unsafe.

Imported by ``airflow_local/airflow_local_settings.py`` (Airflow's local-settings hook, on the
``PYTHONPATH`` of every Airflow process when ``TWIN_AIRFLOW_PRELOAD`` is on).
"""

from __future__ import annotations

import importlib
import logging
import os
import time

log = logging.getLogger(__name__)

TASK_MODULES = (
    "twin.orchestration.collect",
    "crawlers.run",
    "twin.core.transform",
    "dbt.cli.main",
    "twin.core.embed",
    "sentence_transformers",
)


def preload_enabled() -> bool:
    """``TWIN_AIRFLOW_PRELOAD`` read directly (pydantic's boolean spellings): loading the whole settings
    object here could refuse to start Airflow over an unrelated setting."""
    value = os.environ.get("TWIN_AIRFLOW_PRELOAD", "true").strip().lower()
    return value not in ("0", "false", "f", "no", "n", "off")


def forks_tasks(argv: list[str]) -> bool:
    """Whether this Airflow command forks task processes: the scheduler (LocalExecutor) or a Celery worker."""
    command = [part for part in argv[1:] if not part.startswith("-")]
    return command[:1] == ["scheduler"] or command[:2] == ["celery", "worker"]


def preload(modules: tuple[str, ...] = TASK_MODULES) -> dict[str, float]:
    """Import ``modules``; returns seconds per module. A module that fails to import is logged and
    skipped (the task imports it itself and reports the error where it belongs)."""
    timings = {}
    for name in modules:
        started = time.perf_counter()
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - preloading must never stop the scheduler
            log.warning("not preloaded for Airflow tasks: %s (%s)", name, exc)
            continue
        timings[name] = time.perf_counter() - started
    return timings
