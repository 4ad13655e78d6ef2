"""Collection is fair: on a real Airflow running the real twin_collect DAG, one user's run stuck on a
source that does not answer never holds another user's run, which collects, builds and embeds to
the end meanwhile."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.crawlers.spider_fixtures import crawl_env, fixture_server  # noqa: F401
from tests.webapp.conftest import free_port
from twin.airflow import running_airflow
from twin.airflow_client import AirflowClient
from twin.db import drop_database, ensure_database
from twin.settings import load_settings
from twin.sources import sources_source
from twin.tables import documents

pytestmark = pytest.mark.slow
DAGS = Path(__file__).resolve().parents[2] / "dags"



def _add_sources(engine, user_id: int, urls: list[tuple[str, str]]) -> None:
    with engine.begin() as conn:
        conn.execute(sources_source.insert().values(created_at=sa.func.now(), updated_at=sa.func.now()),
                     [{"user_id": user_id, "platform": platform, "url": url, "is_active": True} for platform, url in urls])


def test_a_stuck_users_run_does_not_hold_another_users_run(engine, database_url, admin_database_url, tmp_path,
                                                          fixture_server, crawl_env):
    from twin.users import create_user

    stuck_user, quick_user = (create_user(f"{who}-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery staple",
                                          database_url)[0] for who in ("stuck", "quick"))
    fixture_server.set("/web/never-answers", "<p>late</p>", delay=120.0)
    _add_sources(engine, stuck_user, [("web", fixture_server.url("/web/never-answers"))])
    _add_sources(engine, quick_user, [("medium", fixture_server.url("/medium/feed/@ada")),
                                      ("web", fixture_server.url("/web/article.html"))])
    name = f"airflow_fair_{uuid.uuid4().hex[:8]}"
    ensure_database(admin_database_url, name)
    settings = load_settings(home=tmp_path / "home", airflow_db_name=name, airflow_url=f"http://127.0.0.1:{free_port()}",
                             airflow_password="a-fairness-test-password")
    env = {**os.environ, **crawl_env, "TWIN_CRAWL_TIMEOUT_S": "150", "TWIN_COLLECT_SCHEDULE": "none"}
    try:
        with running_airflow(settings, dags_folder=DAGS, base_env=env):
            with AirflowClient.from_settings(settings) as client:
                client.unpause("twin_collect", wait_for_parsing=120)
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
    finally:
        drop_database(admin_database_url, name)
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(documents)
                             .where(documents.c.user_id == quick_user)).scalar()
        chunks = conn.execute(sa.text("select count(*) from marts.chunks where user_id = :u"), {"u": quick_user}).scalar()
    assert count == 4 and chunks >= 3
