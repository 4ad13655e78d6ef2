"""A real Airflow 3 (api-server, scheduler, dag-processor, triggerer) on loopback for a ``with`` block.

Each use gets its own metadata database on the test server (created before, dropped after) and a
free port; ``twin.orchestration.airflow.running_airflow`` does the rest (migrate, admin user, start,
stop)::

    with live_airflow(admin_database_url, tmp_path / "home", dags_folder=DAGS) as airflow:
        with AirflowClient.from_settings(airflow.settings) as client: ...
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from twin.core.ports import free_port


@dataclass
class LiveAirflow:
    settings: object  # twin.core.settings.Settings pointing at this Airflow (URL, login, database)
    processes: object  # what running_airflow yields: the Airflow processes


@contextmanager
def live_airflow(
    admin_database_url: str,
    home: Path,
    *,
    dags_folder: Path,
    name: str = "airflow",
    password: str = "a-test-password",
    base_env: dict[str, str] | None = None,
    **settings: object,
) -> Iterator[LiveAirflow]:
    """Airflow on a fresh metadata database ``{name}_<random>`` running the DAGs in ``dags_folder``;
    ``base_env`` is the environment its processes start from (default: this process's); ``settings``
    override the rest (e.g. ``airflow_executor="CeleryExecutor"`` with a broker)."""
    from twin.core.db import drop_database, ensure_database
    from twin.core.settings import load_settings
    from twin.orchestration.airflow import running_airflow

    database = f"{name}_{uuid.uuid4().hex[:8]}"
    ensure_database(admin_database_url, database)
    try:
        settings = load_settings(
            home=home,
            airflow_db_name=database,
            airflow_url=f"http://127.0.0.1:{free_port()}",
            airflow_password=password,
            **settings,
        )
        with running_airflow(settings, dags_folder=dags_folder, base_env=base_env) as processes:
            yield LiveAirflow(settings, processes)
    finally:
        drop_database(admin_database_url, database)
