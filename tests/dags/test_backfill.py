"""Backfills mean something: through Airflow's REST API, a backfill of twin_collect over two months
runs one run per month, each collecting exactly what was published in its month; nothing is stored
twice, and "Collect now" afterwards finds nothing new."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from testing.airflow import live_airflow
from tests.crawlers.spider_fixtures import crawl_env, fixture_server  # noqa: F401
from twin.core.sources import sources_source
from twin.core.tables import crawl_runs, documents
from twin.orchestration.airflow_client import AirflowClient

pytestmark = pytest.mark.slow
DAGS = Path(__file__).resolve().parents[2] / "dags"


def _wait_backfill_finished(client, expected: int, timeout: float = 300) -> list:
    deadline = time.monotonic() + timeout
    while True:
        runs = [run for run in client.list_runs("twin_collect", limit=50) if run.dag_run_id.startswith("backfill__")]
        if len(runs) >= expected and all(run.finished for run in runs):
            return runs
        assert time.monotonic() < deadline, [(run.dag_run_id, run.state) for run in runs]
        time.sleep(3)


def test_a_backfill_collects_each_month_once(
    engine, database_url, admin_database_url, tmp_path, fixture_server, crawl_env
):
    from twin.core.users import create_user

    user_id, _ = create_user(
        f"backfill-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery staple", database_url
    )
    medium, substack = fixture_server.url("/medium/feed/@ada"), fixture_server.url("/substack/ada")
    with engine.begin() as conn:
        # only this test's sources are collected while it runs (a scheduled run would take every user's)
        paused = (
            conn.execute(
                sa.update(sources_source)
                .where(sources_source.c.is_active)
                .values(is_active=False)
                .returning(sources_source.c.id)
            )
            .scalars()
            .all()
        )
        conn.execute(
            sources_source.insert().values(created_at=sa.func.now(), updated_at=sa.func.now()),
            [
                {"user_id": user_id, "platform": "medium", "url": medium, "is_active": True},
                {"user_id": user_id, "platform": "substack", "url": substack, "is_active": True},
            ],
        )
    env = {**os.environ, **crawl_env, "TWIN_COLLECT_SCHEDULE": "@monthly"}
    try:
        with live_airflow(
            admin_database_url,
            tmp_path / "home",
            dags_folder=DAGS,
            name="airflow_backfill",
            password="a-backfill-test-password",
            base_env=env,
        ) as live:
            with AirflowClient.from_settings(live.settings) as client:
                client.unpause("twin_collect", wait_for_parsing=120)  # catchup off: at most the latest month runs
                backfill = client.backfill(
                    "twin_collect", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z", conf={"user_id": user_id}
                )
                assert backfill["dag_id"] == "twin_collect"
                backfilled = _wait_backfill_finished(client, 2)
                assert sorted(run.state for run in backfilled) == ["success", "success"], backfilled

                with engine.connect() as conn:
                    by_source = conn.execute(
                        sa.select(crawl_runs.c.source, crawl_runs.c.documents_seen, crawl_runs.c.documents_new).where(
                            crawl_runs.c.user_id == user_id, crawl_runs.c.documents_seen > 0
                        )
                    ).all()
                    stored = conn.execute(
                        sa.select(documents.c.source_url, sa.func.count())
                        .where(documents.c.user_id == user_id)
                        .group_by(documents.c.source_url)
                    ).all()
                # February: 2 Medium posts, 2 Substack posts (1 paid, not stored); March: 1 and 2
                assert sorted((run.source, run.documents_seen, run.documents_new) for run in by_source) == [
                    (medium, 1, 1),
                    (medium, 2, 2),
                    (substack, 2, 1),
                    (substack, 2, 2),
                ]
                assert len(stored) == 6 and all(count == 1 for _, count in stored), "each post once"

                now = client.trigger("twin_collect", {"user_id": user_id}, dag_run_id=f"now-{user_id}")
                assert client.wait("twin_collect", now.dag_run_id, timeout=240).state == "success"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.update(sources_source).where(sources_source.c.id.in_(paused)).values(is_active=True))
    with engine.connect() as conn:
        total = conn.execute(
            sa.select(sa.func.count()).select_from(documents).where(documents.c.user_id == user_id)
        ).scalar()
        latest_runs = (
            conn.execute(
                sa.select(crawl_runs.c.documents_new)
                .where(crawl_runs.c.user_id == user_id)
                .order_by(crawl_runs.c.started_at.desc())
                .limit(2)
            )
            .scalars()
            .all()
        )
    assert total == 6 and latest_runs == [0, 0], "Collect now afterwards: everything unchanged, nothing new"
