"""`dag.test()` of twin_collect against the fixture server and the real Postgres."""

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.crawlers.spider_fixtures import crawl_env, fixture_server  # noqa: F401
from twin.core.sources import sources_source
from twin.core.tables import chunk_embeddings, crawl_runs, documents

pytestmark = pytest.mark.slow
DAGS = Path(__file__).resolve().parents[2] / "dags"


def _counts(engine, user_id: int) -> dict:
    with engine.connect() as conn:
        return {
            "documents": conn.execute(
                sa.select(sa.func.count()).select_from(documents).where(documents.c.user_id == user_id)
            ).scalar(),
            "chunks": conn.execute(
                sa.text("select count(*) from marts.chunks where user_id = :u"), {"u": user_id}
            ).scalar(),
            "vectors": conn.execute(
                sa.select(sa.func.count()).select_from(chunk_embeddings).where(chunk_embeddings.c.user_id == user_id)
            ).scalar(),
        }


def _task_states(run) -> dict:
    return {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}


@pytest.fixture
def collect_dag(airflow_metadata):
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(DAGS)).dags["twin_collect"]
    dag.get_task("crawl_source").retries = 0  # a broken source fails at once instead of backing off
    return dag


@pytest.fixture
def user_with_sources(engine, database_url, fixture_server, crawl_env, monkeypatch):
    for name, value in crawl_env.items():
        monkeypatch.setenv(name, value)
    email = f"collect-{uuid.uuid4().hex[:8]}@example.com"
    created = subprocess.run(
        [sys.executable, "-m", "twin", "user", "create", email, "--password", "correct horse battery"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    from twin.core.users import user_id_for_email

    with engine.begin() as conn:
        user_id = user_id_for_email(conn, email)
        conn.execute(
            sources_source.insert().values(created_at=sa.func.now(), updated_at=sa.func.now()),
            [
                {
                    "user_id": user_id,
                    "platform": "medium",
                    "url": fixture_server.url("/medium/feed/@ada"),
                    "is_active": True,
                },
                {
                    "user_id": user_id,
                    "platform": "substack",
                    "url": fixture_server.url("/substack/broken"),
                    "is_active": True,
                },
                {
                    "user_id": user_id,
                    "platform": "web",
                    "url": fixture_server.url("/web/article.html"),
                    "is_active": True,
                },
                {
                    "user_id": user_id,
                    "platform": "web",
                    "url": fixture_server.url("/web/paper.pdf"),
                    "is_active": False,
                },
            ],
        )
    return user_id


def test_collect_fills_raw_marts_and_vectors_and_a_rerun_adds_nothing(
    engine, collect_dag, user_with_sources, fixture_server
):
    user_id = user_with_sources
    first = collect_dag.test(run_conf={"user_id": user_id})

    states = _task_states(first)
    crawl_states = sorted(state for (task_id, _), state in states.items() if task_id == "crawl_source")
    assert crawl_states == ["failed", "success", "success"], "the broken source fails only its own task"
    assert states[("build_marts", -1)] == "success" and states[("embed_new_chunks", -1)] == "success"

    after_first = _counts(engine, user_id)
    assert after_first["documents"] == 4, "three Medium articles and one web article"
    assert after_first["chunks"] >= after_first["documents"] - 1  # the web article is knowledge, still chunked
    assert after_first["vectors"] == after_first["chunks"]

    with engine.connect() as conn:
        runs = conn.execute(
            sa.select(crawl_runs.c.source, crawl_runs.c.status, crawl_runs.c.error).where(
                crawl_runs.c.user_id == user_id
            )
        ).all()
    broken = [run for run in runs if run.source == fixture_server.url("/substack/broken")]
    assert len(broken) == 1 and broken[0].status == "failed" and broken[0].error
    assert sorted(run.status for run in runs) == ["failed", "succeeded", "succeeded"]

    from twin.core.retrieval import search_documents

    hits = search_documents(
        engine, user_id, "Small PRs, big trust: reviewers approve what they can hold in their head", k=5
    )
    assert hits[0].url == "https://medium.com/@ada/small-prs-big-trust-1c2d3e4f5a6b", "crawled text is searchable"

    collect_dag.test(run_conf={"user_id": user_id})
    assert _counts(engine, user_id) == after_first, "a second run duplicates nothing"
    with engine.connect() as conn:
        succeeded = conn.execute(
            sa.select(crawl_runs.c.documents_new, crawl_runs.c.documents_changed, crawl_runs.c.documents_unchanged)
            .where(crawl_runs.c.user_id == user_id, crawl_runs.c.status == "succeeded")
            .order_by(crawl_runs.c.started_at)
        ).all()
    assert len(succeeded) == 4
    assert [(run.documents_new, run.documents_changed) for run in succeeded[2:]] == [(0, 0), (0, 0)]
    assert sum(run.documents_unchanged for run in succeeded[2:]) == 4
