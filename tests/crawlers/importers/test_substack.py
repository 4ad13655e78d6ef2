"""Substack export -> raw.documents, against the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timezone

import pytest

from crawlers.importers import import_export
from crawlers.importers.substack import post_url
from tests.crawlers.importers.conftest import EXPORTS, crawl_run_row, stored_documents, zip_export

PUBLICATION = "https://janedoe.substack.com"
NEWSLETTERS = [
    "why-postgres-is-enough",
    "the-fine-tuning-checklist",
    "evals-are-product-specs",
    "what-i-got-wrong-about-rag",
]


def _substack_zip(tmp_path, **kwargs):
    return zip_export(EXPORTS / "substack", tmp_path / "janedoe-export.zip", **kwargs)


def test_published_newsletters_are_stored_field_by_field(engine, user_id, tmp_path):
    summary = import_export("substack", _substack_zip(tmp_path), user_id, engine)

    assert summary.status == "succeeded", summary.errors
    assert summary.counts == {"seen": 4, "new": 4, "changed": 0, "unchanged": 0, "skipped": 3, "failed": 0}
    assert summary.skipped == {
        "unpublished draft": 1,
        "podcast post (only newsletters are imported)": 1,
        "thread post (only newsletters are imported)": 1,
    }
    stored = {row["source_url"]: row for row in stored_documents(engine, user_id)}
    assert sorted(stored) == sorted(f"{PUBLICATION}/p/{slug}" for slug in NEWSLETTERS)

    post = stored[f"{PUBLICATION}/p/why-postgres-is-enough"]
    assert (post["platform"], post["kind"], post["is_own_writing"]) == ("substack", "article", True)
    assert post["title"] == "Why Postgres is enough"
    assert post["published_at"] == datetime(2024, 3, 1, 15, 0, 32, 318000, tzinfo=UTC)
    assert post["metadata"] == {
        "post_id": "139000001.why-postgres-is-enough",
        "type": "newsletter",
        "audience": "everyone",
        "subtitle": "Your retrieval stack is one extension away",
        "email_sent_at": "2024-03-01T15:00:40.101Z",
    }
    assert post["content"] == (
        "Last month we deleted a database. Nobody noticed, which was the point.\n\n"
        "## The one-extension stack\n\n"
        "With pgvector you get approximate nearest neighbours inside the database you already back up.\n\n"
        "p99 latency before and after.\n\n"
        "- one backup\n- one access model\n\n"
        "Boring is a feature."
    )  # no subscribe widget, no share button

    paid = stored[f"{PUBLICATION}/p/what-i-got-wrong-about-rag"]
    assert paid["metadata"]["audience"] == "only_paid"
    assert paid["content"] == (
        "I used to think retrieval quality was about the embedding model. It\u2019s about chunking.\n\n"
        "Here is the data from three production systems."
    )
    assert "subtitle" not in stored[f"{PUBLICATION}/p/evals-are-product-specs"]["metadata"]

    run = crawl_run_row(engine, summary.crawl_run_id)
    assert (run["source"], run["platform"], run["status"], run["documents_new"]) == (
        "substack-export",
        "substack",
        "succeeded",
        4,
    )

    again = import_export("substack", EXPORTS / "substack", user_id, engine)
    assert (again.counts["new"], again.counts["changed"], again.counts["unchanged"]) == (0, 0, 4)


def test_publication_url_option_builds_custom_domain_urls(engine, user_id, tmp_path):
    export = _substack_zip(tmp_path, drop=("email_list.janedoe.csv",))
    summary = import_export("substack", export, user_id, engine, publication_url="newsletter.janedoe.dev/")
    assert summary.status == "succeeded"
    assert sorted(row["source_url"] for row in stored_documents(engine, user_id)) == sorted(
        f"https://newsletter.janedoe.dev/p/{slug}" for slug in NEWSLETTERS
    )


def test_without_a_publication_url_the_import_fails_clearly(engine, user_id, tmp_path):
    summary = import_export("substack", _substack_zip(tmp_path, drop=("email_list.janedoe.csv",)), user_id, engine)
    assert summary.status == "failed"
    assert summary.errors == [
        {
            "url": None,
            "error": "the export does not name its publication: pass its URL "
            "(--publication-url https://you.substack.com, or your custom domain)",
        }
    ]
    assert stored_documents(engine, user_id) == []


def test_a_missing_or_broken_body_fails_only_that_post(engine, user_id, tmp_path):
    export = _substack_zip(
        tmp_path,
        drop=("posts/139000002.the-fine-tuning-checklist.html",),
        replace={"posts/139000003.evals-are-product-specs.html": b"\n"},
    )
    summary = import_export("substack", export, user_id, engine)
    assert summary.status == "partial"
    assert summary.errors == [
        {
            "url": f"{PUBLICATION}/p/the-fine-tuning-checklist",
            "error": "posts/139000002.the-fine-tuning-checklist.html is missing from the export (the body of posts.csv line 3)",
        },
        {
            "url": f"{PUBLICATION}/p/evals-are-product-specs",
            "error": "posts/139000003.evals-are-product-specs.html: empty file",
        },
    ]
    assert summary.counts["new"] == 2


def test_an_edited_post_in_a_newer_export_is_one_new_version(engine, user_id, tmp_path):
    import_export("substack", EXPORTS / "substack", user_id, engine)
    body = (EXPORTS / "substack" / "posts" / "139000003.evals-are-product-specs.html").read_bytes()
    newer = _substack_zip(
        tmp_path,
        replace={
            "posts/139000003.evals-are-product-specs.html": body.replace(
                b"not after the demo.", b"not after the launch."
            ),
        },
    )
    summary = import_export("substack", newer, user_id, engine)
    assert (summary.counts["new"], summary.counts["changed"], summary.counts["unchanged"]) == (0, 1, 3)
    versions = [
        row for row in stored_documents(engine, user_id) if row["source_url"].endswith("/evals-are-product-specs")
    ]
    assert [v["content"].split()[-1] for v in versions] == ["demo.", "launch."]


@pytest.mark.parametrize(
    "post_id, expected",
    [
        ("139000001.why-postgres-is-enough", f"{PUBLICATION}/p/why-postgres-is-enough"),
        ("139000009", "https://substack.com/home/post/p-139000009"),
    ],
)
def test_post_urls_come_from_the_slug_in_post_id(post_id, expected):
    assert post_url(PUBLICATION, post_id) == expected


def test_unknown_kinds_and_options_are_refused(engine, user_id):
    with pytest.raises(ValueError, match="unknown export 'twitter'"):
        import_export("twitter", EXPORTS / "substack", user_id, engine)
    with pytest.raises(TypeError, match="medium import takes no option"):
        import_export("medium", EXPORTS / "medium", user_id, engine, publication_url="https://x.substack.com")
