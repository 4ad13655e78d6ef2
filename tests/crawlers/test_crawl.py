"""Real crawls, each in its own process, against the fixture server on 127.0.0.1, storing into Postgres."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timezone

import pytest

from crawlers.run import crawl
from testing.fixture_server import JSON, RSS, Reply
from tests.crawlers.spider_fixtures import crawl_env, fixture_server, random_user_id, run_row, stored  # noqa: F401

pytestmark = pytest.mark.slow


def test_medium_recrawl_edit_and_a_second_user(engine, fixture_server, crawl_env):
    feed_url = fixture_server.url("/medium/feed/@ada")
    ada, bob = random_user_id(), random_user_id()
    first = crawl(ada, feed_url, "medium", env=crawl_env)
    assert (first.status, first.counts) == (
        "succeeded",
        {"seen": 3, "new": 3, "changed": 0, "unchanged": 0, "failed": 0},
    )
    rows = stored(engine, ada)
    assert len(rows) == 3
    post = next(row for row in rows if row.title == "Small PRs, big trust")
    assert (
        post.source_url == "https://medium.com/@ada/small-prs-big-trust-1c2d3e4f5a6b"
    )  # the feed's link, tracking removed
    assert post.platform == "medium" and post.kind == "article" and post.is_own_writing
    assert post.published_at == datetime(2024, 2, 2, 9, 30, tzinfo=UTC)
    assert post.metadata["author"] == "Ada Lovelace" and post.metadata["tags"] == ["code-review"]
    assert post.content == (
        "Reviewers approve what they can hold in their head.\n\nA 40-line pull request gets a real review. "
        "A 900-line one gets a thumbs up and a prayer. Ship small, and you earn the trust that lets you ship fast."
    )
    assert str(post.crawl_run_id) == first.crawl_run_id
    run = run_row(engine, first.crawl_run_id)
    assert (run.status, run.documents_new, run.user_id, run.platform, run.source) == (
        "succeeded",
        3,
        ada,
        "medium",
        feed_url,
    )
    assert run.finished_at is not None and run.errors == []

    again = crawl(ada, feed_url, "medium", env=crawl_env)
    assert (again.counts["new"], again.counts["changed"], again.counts["unchanged"]) == (0, 0, 3)
    assert len(stored(engine, ada)) == 3

    original = fixture_server.payload("medium/feed.xml")
    fixture_server.set(
        "/medium/feed/@ada", original.replace(b"A 900-line one gets a thumbs up", b"A 900-line one gets a skim"), RSS
    )
    try:
        edited = crawl(ada, feed_url, "medium", env=crawl_env)
    finally:
        fixture_server.set("/medium/feed/@ada", original, RSS)
    assert (edited.counts["new"], edited.counts["changed"], edited.counts["unchanged"]) == (0, 1, 2)
    versions = [row for row in stored(engine, ada) if row.source_url == post.source_url]
    assert len(versions) == 2 and "gets a skim" in versions[-1].content and versions[0].content == post.content

    other = crawl(bob, feed_url, "medium", env=crawl_env)
    assert other.counts["new"] == 3
    assert {row.source_url for row in stored(engine, bob)} == {row.source_url for row in stored(engine, ada)}
    assert len(stored(engine, ada)) == 4


def test_substack_api_pages_dedupes_and_skips_paid(engine, fixture_server, crawl_env):
    user = random_user_id()
    summary = crawl(user, fixture_server.url("/substack/ada"), "substack", env=crawl_env)
    assert summary.status == "partial"
    assert summary.counts == {"seen": 4, "new": 3, "changed": 0, "unchanged": 0, "failed": 1}
    assert summary.errors == [
        {
            "url": "https://ada.substack.com/p/paid-deep-dive-replication",
            "error": "paid-only post skipped: no access to its full text",
        }
    ]
    rows = stored(engine, user)
    assert [row.source_url for row in rows] == [
        "https://ada.substack.com/p/on-call-without-heroes",
        "https://ada.substack.com/p/the-boring-database",
        "https://ada.substack.com/p/why-i-write",
    ]
    assert all(row.metadata["via"] == "api" and row.metadata["author"] == "Ada Lovelace" for row in rows)
    assert "Leave a comment" not in rows[0].content and rows[0].content.endswith("Heroics are a smell, not a culture.")
    assert fixture_server.hits["/substack/ada/api/v1/archive"] >= 3  # capped pages, then an empty one


def test_substack_falls_back_to_rss_and_reports_a_dead_publication(engine, fixture_server, crawl_env):
    user = random_user_id()
    with ThreadPoolExecutor(2) as pool:
        rss, dead = pool.map(
            lambda path: crawl(user, fixture_server.url(path), "substack", env=crawl_env),
            ["/substack/rss-only", "/substack/broken"],
        )
    assert (rss.status, rss.counts["new"]) == ("partial", 2), "honest: the RSS feed has only recent posts"
    assert rss.counts["failed"] == 0 and len(rss.errors) == 1 and rss.errors[0]["url"] is None
    assert "archive API" in rss.errors[0]["error"] and "collected from the RSS feed instead" in rss.errors[0]["error"]
    assert "upload your Substack export" in run_row(engine, rss.crawl_run_id).error
    assert {row.source_url for row in stored(engine, user)} == {
        "https://notes.ada.dev/p/the-boring-database",
        "https://notes.ada.dev/p/why-i-write",
    }
    assert dead.status == "failed" and dead.counts["seen"] == 0
    assert "HTTP 500" in dead.errors[0]["error"] and "malformed JSON" in dead.errors[0]["error"]
    assert run_row(engine, dead.crawl_run_id).error.startswith(fixture_server.url("/substack/broken/feed"))


def test_github_repositories_through_a_brief_rate_limit(engine, fixture_server, crawl_env):
    user = random_user_id()
    reset = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()))}
    fixture_server.fail_first(
        "/github/users/ada/repos", 1, Reply(b'{"message": "API rate limit exceeded"}', JSON, 403, reset)
    )
    summary = crawl(user, "https://github.com/ada", "github", env=crawl_env)
    assert (summary.status, summary.counts["new"]) == ("succeeded", 4)
    assert fixture_server.hits["/github/users/ada/repos"] >= 2
    rows = stored(engine, user)
    assert [row.source_url for row in rows] == [
        "https://github.com/ada/cache-notes/blob/main/README.md",
        "https://github.com/ada/cache-notes/blob/main/docs/invalidation.md",
        "https://github.com/ada/cache-notes/blob/main/src/cachenotes/__init__.py",
        "https://github.com/ada/cache-notes/blob/main/src/cachenotes/cache.py",
    ]
    assert all(row.kind == "repository_file" and row.platform == "github" for row in rows)
    assert (
        "\t# a tab-indented comment" in rows[3].content
        and "3.    Measure the hit rate;   never guess it." in rows[1].content
    )


def test_github_hard_rate_limit_and_an_empty_profile(engine, fixture_server, crawl_env):
    user = random_user_id()
    with ThreadPoolExecutor(2) as pool:
        limited, empty = pool.map(lambda name: crawl(user, name, "github", env=crawl_env), ["limited", "nobody"])
    assert limited.status == "failed"
    assert "HTTP 403: rate limit exceeded, resets at" in limited.errors[0]["error"]
    assert "TWIN_GITHUB_TOKEN" in limited.errors[0]["error"]
    assert empty.status == "failed" and empty.errors == [
        {"url": None, "error": "nothing found at nobody (an empty profile or feed?)"}
    ]
    assert stored(engine, user) == []


def test_bad_sources_fail_alone_with_clear_errors(engine, fixture_server, crawl_env):
    user = random_user_id()
    sources = {
        "article": ("web", "/web/article.html"),
        "pdf": ("web", "/web/paper.pdf"),
        "missing": ("web", "/web/missing"),
        "error": ("web", "/web/error"),
        "slow": ("web", "/web/slow"),
        "challenge": ("web", "/web/challenge.html"),
        "image": ("web", "/web/photo.jpg"),
        "walled": ("linkedin", "/linkedin/posts/adalovelace_walled"),
        "linkedin": ("linkedin", "/linkedin/posts/adalovelace_shipping-small"),
        "malformed": ("medium", "/medium/feed/@grace"),
        "empty": ("medium", "/medium/feed/@newcomer"),
    }
    with ThreadPoolExecutor(3) as pool:
        results = dict(
            zip(
                sources,
                pool.map(
                    lambda spec: crawl(user, fixture_server.url(spec[1]), spec[0], env=crawl_env), sources.values()
                ),
            )
        )
    status = {name: summary.status for name, summary in results.items()}
    assert status == {
        "article": "succeeded",
        "pdf": "succeeded",
        "missing": "failed",
        "error": "failed",
        "slow": "failed",
        "challenge": "failed",
        "image": "failed",
        "walled": "failed",
        "linkedin": "succeeded",
        "malformed": "partial",
        "empty": "failed",
    }
    error = {name: summary.errors[0]["error"] for name, summary in results.items() if summary.errors}
    assert error["missing"] == "HTTP 404 Not Found"
    assert error["error"] == "HTTP 500 Internal Server Error"
    assert error["slow"] == "timed out after 2s"
    assert error["challenge"].startswith("bot challenge page")
    assert error["image"] == "unsupported content type 'image/jpeg' (expected HTML, PDF or plain text)"
    assert error["walled"].startswith("login wall")
    assert error["malformed"].startswith(fixture_server.url("/medium/feed/@grace") + ": malformed RSS feed")
    assert error["empty"].startswith("nothing found")
    rows = stored(engine, user)
    assert {(row.platform, row.kind) for row in rows} == {
        ("web", "link"),
        ("web", "paper"),
        ("linkedin", "post"),
        ("medium", "article"),
    }
    assert not any("Sign in" in row.content or "Just a moment" in row.content for row in rows)
    web = [row for row in rows if row.platform == "web"]
    assert all(not row.is_own_writing for row in web)
    assert {row.source_url for row in web} == {
        "https://fieldnotes.example.org/2024/02/retrieval-is-a-search-problem/",
        fixture_server.url("/web/paper.pdf"),
    }


def test_private_addresses_are_refused_unless_allowed(engine, fixture_server, crawl_env):
    user = random_user_id()
    before = fixture_server.hits["/web/article.html"]
    summary = crawl(
        user, fixture_server.url("/web/article.html"), "web", env={**crawl_env, "TWIN_ALLOW_PRIVATE_URLS": "false"}
    )
    assert summary.status == "failed"
    assert "127.0.0.1 resolves to a loopback address" in summary.errors[0]["error"]
    assert fixture_server.hits["/web/article.html"] == before and stored(engine, user) == []


def test_polite_crawls_obey_robots_txt(engine, fixture_server, crawl_env):
    user = random_user_id()
    polite = {**crawl_env, "TWIN_CRAWL_POLITE": "true", "TWIN_CRAWL_DELAY_S": "0"}
    summary = crawl(user, fixture_server.url("/private/notes.html"), "web", env=polite)
    assert summary.status == "failed" and summary.errors[0]["error"] == "Forbidden by robots.txt"
    assert fixture_server.hits["/private/notes.html"] == 0 and fixture_server.hits["/robots.txt"] >= 1


def test_a_crawl_stopped_for_taking_too_long_is_closed_as_failed(engine, fixture_server, crawl_env):
    user = random_user_id()
    fixture_server.set("/web/stalled", b"<p>never in time</p>", delay=30.0)
    # Long enough for the crawl process to start and open its run, far shorter than the stall.
    summary = crawl(
        user,
        fixture_server.url("/web/stalled"),
        "web",
        timeout=10,
        env={**crawl_env, "TWIN_CRAWL_TIMEOUT_S": "60", "TWIN_CRAWL_RETRIES": "0"},
    )
    assert summary.status == "failed"
    assert summary.errors == [{"url": None, "error": "the crawl took longer than 10s and was stopped"}]
    run = run_row(engine, summary.crawl_run_id)
    assert (run.status, run.user_id, run.error) == ("failed", user, "the crawl took longer than 10s and was stopped")
    assert run.finished_at is not None


def test_a_compressed_page_that_inflates_past_the_size_limit_is_refused(engine, fixture_server, crawl_env):
    """Scrapy's downloader decompresses in steps and stops at DOWNLOAD_MAXSIZE (TWIN_CRAWL_MAX_BYTES)."""
    import gzip

    user = random_user_id()
    bomb = gzip.compress(b"<html><body><p>" + b"a" * 50_000_000 + b"</p></body></html>")
    fixture_server.set("/web/gzip-bomb", bomb, "text/html", headers={"Content-Encoding": "gzip"})
    summary = crawl(
        user, fixture_server.url("/web/gzip-bomb"), "web", env={**crawl_env, "TWIN_CRAWL_MAX_BYTES": "1000000"}
    )
    assert summary.status == "failed", summary
    assert summary.errors and fixture_server.url("/web/gzip-bomb") in (summary.errors[0]["url"] or "")
    assert "exceeded DOWNLOAD_MAXSIZE (1000000 B) during decompression" in summary.errors[0]["error"]
    assert stored(engine, user) == []


def test_a_blocked_post_inside_an_archive_skips_only_itself(engine, fixture_server, crawl_env):
    user = random_user_id()
    post = "/substack/ada/api/v1/posts/on-call-without-heroes"
    fixture_server.set(post, fixture_server.payload("web/challenge.html"), status=403)
    try:
        summary = crawl(user, fixture_server.url("/substack/ada"), "substack", env=crawl_env)
    finally:  # the fixture server is the module's
        fixture_server.set(post, fixture_server.payload("substack/posts/on-call-without-heroes.json"), JSON)
    assert summary.status == "partial"
    assert summary.counts["new"] == 2 and summary.counts["failed"] == 2  # the blocked post and the paid one
    blocked = [error for error in summary.errors if error["url"] == "https://ada.substack.com/p/on-call-without-heroes"]
    assert len(blocked) == 1 and "bot challenge page" in blocked[0]["error"]
    assert {row.source_url for row in stored(engine, user)} == {
        "https://ada.substack.com/p/the-boring-database",
        "https://ada.substack.com/p/why-i-write",
    }


def test_a_full_medium_feed_is_partial_and_says_the_export_has_the_rest(engine, fixture_server, crawl_env):
    user = random_user_id()
    feed = fixture_server.payload("medium/feed.xml").decode()
    head, _, rest = feed.partition("<item>")
    item = "<item>" + rest.split("</item>")[0] + "</item>"
    link = item.split("<link>")[1].split("</link>")[0]
    items = "".join(
        item.replace(link, f"{link.split('?')[0]}-{n}").replace("<guid", f"<guid data-n='{n}'") for n in range(10)
    )
    fixture_server.set("/medium/feed/@prolific", head + items + "</channel></rss>", RSS)
    summary = crawl(user, fixture_server.url("/medium/feed/@prolific"), "medium", env=crawl_env)
    assert summary.status == "partial" and summary.counts["new"] == 10 and summary.counts["failed"] == 0
    assert "lists only the latest 10 posts" in summary.errors[0]["error"]
    assert "upload your Medium export" in run_row(engine, summary.crawl_run_id).error
    short = crawl(random_user_id(), fixture_server.url("/medium/feed/@ada"), "medium", env=crawl_env)
    assert short.status == "succeeded", "a feed under the limit is complete"


def test_a_windowed_crawl_keeps_only_its_interval_and_stops_paging_past_it(engine, fixture_server, crawl_env):
    user = random_user_id()
    hits = dict(fixture_server.hits)  # the fixture server is the module's: count this test's requests
    march = crawl(
        user,
        fixture_server.url("/substack/ada"),
        "substack",
        env=crawl_env,
        since="2024-03-01T00:00:00+00:00",
        until="2024-04-01T00:00:00+00:00",
    )
    assert march.status == "succeeded" and march.counts["new"] == 2
    assert {row.source_url for row in stored(engine, user)} == {
        "https://ada.substack.com/p/the-boring-database",
        "https://ada.substack.com/p/on-call-without-heroes",
    }
    assert fixture_server.hits.get("/substack/ada/api/v1/posts/why-i-write", 0) == hits.get(
        "/substack/ada/api/v1/posts/why-i-write", 0
    ), "a February post is not even fetched"
    assert fixture_server.hits["/substack/ada/api/v1/archive"] - hits.get("/substack/ada/api/v1/archive", 0) == 2, (
        "stopped at the page that reached February (a crawl without a window reads a third, empty page)"
    )
    february = crawl(
        user,
        fixture_server.url("/medium/feed/@ada"),
        "medium",
        env=crawl_env,
        since="2024-02-01T00:00:00Z",
        until="2024-03-01T00:00:00Z",
    )
    assert february.counts == {"seen": 2, "new": 2, "changed": 0, "unchanged": 0, "failed": 0}
    empty = crawl(
        user,
        fixture_server.url("/medium/feed/@ada"),
        "medium",
        env=crawl_env,
        since="2023-01-01T00:00:00Z",
        until="2023-02-01T00:00:00Z",
    )
    assert empty.status == "succeeded" and empty.counts["seen"] == 0, "nothing published then is not an error"
