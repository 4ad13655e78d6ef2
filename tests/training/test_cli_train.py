"""`twin train`: from collected posts through dbt's marts.sft_samples to an active adapter, and the
readable failure when a user has nothing to train on."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa

from testing.corpus import POSTS
from training import registry
from training.config import TINY_CONFIG
from twin.core import model_registry
from twin.core.vocabulary import document_id, split_bucket


def _twin(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twin", *args], env=os.environ.copy(), capture_output=True, text=True, timeout=300
    )


def _new_user(database_url) -> tuple[int, str]:
    from twin.core.users import create_user

    email = f"maya-{uuid.uuid4().hex[:8]}@example.com"
    return create_user(email, "correct horse battery staple", database_url)[0], email


def _post_urls(user_id: int) -> list[str]:
    """One URL per post, chosen so that at least 3 land in the held-out split the way dbt's
    sft_samples splits (md5 of the document id, which is md5 of user id and URL; 10% held out)."""

    def held_out(url: str) -> bool:
        return split_bucket(document_id(user_id, url)) < 10

    urls = [f"https://www.linkedin.com/posts/maya-okafor_{index}" for index in range(len(POSTS))]
    for index in range(3):
        attempt = 0
        while not held_out(urls[index]):
            attempt += 1
            urls[index] = f"https://www.linkedin.com/posts/maya-okafor_{index}-{attempt}"
    return urls


def test_help():
    result = _twin("train", "--help")
    assert result.returncode == 0 and "--user" in result.stdout and "--config" in result.stdout


def test_user_without_samples_fails_readably(engine, database_url):
    user_id, email = _new_user(database_url)
    result = _twin("train", "--user", email, "--config", str(TINY_CONFIG))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "twin transform" in result.stderr  # no marts yet, or no samples for this user: both say what to run
    with engine.connect() as conn:
        [record] = model_registry.list_models(conn, user_id)
    assert record.status == "failed" and str(record.model_id) in result.stderr


@pytest.mark.slow
def test_train_from_collected_posts(engine, database_url, training_settings, local_ray, monkeypatch):
    from typer.testing import CliRunner

    from twin.cli.main import app
    from twin.core.raw import CrawlRun, DocumentRecord
    from twin.core.settings import get_settings
    from twin.core.transform import transform

    user_id, email = _new_user(database_url)
    with CrawlRun(engine, user_id, "fixture-linkedin", "linkedin") as run:
        for url, post in zip(_post_urls(user_id), POSTS):
            run.store(DocumentRecord(platform="linkedin", kind="post", source_url=url, content=post))
    transform(database_url)
    with engine.connect() as conn:
        splits = dict(
            conn.execute(
                sa.text("select split, count(*) from marts.sft_samples where user_id = :u group by split"),
                {"u": user_id},
            ).all()
        )
    assert splits["validation"] >= 3 and splits["train"] + splits["validation"] == len(POSTS)

    monkeypatch.setenv("TWIN_HOME", str(training_settings.home))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["train", "--user", email, "--config", str(TINY_CONFIG), "--json"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        active = model_registry.active_model(conn, user_id)
    assert active is not None and str(active.model_id) in result.output
    assert f"Adapter: {active.adapter_uri}" in result.output
    assert "tuned: held-out perplexity" in result.output and "base: held-out perplexity" in result.output
    assert active.metrics["dataset"]["validation_samples"] == splits["validation"]
