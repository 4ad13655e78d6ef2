"""Medium export -> raw.documents, against the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timezone

from crawlers.importers import import_export
from tests.crawlers.importers.conftest import EXPORTS, crawl_run_row, stored_documents, zip_export

RAG = "https://medium.com/@janedoe/why-your-rag-pipeline-needs-boring-postgres-3f2a1b4c5d6e"
SHIPPING = "https://medium.com/@janedoe/shipping-beats-perfect-a-field-guide-8a7b6c5d4e3f"
FINE_TUNING = "https://medium.com/@janedoe/notes-on-fine-tuning-small-models-1c2d3e4f5a6b"
SHIPPING_FILE = "posts/2023-09-03_Shipping-Beats-Perfect--A-Field-Guide-8a7b6c5d4e3f.html"


def test_published_stories_are_stored_and_drafts_and_responses_skipped(engine, user_id, tmp_path):
    summary = import_export("medium", zip_export(EXPORTS / "medium", tmp_path / "medium-export.zip"), user_id, engine)

    assert summary.status == "succeeded", summary.errors
    assert summary.counts == {"seen": 3, "new": 3, "changed": 0, "unchanged": 0, "skipped": 2, "failed": 0}
    assert summary.skipped == {"draft": 1, "response to another story": 1}
    stored = {row["source_url"]: row for row in stored_documents(engine, user_id)}
    assert sorted(stored) == sorted([RAG, SHIPPING, FINE_TUNING])

    story = stored[RAG]
    assert (story["platform"], story["kind"], story["is_own_writing"]) == ("medium", "article", True)
    assert story["title"] == "Why Your RAG Pipeline Needs Boring Postgres"
    assert story["published_at"] == datetime(2024, 2, 11, 8, 30, 12, 345000, tzinfo=UTC)
    assert story["metadata"] == {
        "author": "Jane Doe",
        "subtitle": "One database, two indexes, zero new pagers.",
        "medium_post_id": "3f2a1b4c5d6e",
    }
    assert story["content"] == (
        "#### One database, two indexes, zero new pagers.\n\n"
        "Most retrieval stacks I review have three databases. They need one.\n\n"
        "### The setup\n\n"
        "Put your chunks in a table, add pgvector, and create an HNSW index:\n\n"
        "```\ncreate index on chunks\n  using hnsw (embedding vector_cosine_ops);\n```\n\n"
        "Latency stayed flat up to 100k chunks.\n\n"
        "- One backup\n- One permission model\n\n"
        "Boring wins. I wrote more here."
    )
    assert "Canonical link" not in story["content"] and "Exported from" not in story["content"]

    shipping = stored[SHIPPING]
    assert shipping["title"] == "Shipping Beats Perfect: A Field Guide"
    assert shipping["metadata"] == {"author": "Jane Doe", "medium_post_id": "8a7b6c5d4e3f"}
    assert shipping["content"].startswith(
        "Perfect is a moving target; shipped is a fact.\n\n> If you aren\u2019t embarrassed"
    )
    assert shipping["content"].endswith(
        "1. Cut scope, not quality.\n2. Write the rollback first.\n3. Ship on a Tuesday.\n\n"
        "That\u2019s the whole guide. \U0001f680"
    )

    run = crawl_run_row(engine, summary.crawl_run_id)
    assert (run["source"], run["platform"], run["status"], run["documents_new"]) == (
        "medium-export",
        "medium",
        "succeeded",
        3,
    )

    again = import_export("medium", EXPORTS / "medium", user_id, engine)
    assert (again.counts["new"], again.counts["unchanged"]) == (0, 3)
    assert len(stored_documents(engine, user_id)) == 3


def test_one_bad_html_file_among_good_ones(engine, user_id, tmp_path):
    page = (EXPORTS / "medium" / SHIPPING_FILE).read_bytes()
    truncated = page[: page.index(b'<section data-field="body"')]  # a download cut short before the body
    summary = import_export(
        "medium",
        zip_export(
            EXPORTS / "medium",
            tmp_path / "medium-export.zip",
            replace={
                SHIPPING_FILE: truncated,
                "posts/2024-01-01_Binary-junk-aaaaaaaaaaaa.html": bytes(range(256)) * 8,
            },
        ),
        user_id,
        engine,
    )

    assert summary.status == "partial"
    assert {error["url"]: error["error"] for error in summary.errors} == {
        SHIPPING_FILE: "no story body (section[data-field=body]); not a Medium post file",
        "posts/2024-01-01_Binary-junk-aaaaaaaaaaaa.html": "neither UTF-8 nor cp1252 text (byte 0x81 on line 2); use the file as the platform exported it",
    }
    assert sorted(row["source_url"] for row in stored_documents(engine, user_id)) == sorted([RAG, FINE_TUNING])
    assert crawl_run_row(engine, summary.crawl_run_id)["documents_failed"] == 2


def test_a_story_without_a_canonical_link_is_an_error_of_that_story(engine, user_id, tmp_path):
    page = (EXPORTS / "medium" / SHIPPING_FILE).read_text().replace('class="p-canonical"', 'class="u-url"')
    summary = import_export(
        "medium",
        zip_export(EXPORTS / "medium", tmp_path / "m.zip", replace={SHIPPING_FILE: page.encode()}),
        user_id,
        engine,
    )
    assert summary.errors == [
        {"url": SHIPPING_FILE, "error": "no canonical link (a.p-canonical) to the story's public URL"}
    ]
    assert summary.counts["new"] == 2


def test_a_linkedin_export_given_as_medium_finds_nothing(engine, user_id):
    summary = import_export("medium", EXPORTS / "linkedin", user_id, engine)
    assert summary.status == "failed"
    assert summary.errors[0]["error"] == (
        "no posts found in this medium export: expected posts/*.html story files, "
        "as in Medium's 'Download your information' zip"
    )
