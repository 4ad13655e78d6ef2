"""``twin crawl`` end to end: a real user, several sources, one of them bad."""

import os
import subprocess
import sys

import pytest

from tests.crawlers.spider_fixtures import crawl_env, fixture_server, stored  # noqa: F401
from twin.core.settings import PROJECT_ROOT
from twin.core.users import user_id_for_email


def twin(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twin", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def test_crawl_help():
    result = twin("crawl", "--help")
    assert result.returncode == 0 and "--user" in result.stdout and "--platform" in result.stdout


@pytest.mark.slow
def test_crawl_reports_each_source_and_fails_only_the_bad_one(engine, fixture_server, crawl_env, unique_email):
    created = twin("user", "create", unique_email, "--password", "long enough pw 123")
    assert created.returncode == 0, created.stderr
    article, challenge = fixture_server.url("/web/article.html"), fixture_server.url("/web/challenge.html")
    result = twin("crawl", "--user", unique_email, "--platform", "web", article, challenge, env=crawl_env)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"[ok] web {article}: 1 seen, 1 new, 0 changed, 0 unchanged, 0 failed (crawl run ")
    assert lines[1].startswith(f"[FAILED] web {challenge}: 1 seen, 0 new, 0 changed, 0 unchanged, 1 failed (crawl run ")
    assert lines[2].startswith(f"    error: {challenge}: bot challenge page")
    assert "1 of 2 sources failed" in result.stderr
    with engine.connect() as conn:
        user_id = user_id_for_email(conn, unique_email)
    assert [row.title for row in stored(engine, user_id)] == ["Retrieval is a search problem"]


def test_crawl_errors_are_readable(unique_email):
    unknown = twin("crawl", "--user", unique_email, "https://example.com/post")
    assert (
        unknown.returncode == 1
        and f"no user with email {unique_email}" in unknown.stderr
        and "Traceback" not in unknown.stderr
    )
    bad_platform = twin("crawl", "--user", unique_email, "--platform", "myspace", "https://example.com")
    assert bad_platform.returncode == 2 and "unknown platform 'myspace'" in bad_platform.stderr
