"""The real twin_collect DAG on a real Airflow, under faults. Collection is fair: one user's run
stuck on a source that does not answer never holds another user's run, which collects, builds and
embeds to the end meanwhile. The scheduler killed mid-run (with its executor's task processes): the
crawl it was running ends failed with the reason, the next scheduler runs the task again, and the
run finishes with every document once."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from testing.airflow import live_airflow
from testing.fixture_server import FIXTURES
from tests.crawlers.spider_fixtures import fixture_server  # noqa: F401
from tests.dags.conftest import add_sources, new_user
from twin.core.processes import stop_tree
from twin.core.raw import INTERRUPTED
from twin.core.tables import crawl_runs, documents
from twin.orchestration.airflow_client import AirflowClient

pytestmark = pytest.mark.slow
DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def airflow(fixture_server, admin_database_url, tmp_path_factory):
    """Airflow running the project's DAGs; collectors reach the fixture server, with a crawl timeout
    long enough for the slow pages below."""
    env = {
        **os.environ,
        "TWIN_ALLOW_PRIVATE_URLS": "true",
        "TWIN_CRAWL_POLITE": "false",
        "TWIN_CRAWL_RETRIES": "1",
        "TWIN_CRAWL_BACKOFF_S": "0.05",
        "TWIN_CRAWL_TIMEOUT_S": "150",
        "TWIN_CRAWL_MAX_WAIT_S": "5",
        "TWIN_GITHUB_API_URL": fixture_server.url("/github"),
        "TWIN_COLLECT_SCHEDULE": "none",
    }
    home = tmp_path_factory.mktemp("home")
    with live_airflow(
        admin_database_url, home, dags_folder=DAGS, name="airflow_fault", password="a-fault-test-password", base_env=env
    ) as live:
        with AirflowClient.from_settings(live.settings) as client:
            client.unpause("twin_collect", wait_for_parsing=120)
            yield live.processes, client


def test_a_stuck_users_run_does_not_hold_another_users_run(airflow, engine, database_url, fixture_server):
    _, client = airflow
    stuck_user, quick_user = new_user(database_url, "stuck"), new_user(database_url, "quick")
    fixture_server.set("/web/never-answers", "<p>late</p>", delay=120.0)
    add_sources(engine, stuck_user, [("web", fixture_server.url("/web/never-answers"))])
    add_sources(
        engine,
        quick_user,
        [("medium", fixture_server.url("/medium/feed/@ada")), ("web", fixture_server.url("/web/article.html"))],
    )
    stuck = client.trigger("twin_collect", {"user_id": stuck_user}, dag_run_id=f"stuck-{stuck_user}")
    time.sleep(3)
    quick = client.trigger("twin_collect", {"user_id": quick_user}, dag_run_id=f"quick-{quick_user}")
    started = time.monotonic()
    finished = client.wait("twin_collect", quick.dag_run_id, timeout=240, poll=2)
    elapsed = time.monotonic() - started
    other = client.get_run("twin_collect", stuck.dag_run_id)
    print(f"\nthe quick user's run: {finished.state} in {elapsed:.0f} s; the stuck user's run: {other.state}")
    assert finished.state == "success"
    assert other.state == "running", "the quick run finished while the stuck one was still in progress"
    client.set_run_state("twin_collect", stuck.dag_run_id, "failed")
    with engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(documents).where(documents.c.user_id == quick_user)
        ).scalar()
        chunks = conn.execute(
            sa.text("select count(*) from marts.chunks where user_id = :u"), {"u": quick_user}
        ).scalar()
    assert count == 4 and chunks >= 3


def _crawl_runs(engine, user_id: int) -> list:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(crawl_runs.c.platform, crawl_runs.c.status, crawl_runs.c.error)
            .where(crawl_runs.c.user_id == user_id)
            .order_by(crawl_runs.c.started_at)
        ).all()


def test_a_scheduler_killed_mid_run_leaves_nothing_running_and_the_next_one_finishes_the_run(
    airflow, engine, database_url, fixture_server
):
    processes, client = airflow
    user_id = new_user(database_url, "crash")
    article = (FIXTURES / "web" / "article.html").read_bytes()
    fixture_server.set("/web/slow-article.html", article, delay=60.0)  # the crawl in progress when the scheduler dies
    add_sources(
        engine,
        user_id,
        [("medium", fixture_server.url("/medium/feed/@ada")), ("web", fixture_server.url("/web/slow-article.html"))],
    )
    run = client.trigger("twin_collect", {"user_id": user_id}, dag_run_id=f"crash-{user_id}")

    deadline = time.monotonic() + 120
    while ("web", "running", None) not in _crawl_runs(engine, user_id):
        assert time.monotonic() < deadline, f"the web crawl never started: {_crawl_runs(engine, user_id)}"
        time.sleep(1)
    stop_tree(processes.processes["scheduler"], signals=((signal.SIGKILL, 5.0),))  # with its workers and tasks
    fixture_server.set("/web/slow-article.html", article)  # answers at once from now on
    time.sleep(2)
    assert ("web", "running", None) in _crawl_runs(engine, user_id), "nothing has noticed yet"
    processes.start_component("scheduler")

    finished = client.wait("twin_collect", run.dag_run_id, timeout=300, poll=2)
    assert finished.state == "success"
    runs = _crawl_runs(engine, user_id)
    assert [status for platform, status, _ in runs if platform == "web"] == ["failed", "succeeded"], runs
    assert {error for platform, status, error in runs if status == "failed"} == {INTERRUPTED}
    assert [status for platform, status, _ in runs if platform == "medium"][-1] == "succeeded"
    assert "running" not in {status for _, status, _ in runs}
    with engine.connect() as conn:
        urls = conn.execute(sa.select(documents.c.source_url).where(documents.c.user_id == user_id)).scalars().all()
        chunked = conn.execute(
            sa.text("select count(distinct document_id) from marts.chunks where user_id = :u"), {"u": user_id}
        ).scalar()
    assert len(urls) == len(set(urls)) == 4, urls  # 3 Medium posts and the article, each once
    assert chunked == 4
