"""twin_collect on Airflow's CeleryExecutor: a real Redis broker (Debian's redis-server, with a password)
and two Celery workers, each with its own task log folder, as two machines would have. Two users'
runs at once are spread over both workers and each collects, builds and embeds only its own user's
writing."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from testing.airflow import live_airflow
from testing.redis import REDIS_SERVER, redis_command, running_redis
from tests.crawlers.spider_fixtures import fixture_server  # noqa: F401
from tests.dags.conftest import add_sources, new_user
from twin.core.tables import documents
from twin.orchestration.airflow_client import AirflowClient

pytestmark = pytest.mark.slow
DAGS = Path(__file__).resolve().parents[2] / "dags"
WORKERS = ("worker-1", "worker-2")
LOG_PATH = re.compile(r"run_id=(?P<run>[^/]+)/task_id=(?P<task>[^/]+)/(?:map_index=(?P<index>\d+)/)?attempt=\d+\.log$")


@pytest.fixture(scope="module")
def celery_airflow(fixture_server, admin_database_url, tmp_path_factory):
    """Airflow with the CeleryExecutor, its broker, and two workers of one task slot each."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server, or `make system-deps`)")
    env = {
        **os.environ,
        "TWIN_ALLOW_PRIVATE_URLS": "true",
        "TWIN_CRAWL_POLITE": "false",
        "TWIN_CRAWL_RETRIES": "1",
        "TWIN_CRAWL_BACKOFF_S": "0.05",
        "TWIN_GITHUB_API_URL": fixture_server.url("/github"),
        "TWIN_COLLECT_SCHEDULE": "none",
    }
    root = tmp_path_factory.mktemp("celery")
    with running_redis(root / "redis") as broker_url:
        with live_airflow(
            admin_database_url,
            root / "home",
            dags_folder=DAGS,
            name="airflow_celery",
            password="a-celery-test-password",
            base_env=env,
            airflow_executor="CeleryExecutor",
            airflow_broker_url=broker_url,
            airflow_workers=1,  # worker-1, started with the other components (as by `twin airflow`)
            airflow_worker_concurrency=1,
        ) as live:
            # worker-2 keeps its task logs in a folder of its own, as a worker on another machine would.
            log_folders = {"worker-1": root / "home" / "airflow" / "logs", "worker-2": root / "worker-2" / "logs"}
            live.processes.start_component(
                "worker-2", env={"AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(log_folders["worker-2"])}
            )
            with AirflowClient.from_settings(live.settings) as client:
                client.unpause("twin_collect", wait_for_parsing=120)
                yield client, broker_url, log_folders


def _where_tasks_ran(log_folders: dict[str, Path]) -> dict[tuple[str, str, int], set[str]]:
    """(run, task, map index) -> the workers whose log folder holds a log of it."""
    ran = defaultdict(set)
    for worker, folder in log_folders.items():
        for path in folder.rglob("attempt=*.log"):
            if match := LOG_PATH.search(path.as_posix()):
                ran[(match["run"], match["task"], int(match["index"] or -1))].add(worker)
    return ran


def test_the_broker_refuses_clients_without_its_password(celery_airflow):
    _, broker_url, _ = celery_airflow
    port = urlsplit(broker_url).port
    assert redis_command(port, "PING").startswith(b"-NOAUTH")
    assert redis_command(port, "KEYS", "*", password="not-the-password").startswith(b"-NOAUTH")


def test_two_users_collect_at_once_on_two_celery_workers(celery_airflow, engine, database_url, fixture_server):
    client, _, log_folders = celery_airflow
    ada, grace = new_user(database_url, "ada"), new_user(database_url, "grace")
    add_sources(
        engine,
        ada,
        [("medium", fixture_server.url("/medium/feed/@ada")), ("web", fixture_server.url("/web/article.html"))],
    )
    add_sources(
        engine,
        grace,
        [("substack", fixture_server.url("/substack/ada")), ("web", fixture_server.url("/web/paper.pdf"))],
    )
    runs = {
        user_id: client.trigger("twin_collect", {"user_id": user_id}, dag_run_id=f"celery-{user_id}")
        for user_id in (ada, grace)
    }
    for run in runs.values():
        assert client.wait("twin_collect", run.dag_run_id, timeout=420, poll=2).state == "success"

    ran = _where_tasks_ran(log_folders)
    print("\ntask (run, task, map index) -> Celery worker")
    for key in sorted(ran):
        print(f"  {key[0]:<16} {key[1]:<24} {key[2]:>2}  {', '.join(sorted(ran[key]))}")
    for run in runs.values():
        states = client.task_states("twin_collect", run.dag_run_id)
        finished = {(run.dag_run_id, task.task_id, task.map_index) for task in states if task.state == "success"}
        assert finished and finished <= set(ran), f"tasks without a log on any worker: {finished - set(ran)}"
    assert all(len(workers) == 1 for workers in ran.values()), "a task ran on more than one worker"
    used = set().union(*ran.values())
    assert used == set(WORKERS), f"only {used} ran tasks"

    with engine.connect() as conn:
        urls = {
            user_id: conn.execute(sa.select(documents.c.source_url).where(documents.c.user_id == user_id))
            .scalars()
            .all()
            for user_id in (ada, grace)
        }
        chunked = {
            user_id: conn.execute(
                sa.text("select count(distinct document_id) from marts.chunks where user_id = :u"), {"u": user_id}
            ).scalar()
            for user_id in (ada, grace)
        }
    assert len(urls[ada]) == len(set(urls[ada])) == 4, urls[ada]  # 3 Medium posts and the article
    assert len(urls[grace]) == len(set(urls[grace])) == 4, urls[grace]  # 3 free Substack posts and the PDF
    assert not any("medium" in url or "article.html" in url for url in urls[grace])
    assert not any("substack" in url or url.endswith(".pdf") for url in urls[ada])
    assert chunked == {ada: 4, grace: 4}
