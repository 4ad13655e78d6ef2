"""Append-only document versions and crawl-run bookkeeping in raw.*."""

import random
from datetime import UTC, datetime, timezone

import pytest
import sqlalchemy as sa

from twin.core.raw import CrawlRun, DocumentRecord
from twin.core.tables import crawl_runs, documents


@pytest.fixture
def user_id():
    return random.randint(10**9, 2 * 10**9)


def _post(text: str, url: str = "https://www.linkedin.com/feed/update/urn:li:activity:1/") -> DocumentRecord:
    return DocumentRecord(
        platform="linkedin",
        kind="post",
        source_url=url,
        content=text,
        published_at=datetime(2026, 1, 5, tzinfo=UTC),
        metadata={"likes": 3},
    )


def _versions(engine, user_id, url=None):
    query = sa.select(documents).where(documents.c.user_id == user_id).order_by(documents.c.fetched_at)
    if url:
        query = query.where(documents.c.source_url == url)
    with engine.connect() as conn:
        return conn.execute(query).mappings().all()


def _run_row(engine, run):
    with engine.connect() as conn:
        return conn.execute(sa.select(crawl_runs).where(crawl_runs.c.crawl_run_id == run.crawl_run_id)).mappings().one()


def test_recrawl_adds_nothing_and_an_edit_adds_one_version(engine, user_id):
    with CrawlRun(engine, user_id, "linkedin-export", "linkedin") as run:
        assert run.store(_post("Shipping beats perfect.")) == "new"
    with CrawlRun(engine, user_id, "linkedin-export", "linkedin") as rerun:
        assert rerun.store(_post("Shipping beats perfect.")) == "unchanged"
    assert len(_versions(engine, user_id)) == 1
    assert _run_row(engine, rerun)["documents_unchanged"] == 1

    with CrawlRun(engine, user_id, "linkedin-export", "linkedin") as edit:
        assert edit.store(_post("Shipping beats perfect. Most of the time.")) == "changed"
    versions = _versions(engine, user_id)
    assert [v["content"] for v in versions] == ["Shipping beats perfect.", "Shipping beats perfect. Most of the time."]
    assert versions[1]["crawl_run_id"] == edit.crawl_run_id
    assert versions[0]["is_own_writing"] is True
    assert versions[0]["metadata"] == {"likes": 3}


def test_revert_to_older_text_is_a_new_version(engine, user_id):
    with CrawlRun(engine, user_id, "s", "linkedin") as run:
        outcomes = [run.store(_post(text)) for text in ("A", "B", "A", "A")]
    assert outcomes == ["new", "changed", "changed", "unchanged"]
    versions = _versions(engine, user_id)
    assert [v["content"] for v in versions] == ["A", "B", "A"]
    assert len({v["document_version_id"] for v in versions}) == 3


def test_same_url_for_two_users_is_stored_for_each(engine, user_id):
    other = user_id + 1
    for uid in (user_id, other):
        with CrawlRun(engine, uid, "s", "linkedin") as run:
            assert run.store(_post("Same words.")) == "new"
    assert len(_versions(engine, user_id)) == 1 and len(_versions(engine, other)) == 1


def test_bad_items_are_recorded_and_the_rest_land(engine, user_id):
    with CrawlRun(engine, user_id, "s", "linkedin") as run:
        run.store(_post("Good one.", url="https://example.com/a"))
        assert run.store(_post("   ", url="https://example.com/empty")) is None
        run.fail("https://example.com/b", "HTTP 500")
        run.store(_post("Another good one.", url="https://example.com/c"))
    row = _run_row(engine, run)
    assert row["status"] == "partial"
    assert (row["documents_seen"], row["documents_new"], row["documents_failed"]) == (4, 2, 2)
    assert "https://example.com/empty: https://example.com/empty: empty content" in row["error"]
    assert {"url": "https://example.com/b", "error": "HTTP 500"} in row["errors"]
    assert row["finished_at"] is not None


def test_status_failed_when_nothing_landed_or_an_exception_escaped(engine, user_id):
    with CrawlRun(engine, user_id, "s", "medium") as empty:
        empty.fail(None, "feed is not valid RSS")
    assert _run_row(engine, empty)["status"] == "failed"

    with pytest.raises(RuntimeError):
        with CrawlRun(engine, user_id, "s", "medium") as crashed:
            crashed.store(_post("Kept.", url="https://example.com/kept"))
            raise RuntimeError("connection reset")
    row = _run_row(engine, crashed)
    assert row["status"] == "failed" and "RuntimeError: connection reset" in row["error"]
    assert len(_versions(engine, user_id)) == 1, "what was stored before the crash is kept"

    with CrawlRun(engine, user_id, "s", "medium") as fine:
        pass
    assert _run_row(engine, fine)["status"] == "succeeded"


def test_links_are_knowledge_not_own_writing():
    assert DocumentRecord("web", "link", "https://example.com", "x").own_writing is False
    assert DocumentRecord("web", "paper", "https://arxiv.org/abs/1", "x").own_writing is False
    assert DocumentRecord("medium", "article", "https://medium.com/@a/b", "x").own_writing is True


def test_a_canonical_url_naming_a_stored_document_of_another_source_does_not_replace_it(engine, user_id):
    """A shared page whose rel=canonical names the user's own article (or the reverse) is refused:
    nothing is overwritten and shared material never becomes the user's own writing."""
    url = "https://medium.com/@ada/why-boring-technology-wins-1a2b3c"
    own = DocumentRecord(platform="medium", kind="article", source_url=url, content="My own article, in my words.")
    shared = DocumentRecord(platform="web", kind="link", source_url=url, content="Someone else's page that claims it.")
    with CrawlRun(engine, user_id, "medium-feed", "medium") as run:
        assert run.store(own) == "new"
    with CrawlRun(engine, user_id, "links", "web") as run:
        assert run.store(shared) is None
    assert run.counts.failed == 1
    assert "already stored from medium as the user's own writing" in run.counts.errors[0]["error"]
    [version] = _versions(engine, user_id, url)
    assert version.content == "My own article, in my words." and version.is_own_writing is True

    link_url = "https://fieldnotes.example.org/2024/02/retrieval/"
    with CrawlRun(engine, user_id, "links", "web") as run:
        run.store(DocumentRecord(platform="web", kind="link", source_url=link_url, content="A page I shared."))
    with CrawlRun(engine, user_id, "substack", "substack") as run:
        assert (
            run.store(
                DocumentRecord(platform="substack", kind="article", source_url=link_url, content="Claimed as mine.")
            )
            is None
        )
    assert [row.is_own_writing for row in _versions(engine, user_id, link_url)] == [False]
