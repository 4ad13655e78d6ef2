"""Faults mid-crawl: a crawl process killed (kill -9) or the database gone under it. The run ends
`failed` with a reason (never `running` for ever), and a re-run collects everything once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid

import pytest
import sqlalchemy as sa

from crawlers.run import crawl
from tests.crawlers.spider_fixtures import crawl_env, fixture_server  # noqa: F401
from tests.serving.conftest import TcpProxy
from twin.core.db import connection_parts
from twin.core.raw import INTERRUPTED
from twin.core.tables import crawl_runs, documents

pytestmark = pytest.mark.slow
ARTICLE = (
    "<html><head><title>Backpressure, explained</title></head><body><article><h1>Backpressure, explained</h1>"
    + "".join(
        f"<p>Paragraph {n}: queues fill when producers outrun consumers, so slow the producers.</p>" for n in range(8)
    )
    + "</article></body></html>"
)


def _run(engine, crawl_run_id) -> sa.Row | None:
    with engine.connect() as conn:
        return conn.execute(sa.select(crawl_runs).where(crawl_runs.c.crawl_run_id == crawl_run_id)).first()


def _documents(engine, user_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(documents).where(documents.c.user_id == user_id)
        ).scalar()


def _wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_a_killed_crawl_is_marked_interrupted_and_the_rerun_is_clean(engine, fixture_server, crawl_env):
    user_id = random.randint(10**9, 2 * 10**9)
    path = f"/web/backpressure-{uuid.uuid4().hex[:6]}"
    url = fixture_server.url(path)
    fixture_server.set(path, ARTICLE, delay=60.0)
    crawl_run_id = uuid.uuid4()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "crawlers.run",
            "--user-id",
            str(user_id),
            "--platform",
            "web",
            "--crawl-run-id",
            str(crawl_run_id),
            url,
        ],
        env={**os.environ, **crawl_env, "TWIN_CRAWL_TIMEOUT_S": "120"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert _wait_for(lambda: _run(engine, crawl_run_id)).status == "running"
        os.killpg(process.pid, signal.SIGKILL)  # mid-crawl: the page has not answered yet
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    assert _run(engine, crawl_run_id).status == "running", "nothing could close it"

    fixture_server.set(path, ARTICLE)  # the site answers now
    summary = crawl(user_id, url, "web", env=crawl_env)
    assert summary.status == "succeeded", summary.errors
    killed = _run(engine, crawl_run_id)
    assert killed.status == "failed" and killed.error == INTERRUPTED and killed.finished_at is not None
    assert _documents(engine, user_id) == 1
    assert crawl(user_id, url, "web", env=crawl_env).counts["unchanged"] == 1
    assert _documents(engine, user_id) == 1, "a re-run duplicates nothing"


def test_a_live_run_is_never_marked_interrupted(engine):
    from twin.core.raw import CrawlRun, abandon_interrupted_runs

    user_id = random.randint(10**9, 2 * 10**9)
    with CrawlRun(engine, user_id, "live-source", "web") as run:
        assert abandon_interrupted_runs(engine, user_id=user_id) == []
        assert _run(engine, run.crawl_run_id).status == "running"
    assert _run(engine, run.crawl_run_id).status == "succeeded"  # finished normally, by its own process


def test_the_database_dying_mid_crawl_ends_the_run_failed_with_the_reason(
    engine, database_url, fixture_server, crawl_env
):
    user_id = random.randint(10**9, 2 * 10**9)
    path = f"/web/backpressure-{uuid.uuid4().hex[:6]}"
    url = fixture_server.url(path)
    fixture_server.set(path, ARTICLE, delay=4.0)
    parts = connection_parts(database_url)
    proxy = TcpProxy((parts["host"], int(parts["port"])))
    proxy.start()
    proxied = f"postgresql://{parts['user']}:{parts['password']}@127.0.0.1:{proxy.port}/{parts['dbname']}"
    try:
        import threading

        results = []
        worker = threading.Thread(
            target=lambda: results.append(
                crawl(user_id, url, "web", env={**crawl_env, "DATABASE_URL": proxied, "TWIN_CRAWL_TIMEOUT_S": "30"})
            )
        )
        worker.start()
        _wait_for(lambda: _documents_runs(engine, user_id))
        proxy.stop()  # the database is gone for the crawl process, mid-crawl
        worker.join(120)
    finally:
        proxy.stop()
    summary = results[0]
    assert summary.status == "failed"
    reason = summary.errors[0]["error"]
    assert "connection" in reason.lower() or "database" in reason.lower() or "server" in reason.lower(), reason
    with engine.connect() as conn:
        runs = conn.execute(
            sa.select(crawl_runs.c.status, crawl_runs.c.error).where(crawl_runs.c.user_id == user_id)
        ).all()
    assert [run.status for run in runs] == ["failed"] and runs[0].error, "ended failed, with the reason"

    fixture_server.set(path, ARTICLE)
    assert crawl(user_id, url, "web", env=crawl_env).status == "succeeded"
    assert _documents(engine, user_id) == 1


def _documents_runs(engine, user_id: int) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.execute(
                sa.select(sa.func.count()).select_from(crawl_runs).where(crawl_runs.c.user_id == user_id)
            ).scalar()
        )
