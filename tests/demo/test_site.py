"""The sample persona on the local sample site, collected by the real collectors into Postgres."""

from __future__ import annotations

import io
import json
import random
import tarfile
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timezone

import pytest
import sqlalchemy as sa

from crawlers.importers import import_export
from crawlers.run import crawl
from demo.site import PERSONA, SampleSite, build_linkedin_export, build_repository_tarball
from twin.core.tables import documents

REPOSITORY_FILES = [
    "README.md",
    "docs/rules.md",
    "examples/label-printer-queue.md",
    "runbook_lint/__init__.py",
    "runbook_lint/cli.py",
    "runbook_lint/parser.py",
    "runbook_lint/rules.py",
    "tests/test_rules.py",
]


@pytest.fixture(scope="module")
def site():
    with SampleSite() as running:
        yield running


def stored(engine, user_id: int, platform: str) -> list:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(documents)
            .where(documents.c.user_id == user_id, documents.c.platform == platform)
            .order_by(documents.c.source_url)
        ).all()


def get(site: SampleSite, path: str):
    return urllib.request.urlopen(site.url(path), timeout=10)


def test_persona_is_small_and_its_archives_are_reproducible():
    size = sum(path.stat().st_size for path in PERSONA.rglob("*") if path.is_file() and "__pycache__" not in path.parts)
    assert size < 300_000
    assert build_linkedin_export() == build_linkedin_export()
    assert build_repository_tarball() == build_repository_tarball()
    with tarfile.open(fileobj=io.BytesIO(build_repository_tarball())) as archive:
        names = archive.getnames()
    assert all(name.startswith("elenavarga-runbook-lint-3e9c1a7/") for name in names)
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)


def test_site_serves_the_platform_shapes(site):
    assert get(site, "/robots.txt").read() == b"User-agent: *\nAllow: /\n"
    assert [platform for platform, _ in site.sources()] == ["medium", "substack", "github"]
    first = get(site, "/github/users/elenavarga/repos?per_page=100&type=owner&sort=pushed")
    assert 'rel="next"' in first.headers["Link"] and "page=2" in first.headers["Link"]
    second = get(site, "/github/users/elenavarga/repos?per_page=100&type=owner&sort=pushed&page=2")
    assert 'rel="next"' not in second.headers["Link"]
    names = [repo["name"] for repo in json.load(first) + json.load(second)]
    assert names == ["runbook-lint", "dbt-utils", "advent-of-code-2023"]
    pages = [
        json.load(get(site, f"/substack/elenavarga/api/v1/archive?sort=new&offset={offset}&limit=50"))
        for offset in (0, 3, 6)
    ]
    assert [len(page) for page in pages] == [3, 1, 0]  # the server caps the page size, like Substack
    tarball = get(site, "/github/repos/elenavarga/runbook-lint/tarball/main")  # follows the 302 to codeload
    assert tarball.url.endswith("/codeload/elenavarga/runbook-lint/legacy.tar.gz/refs/heads/main")
    export = get(site, "/linkedin/Basic_LinkedInDataExport_11-25-2026.zip").read()
    assert export == site.linkedin_export_zip()
    assert "Basic_LinkedInDataExport_11-25-2026/Shares.csv" in zipfile.ZipFile(io.BytesIO(export)).namelist()
    assert get(site, "/medium/feed/@elenavarga").read().count(b"<item>") == 6


@pytest.mark.slow
def test_real_collectors_collect_the_whole_persona(engine, site):
    user = random.randint(10**9, 2 * 10**9)
    env = site.crawl_env(polite=False)
    assert env == {
        "TWIN_ALLOW_PRIVATE_URLS": "true",
        "TWIN_GITHUB_API_URL": site.github_api_url,
        "TWIN_CRAWL_POLITE": "false",
    }
    with ThreadPoolExecutor(3) as pool:
        crawls = list(pool.map(lambda source: crawl(user, source[1], source[0], env=env, timeout=120), site.sources()))
        linkedin = import_export("linkedin", site.linkedin_export_zip(), user, engine)
    medium, substack, github = crawls
    for summary in crawls:
        assert (summary.status, summary.errors) == ("succeeded", []), summary
    assert medium.counts == {"seen": 6, "new": 6, "changed": 0, "unchanged": 0, "failed": 0}
    assert substack.counts == {"seen": 4, "new": 4, "changed": 0, "unchanged": 0, "failed": 0}
    assert github.counts == {"seen": 8, "new": 8, "changed": 0, "unchanged": 0, "failed": 0}
    assert (linkedin.status, linkedin.errors, linkedin.notices) == ("succeeded", [], [])
    assert linkedin.counts["new"] == 30 and linkedin.counts["failed"] == 0
    assert linkedin.skipped == {"repost without commentary": 2}

    # LinkedIn: 28 posts and 2 articles, with the author from Profile.csv
    posts = stored(engine, user, "linkedin")
    assert sorted(row.kind for row in posts).count("post") == 28 and [row.kind for row in posts].count("article") == 2
    assert all(row.metadata["author"] == "Elena Varga" and row.is_own_writing for row in posts)
    pager = next(row for row in posts if row.content.startswith("Our pager went off 3 times"))
    assert pager.published_at == datetime(2026, 11, 18, 7, 52, 14, tzinfo=UTC)
    assert pager.source_url.startswith("https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A7")
    assert '→ every page gets marked "actionable" or "not" in the handover' in pager.content
    assert pager.content.endswith("Ship small. Sleep well. 🚢\n\n#oncall #sre")
    resolutions = next(
        row for row in posts if row.content.startswith("My 2026 engineering resolutions")
    )  # double-quoted form
    assert (
        "\n\n1. Delete more code than I write.\n2. Never merge" in resolutions.content
        and '""' not in resolutions.content
    )
    shared = next(row for row in posts if row.content.startswith('"Can we just rerun it?"'))
    assert shared.metadata["shared_url"] == "https://elenavarga.substack.com/p/idempotency-is-a-kindness"
    article = next(row for row in posts if row.kind == "article" and row.title == "Ship on Fridays (if you can)")
    assert article.source_url == "https://www.linkedin.com/pulse/ship-on-fridays-if-you-can-elena-varga-7f3k2"
    assert article.published_at == datetime(2026, 4, 3, 8, 5, tzinfo=UTC)
    assert "When we still don't" in article.content and "Created on" not in article.content

    # Medium: the feed's links without tracking parameters, tags, author, full text
    articles = stored(engine, user, "medium")
    assert all(row.kind == "article" and row.metadata["author"] == "Elena Varga" for row in articles)
    backfills = next(row for row in articles if row.title == "Backfills are deploys")
    assert backfills.source_url == "https://medium.com/@elenavarga/backfills-are-deploys-e59d2a7f0c13"
    assert backfills.metadata["tags"] == ["data-engineering", "data-pipelines", "reliability"]
    assert backfills.published_at == datetime(2026, 6, 9, 8, 3, 51, tzinfo=UTC)
    assert (
        "Make every partition replaceable" in backfills.content
        and "def write_partition(conn, table, day, rows):" in backfills.content
    )
    assert 400 <= len(backfills.content.split()) <= 900

    # Substack: canonical URLs, body from the post JSON, the subscribe widget dropped
    newsletter = stored(engine, user, "substack")
    assert [row.source_url for row in newsletter] == [
        "https://elenavarga.substack.com/p/idempotency-is-a-kindness",
        "https://elenavarga.substack.com/p/staff-engineer-to-manager-first-90-days",
        "https://elenavarga.substack.com/p/the-incident-review-that-changed-my-team",
        "https://elenavarga.substack.com/p/why-i-stopped-estimating-in-days",
    ]
    assert all(row.metadata["via"] == "api" and "Subscribe" not in row.content for row in newsletter)
    assert "on conflict (shipment_id, status, occurred_at) do nothing;" in newsletter[0].content

    # GitHub: the one own repository's README, docs and source (fork and archived repository skipped)
    files = stored(engine, user, "github")
    assert [row.source_url for row in files] == [
        f"https://github.com/elenavarga/runbook-lint/blob/main/{path}" for path in REPOSITORY_FILES
    ]
    rules = next(row for row in files if row.source_url.endswith("/rules.py"))
    assert rules.kind == "repository_file" and rules.metadata["language"] == "Python"
    assert (PERSONA / "github/repos/runbook-lint/runbook_lint/rules.py").read_text() == rules.content
