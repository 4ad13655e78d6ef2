"""Each spider's parse methods on saved responses, field by field."""

from datetime import UTC, datetime, timezone

import pytest
from scrapy import Request
from scrapy.http import Response

from crawlers.spiders.github import GitHubSpider, github_username, next_link
from crawlers.spiders.linkedin import LinkedInSpider
from crawlers.spiders.links import LinkSpider
from crawlers.spiders.medium import MediumSpider, medium_feed_url
from crawlers.spiders.substack import SubstackSpider, substack_base_url
from testing.fixture_server import FIXTURES, PAPER_LINES, make_pdf, make_repository_tarball
from tests.crawlers.spider_fixtures import SpiderHarness, json_response, response, saved, xml_response

UTC = UTC


@pytest.mark.parametrize(
    ("source", "feed"),
    [
        ("@ada", "https://medium.com/feed/@ada"),
        ("https://medium.com/@ada", "https://medium.com/feed/@ada"),
        ("https://medium.com/@ada/some-post-123abc", "https://medium.com/feed/@ada"),
        ("https://ada.medium.com/", "https://ada.medium.com/feed"),
        ("https://medium.com/feed/@ada", "https://medium.com/feed/@ada"),
        ("https://medium.com/better-programming", "https://medium.com/feed/better-programming"),
        ("http://127.0.0.1:8765/medium/feed/@ada", "http://127.0.0.1:8765/medium/feed/@ada"),
    ],
)
def test_medium_sources_map_to_the_feed(source, feed):
    assert medium_feed_url(source) == feed


def test_medium_feed_items_field_by_field():
    harness = SpiderHarness(MediumSpider, "@ada")
    items = list(harness.spider.parse(xml_response("https://medium.com/feed/@ada", saved("medium/feed.xml"))))
    assert harness.errors == []
    assert [item.title for item in items] == [
        "Your cache is a bet on the past",
        "Write the postmortem before the outage",
        "Small PRs, big trust",
    ]
    first = items[0]
    assert first.platform == "medium"
    assert first.kind == "article"
    assert (
        first.source_url
        == "https://medium.com/@ada/your-cache-is-a-bet-on-the-past-4b1e2c9d7f10?source=rss-2f8e5a1c3b7d------2"
    )
    assert first.author == "Ada Lovelace"
    assert first.published_at == datetime(2024, 3, 12, 8, 13, 44, tzinfo=UTC)
    assert first.metadata["tags"] == ["caching", "software-engineering", "performance"]
    assert first.metadata["guid"] == "https://medium.com/p/4b1e2c9d7f10"
    assert first.metadata["feed_url"] == "https://medium.com/feed/@ada"
    assert first.content.startswith(
        "### Your cache is a bet on the past\n\nEvery cache is a bet that the past predicts the future."
    )
    assert "- a TTL that outlives the data\n- no invalidation on write\n- two writers racing" in first.content
    assert "```\ndef get(key):\n    value = cache.get(key)\n    if value is None:" in first.content
    assert "stat?event" not in first.content and "figcaption" not in first.content
    assert "> The outage you can describe is the outage you can prevent." in items[1].content


def test_malformed_feed_keeps_readable_items_and_reports():
    harness = SpiderHarness(MediumSpider, "@grace")
    items = list(
        harness.spider.parse(xml_response("https://medium.com/feed/@grace", saved("medium/feed_malformed.xml")))
    )
    assert [item.title for item in items][:1] == ["Debugging is reading"]
    assert (
        items[0].content == "Most bugs are found by reading the code slowly, out loud, to someone who is not listening."
    )
    assert any("malformed RSS feed" in error["error"] and not error["item"] for error in harness.errors)


def test_challenge_page_instead_of_feed_is_reported_not_parsed():
    harness = SpiderHarness(MediumSpider, "@ada")
    page = response("https://medium.com/feed/@ada", saved("web/challenge.html"), status=403)
    assert list(harness.spider.parse(page)) == []
    assert harness.errors[0]["error"].startswith("bot challenge page")


@pytest.mark.parametrize(
    ("source", "base"),
    [
        ("https://ada.substack.com", "https://ada.substack.com"),
        ("https://ada.substack.com/p/the-boring-database", "https://ada.substack.com"),
        ("notes.ada.dev/archive?sort=new", "https://notes.ada.dev"),
        ("https://example.com/newsletter/", "https://example.com/newsletter"),
        ("https://example.com/newsletter/p/why-i-write", "https://example.com/newsletter"),
    ],
)
def test_substack_base_urls(source, base):
    assert substack_base_url(source) == base


def test_substack_archive_pages_dedupe_and_request_posts():
    harness = SpiderHarness(SubstackSpider, "https://ada.substack.com")
    entries = saved("substack/archive.json")
    import json

    archive = json.loads(entries)
    first = list(
        harness.spider.parse_archive(
            json_response("https://ada.substack.com/api/v1/archive?offset=0", json.dumps(archive[:2]).encode()),
            offset=0,
        )
    )
    assert [request.url for request in first] == [
        "https://ada.substack.com/api/v1/posts/the-boring-database",
        "https://ada.substack.com/api/v1/posts/on-call-without-heroes",
        "https://ada.substack.com/api/v1/archive?sort=new&offset=2&limit=50",
    ]
    assert first[0].meta["item_url"] == "https://ada.substack.com/p/the-boring-database"
    overlapping = json.dumps(archive[1:4]).encode()  # the page repeats a post already seen
    second = list(
        harness.spider.parse_archive(
            json_response("https://ada.substack.com/api/v1/archive?offset=2", overlapping), offset=2
        )
    )
    assert [request.url.rsplit("/", 1)[-1] for request in second[:-1]] == ["paid-deep-dive-replication", "why-i-write"]
    assert second[-1].url.endswith("offset=5&limit=50")
    assert (
        list(
            harness.spider.parse_archive(
                json_response("https://ada.substack.com/api/v1/archive?offset=5", b"[]"), offset=5
            )
        )
        == []
    )


def test_substack_post_field_by_field():
    harness = SpiderHarness(SubstackSpider, "https://ada.substack.com")
    entry = {"id": 141550021, "slug": "the-boring-database"}
    page = json_response(
        "https://ada.substack.com/api/v1/posts/the-boring-database",
        saved("substack/posts/the-boring-database.json"),
        item_url="https://ada.substack.com/p/the-boring-database",
    )
    [item] = harness.spider.parse_post(page, entry=entry)
    assert item.platform == "substack"
    assert item.kind == "article"
    assert item.source_url == "https://ada.substack.com/p/the-boring-database"
    assert item.title == "Choose the boring database"
    assert item.author == "Ada Lovelace"
    assert item.published_at == datetime(2024, 3, 20, 13, 0, tzinfo=UTC)
    assert item.metadata == {
        "substack_id": 141550021,
        "slug": "the-boring-database",
        "subtitle": "Postgres, an index, and a good chunker",
        "audience": "everyone",
        "type": "newsletter",
        "publication": "https://ada.substack.com",
        "word_count": 96,
        "via": "api",
    }
    assert item.content == (
        "Most teams don\u2019t need a vector database. They need Postgres, an index and a good chunker.\n\n"
        "## What they need instead\n\n"
        "pgvector gives you nearest neighbours next to the rows they describe. Full-text search gives you the exact matches embeddings miss.\n\n"
        "- one database to back up\n- one query planner to learn\n\n"
        "Boring is a feature."
    )


def test_substack_paid_post_is_skipped_and_said_so():
    harness = SpiderHarness(SubstackSpider, "https://ada.substack.com")
    page = json_response(
        "https://ada.substack.com/api/v1/posts/paid-deep-dive-replication",
        saved("substack/posts/paid-deep-dive-replication.json"),
        item_url="https://ada.substack.com/p/paid-deep-dive-replication",
    )
    assert list(harness.spider.parse_post(page, entry={"id": 140512345})) == []
    assert harness.errors == [
        {
            "url": "https://ada.substack.com/p/paid-deep-dive-replication",
            "error": "paid-only post skipped: no access to its full text",
            "item": True,
        }
    ]


def test_substack_malformed_archive_falls_back_to_the_feed():
    harness = SpiderHarness(SubstackSpider, "https://notes.ada.dev")
    [request] = harness.spider.parse_archive(
        json_response("https://notes.ada.dev/api/v1/archive?offset=0", b"<html>oops"), offset=0
    )
    assert request.url == "https://notes.ada.dev/feed"
    items = list(request.callback(xml_response(request.url, saved("substack/feed.xml")), **request.cb_kwargs))
    assert [(item.source_url, item.title) for item in items] == [
        ("https://notes.ada.dev/p/the-boring-database", "Choose the boring database"),
        ("https://notes.ada.dev/p/why-i-write", "Why I write a newsletter"),
    ]
    assert (
        items[1].content
        == "I write to find out what I think.\n\nPublishing is the forcing function: a draft can be vague, a sent email cannot."
    )
    assert "Subscribe" not in items[0].content and items[0].author == "Ada Lovelace"


@pytest.mark.parametrize(
    ("source", "user"), [("ada", "ada"), ("@ada", "ada"), ("https://github.com/ada", "ada"), ("github.com/ada/", "ada")]
)
def test_github_usernames(source, user):
    assert github_username(source) == user


def test_github_link_header():
    header = b'<https://api.github.com/user/1/repos?page=2>; rel="next", <https://api.github.com/user/1/repos?page=5>; rel="last"'
    assert next_link(header) == "https://api.github.com/user/1/repos?page=2"
    assert next_link(b'<https://api.github.com/user/1/repos?page=1>; rel="prev"') is None


def test_github_repo_list_skips_forks_and_archived_and_follows_next_page():
    harness = SpiderHarness(GitHubSpider, "ada")
    headers = {
        "Link": '<https://api.github.com/users/ada/repos?page=2>; rel="next"',
        "Content-Type": "application/json",
    }
    page = response("https://api.github.com/users/ada/repos", saved("github/repos_page1.json"), headers=headers)
    requests = list(harness.spider.parse_repos(page))
    assert [request.url for request in requests] == [
        "https://api.github.com/repos/ada/cache-notes/tarball/main",
        "https://api.github.com/users/ada/repos?page=2",
    ]
    assert requests[0].meta["item_url"] == "https://github.com/ada/cache-notes"
    assert requests[0].headers[b"Accept"] == b"application/vnd.github+json"
    archived = response(
        "https://api.github.com/users/ada/repos?page=2",
        saved("github/repos_page2.json"),
        headers={"Content-Type": "application/json"},
    )
    assert list(harness.spider.parse_repos(archived)) == []
    everything = SpiderHarness(GitHubSpider, "ada", include_forks="true", include_archived="true")
    assert len(list(everything.spider.parse_repos(archived))) == 1


def test_github_tarball_files_field_by_field():
    harness = SpiderHarness(GitHubSpider, "ada")
    import json

    repo = json.loads(saved("github/repos_page1.json"))[0]
    tarball = make_repository_tarball(FIXTURES / "github" / "repos" / "ada-cache-notes", "ada-cache-notes-5f3e2a1")
    request = Request(
        "https://codeload.github.com/ada/cache-notes/legacy.tar.gz/refs/heads/main",
        meta={"item_url": "https://github.com/ada/cache-notes"},
    )
    items = list(harness.spider.parse_tarball(Response(request.url, body=tarball, request=request), repo=repo))
    assert [item.metadata["path"] for item in items] == [
        "README.md",
        "docs/invalidation.md",
        "src/cachenotes/__init__.py",
        "src/cachenotes/cache.py",
    ]
    readme = items[0]
    assert readme.platform == "github"
    assert readme.kind == "repository_file"
    assert readme.source_url == "https://github.com/ada/cache-notes/blob/main/README.md"
    assert readme.title == "cache-notes/README.md"
    assert readme.author == "ada"
    assert readme.published_at == datetime(2024, 3, 10, 18, 22, 5, tzinfo=UTC)
    assert readme.metadata["repository"] == "ada/cache-notes"
    assert (
        readme.metadata["license"] == "MIT"
        and readme.metadata["stars"] == 42
        and readme.metadata["language"] == "Markdown"
    )
    source = (FIXTURES / "github/repos/ada-cache-notes/src/cachenotes/cache.py").read_text()
    assert items[3].content == source  # whitespace (tabs, indentation, blank lines) preserved
    assert items[3].metadata["language"] == "Python"
    stats = harness.crawler.stats.get_stats()
    assert stats["twin/files_skipped/too_large"] == 1  # huge_table.py
    assert stats["twin/files_skipped/binary_or_generated"] == 2  # latin-1 text, "Code generated" schema.py
    assert stats["twin/files_skipped/not_wanted"] == 6  # logo.png, *_pb2.py, 2 lock files, node_modules/, dist/


def test_github_corrupt_tarball_fails_that_repository_only():
    harness = SpiderHarness(GitHubSpider, "ada")
    request = Request("https://codeload.github.com/ada/x.tar.gz", meta={"item_url": "https://github.com/ada/x"})
    assert (
        list(
            harness.spider.parse_tarball(
                Response(request.url, body=b"\x1f\x8b\x08not really gzip", request=request),
                repo={"full_name": "ada/x", "name": "x"},
            )
        )
        == []
    )
    assert harness.errors[0]["url"] == "https://github.com/ada/x"
    assert harness.errors[0]["error"].startswith("unreadable repository archive")


def test_linkedin_public_post_field_by_field():
    url = "https://www.linkedin.com/posts/adalovelace_shipping-small-activity-7170000000000000000-AbCd"
    harness = SpiderHarness(LinkedInSpider, url)
    [item] = harness.spider.parse(response(url, saved("linkedin/post.html")))
    assert item.platform == "linkedin"
    assert item.kind == "post"
    assert item.source_url == url
    assert item.title == "Shipping small is a trust exercise"
    assert item.author == "Ada Lovelace"
    assert item.published_at == datetime(2024, 3, 4, 8, 15, 31, tzinfo=UTC)
    assert item.content.startswith("Shipping small is a trust exercise.\n\nEvery 40-line PR")
    assert item.content.endswith("- one idea per PR\n- tests in the same PR\n- a description a stranger could review")


def test_linkedin_login_wall_is_an_error_never_an_item():
    url = "https://www.linkedin.com/posts/adalovelace_walled"
    harness = SpiderHarness(LinkedInSpider, url)
    assert (
        list(
            harness.spider.parse(
                response("https://www.linkedin.com/authwall?trk=public_post", saved("linkedin/authwall.html"))
            )
        )
        == []
    )
    assert harness.errors[0]["url"] == url and harness.errors[0]["error"].startswith("login wall")


def test_link_spider_article_and_pdf():
    url = "https://fieldnotes.example.org/p?id=7"
    harness = SpiderHarness(LinkSpider, url)
    [article] = harness.spider.parse(
        response(url, saved("web/article.html"), headers={"Content-Type": "text/html"}, item_url=url)
    )
    assert article.platform == "web" and article.kind == "link"
    assert article.source_url == "https://fieldnotes.example.org/2024/02/retrieval-is-a-search-problem/"
    assert article.title == "Retrieval is a search problem"
    assert article.author == "Lin Chen"
    assert article.published_at == datetime(2024, 2, 14, 16, 45, tzinfo=UTC)
    assert article.metadata["site_name"] == "Lin's Field Notes" and article.metadata["fetched_from"] == url
    assert "## Measure recall before you tune the prompt" in article.content
    assert "- BM25 or full-text search for exact terms" in article.content
    assert "Related" not in article.content and "Subscribe" not in article.content and "\u00a9" not in article.content
    pdf_url = "https://fieldnotes.example.org/paper.pdf"
    pdf = make_pdf(PAPER_LINES, "Hybrid Retrieval for Personal Writing Assistants", "Lin Chen")
    request = Request(pdf_url, meta={"item_url": pdf_url})
    [paper] = harness.spider.parse(
        Response(pdf_url, body=pdf, headers={"Content-Type": "application/pdf"}, request=request)
    )
    assert paper.kind == "paper" and paper.source_url == pdf_url
    assert paper.title == "Hybrid Retrieval for Personal Writing Assistants" and paper.author == "Lin Chen"
    assert paper.published_at == datetime(2024, 1, 15, 9, 0, tzinfo=UTC)
    assert paper.content.splitlines()[0] == "Hybrid Retrieval for Personal Writing Assistants"
    assert "improves answer quality for assistants that write in a user's voice." in paper.content
