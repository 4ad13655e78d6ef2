"""LinkedIn data export -> raw.documents, against the real database."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timezone
from pathlib import Path

import pytest

from crawlers.importers import import_export
from crawlers.importers.linkedin import unwrap_double_quoting
from tests.crawlers.importers.conftest import EXPORTS, copy_export, crawl_run_row, stored_documents, zip_export

TOP = "Basic_LinkedInDataExport_03-05-2024"
SHARE = "https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A{}"
FIRST_POST = SHARE.format("7170912345678901234")
BORING_ARTICLE = "https://www.linkedin.com/pulse/why-boring-technology-wins-jane-doe-4f1ce"
POSTGRES_ARTICLE = "https://www.linkedin.com/pulse/postgres-enough-rag-jane-doe-9b2a1"
SHARES_HEADER = "Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility\n"


def _linkedin_zip(tmp_path: Path, **kwargs) -> Path:
    return zip_export(EXPORTS / "linkedin", tmp_path / "Basic_LinkedInDataExport_03-05-2024.zip", **kwargs)


def _by_url(rows):
    return {row["source_url"]: row for row in rows}


def test_posts_and_articles_are_stored_field_by_field(engine, user_id, tmp_path):
    summary = import_export("linkedin", _linkedin_zip(tmp_path), user_id, engine)

    assert summary.status == "succeeded", summary.errors
    assert summary.counts == {"seen": 7, "new": 7, "changed": 0, "unchanged": 0, "skipped": 2, "failed": 0}
    assert summary.skipped == {"repost without commentary": 1, "unpublished article draft": 1}
    rows = stored_documents(engine, user_id)
    assert len(rows) == 7
    stored = _by_url(rows)
    assert SHARE.format("7158812345678901234") not in stored  # the repost

    post = stored[FIRST_POST]
    assert post["platform"] == "linkedin" and post["kind"] == "post"
    assert post["title"] is None
    assert post["content"] == (
        'We replaced our vector database with Postgres. 🐘\n\nThe "boring" choice won:\n- one backup\n'
        '- one set of permissions\n- hybrid search in a single query\n\nWhat would you "never" move off Postgres? 👇'
    )
    assert post["published_at"] == datetime(2024, 3, 5, 14, 22, 10, tzinfo=UTC)
    assert post["metadata"] == {"visibility": "MEMBER_NETWORK", "author": "Jane Doe"}
    assert post["is_own_writing"] is True
    assert post["crawl_run_id"] == summary.crawl_run_id
    assert len(post["content_hash"]) == 64

    double_quoted = stored[SHARE.format("7144412345678901234")]  # LinkedIn's quoted-string-inside-a-field form
    assert double_quoted["content"] == (
        'Three things I learned shipping ML in 2023, in order of pain:\n1. data contracts, not "models", break first\n'
        "2. evals are product specs\n3. latency budgets, p99, always\n\n"
        "Full notes: https://medium.com/@janedoe/shipping-beats-perfect-a-field-guide-8a7b6c5d4e3f"
    )

    shared = stored[SHARE.format("7165512345678901234")]
    assert shared["metadata"] == {
        "shared_url": "https://janedoe.substack.com/p/the-fine-tuning-checklist",
        "visibility": "MEMBER_NETWORK",
        "author": "Jane Doe",
    }
    with_media = stored[SHARE.format("7152612345678901234")]
    assert with_media["metadata"]["media_url"].startswith("https://media.licdn.com/dms/image/")
    assert with_media["metadata"]["visibility"] == "CONNECTIONS_ONLY"

    article = stored[BORING_ARTICLE]
    assert article["kind"] == "article" and article["platform"] == "linkedin"
    assert article["title"] == "Why boring technology wins"
    assert article["published_at"] == datetime(2024, 1, 10, 9, 12, tzinfo=UTC)
    assert article["metadata"] == {"created_at": "2024-01-08T16:31:00+00:00", "author": "Jane Doe"}
    assert article["content"] == (
        "Every year someone asks me which new database we should adopt. My answer hasn't changed: the one your "
        "team already knows how to restore at 3am.\n\n### What \u201cboring\u201d buys you\n\n- Known failure modes\n"
        "- Hiring that doesn't need a unicorn\n- Tooling that already exists\n\nInnovation tokens are real. Spend "
        "them on the product, not on the plumbing.\n\n> Choose boring technology. \u2014 Dan McKinley\n\n"
        "What did your last \u201cexciting\u201d choice cost you?"
    )
    assert (
        "```\nselect id from chunks\norder by embedding <=> $1\nlimit 10;\n```" in stored[POSTGRES_ARTICLE]["content"]
    )

    run = crawl_run_row(engine, summary.crawl_run_id)
    assert (run["user_id"], run["source"], run["platform"], run["status"]) == (
        user_id,
        "linkedin-export",
        "linkedin",
        "succeeded",
    )
    assert (run["documents_seen"], run["documents_new"], run["documents_failed"], run["errors"]) == (7, 7, 0, [])


def test_reimport_adds_nothing_and_an_edited_post_adds_exactly_one_version(engine, user_id, tmp_path):
    first = import_export("linkedin", EXPORTS / "linkedin", user_id, engine)  # the extracted folder
    again = import_export("linkedin", _linkedin_zip(tmp_path), user_id, engine)  # the same export, zipped
    assert first.counts["new"] == 7
    assert (again.status, again.counts["new"], again.counts["changed"], again.counts["unchanged"]) == (
        "succeeded",
        0,
        0,
        7,
    )

    newer = copy_export("linkedin", tmp_path / "newer")
    shares = newer / TOP / "Shares.csv"
    shares.write_bytes(
        shares.read_bytes().replace(b"That's the whole strategy.", b"That's the whole strategy. Still true.")
    )
    edited = import_export("linkedin", newer, user_id, engine)

    assert (edited.counts["new"], edited.counts["changed"], edited.counts["unchanged"]) == (0, 1, 6)
    rows = stored_documents(engine, user_id)
    assert len(rows) == 8
    versions = [row for row in rows if row["source_url"] == SHARE.format("7125612345678901234")]
    assert [v["content"].rsplit(" ", 2)[-2:] for v in versions] == [["whole", "strategy."], ["Still", "true."]]
    assert versions[1]["crawl_run_id"] == edited.crawl_run_id


def test_complete_export_names_shares_with_the_member_id_and_has_no_top_folder(engine, user_id, tmp_path):
    flat = tmp_path / "complete"
    shutil.copytree(EXPORTS / "linkedin" / TOP, flat)
    (flat / "Shares.csv").rename(flat / "Shares_123456789.csv")
    shutil.rmtree(flat / "Articles")
    summary = import_export("linkedin", zip_export(flat, tmp_path / "Complete_LinkedInDataExport.zip"), user_id, engine)
    assert (summary.status, summary.counts["new"], summary.counts["skipped"]) == ("succeeded", 5, 1)


def test_malformed_csv_keeps_earlier_rows_and_the_articles(engine, user_id, tmp_path):
    broken = (
        SHARES_HEADER
        + f'2024-03-05 14:22:10,{FIRST_POST},"A fine post.",,,MEMBER_NETWORK\n'
        + f'not a date,{SHARE.format("2")},"Bad date, one row only.",,,MEMBER_NETWORK\n'
        + f'2024-03-06 10:00:00,{SHARE.format("3")},"Too many fields",,,MEMBER_NETWORK,extra\n'
        + f'2024-03-07 10:00:00,{SHARE.format("4")},"Unterminated \x00 quote,,,\n'
    )
    summary = import_export(
        "linkedin", _linkedin_zip(tmp_path, replace={f"{TOP}/Shares.csv": broken.encode()}), user_id, engine
    )

    assert summary.status == "partial"
    assert sorted(_by_url(stored_documents(engine, user_id))) == sorted([FIRST_POST, BORING_ARTICLE, POSTGRES_ARTICLE])
    errors = {error["url"]: error["error"] for error in summary.errors}
    assert errors[SHARE.format("2")] == f"{TOP}/Shares.csv line 3: Date: not a date: 'not a date'"
    assert errors[SHARE.format("3")] == f"{TOP}/Shares.csv: malformed CSV at line 4: 7 fields, the header has 6"
    assert errors[None].startswith(f"{TOP}/Shares.csv: malformed CSV from line 5:")
    assert summary.counts["failed"] == 2
    run = crawl_run_row(engine, summary.crawl_run_id)
    assert run["status"] == "partial" and run["documents_failed"] == 2 and len(run["errors"]) == 3


def test_cp1252_csv_is_decoded_with_a_notice(engine, user_id, tmp_path):
    text = (
        SHARES_HEADER
        + f'2024-03-05 14:22:10,{FIRST_POST},"Caf\u00e9 culture \u2014 \u201cships\u201d fast.",,,MEMBER_NETWORK\n'
    )
    summary = import_export(
        "linkedin", _linkedin_zip(tmp_path, replace={f"{TOP}/Shares.csv": text.encode("cp1252")}), user_id, engine
    )
    assert summary.status == "succeeded"
    assert summary.notices == [f"{TOP}/Shares.csv is not UTF-8: read it as cp1252 (re-saved by a spreadsheet?)"]
    assert (
        _by_url(stored_documents(engine, user_id))[FIRST_POST]["content"]
        == "Caf\u00e9 culture \u2014 \u201cships\u201d fast."
    )


def test_a_latin1_csv_with_nul_bytes_is_cleaned_and_stored(engine, user_id, tmp_path):
    """PostgreSQL cannot store NUL: it is removed (and counted), never surfaced as a database error."""
    text = SHARES_HEADER + f'2024-03-05 14:22:10,{FIRST_POST},"Caf\u00e9\x00 cr\u00e8me\x00 ships.",,,MEMBER_NETWORK\n'
    summary = import_export(
        "linkedin", _linkedin_zip(tmp_path, replace={f"{TOP}/Shares.csv": text.encode("latin-1")}), user_id, engine
    )
    assert summary.status == "succeeded", summary.errors
    row = _by_url(stored_documents(engine, user_id))[FIRST_POST]
    assert row["content"] == "Caf\u00e9 cr\u00e8me ships."


def test_undecodable_csv_is_a_clear_error_and_the_articles_still_land(engine, user_id, tmp_path):
    garbage = SHARES_HEADER.encode() + b"2024-03-05 14:22:10,x,\x81\x8d\x8f\x90,,,\n"
    summary = import_export(
        "linkedin", _linkedin_zip(tmp_path, replace={f"{TOP}/Shares.csv": garbage}), user_id, engine
    )
    assert summary.status == "partial"
    assert summary.errors == [
        {
            "url": None,
            "error": f"{TOP}/Shares.csv: neither UTF-8 nor cp1252 text "
            "(byte 0x81 on line 2); use the file as the platform exported it",
        }
    ]
    assert sorted(_by_url(stored_documents(engine, user_id))) == sorted([BORING_ARTICLE, POSTGRES_ARTICLE])


def test_an_export_without_posts_fails_with_a_clear_error(engine, user_id, tmp_path):
    empty_profile = _linkedin_zip(
        tmp_path,
        drop=(f"{TOP}/Shares.csv",)
        + tuple(
            f"{TOP}/Articles/Articles/{path.name}"
            for path in (EXPORTS / "linkedin" / TOP / "Articles" / "Articles").iterdir()
        ),
    )
    summary = import_export("linkedin", empty_profile, user_id, engine)
    assert summary.status == "failed"
    assert summary.errors[0]["error"].startswith("no posts found in this linkedin export: expected Shares.csv")
    assert crawl_run_row(engine, summary.crawl_run_id)["error"].startswith("no posts found")

    header_only = tmp_path / "header-only"
    (header_only / "Articles" / "Articles").mkdir(parents=True)
    (header_only / "Shares.csv").write_text(SHARES_HEADER)
    assert import_export("linkedin", header_only, user_id, engine).status == "failed"
    assert stored_documents(engine, user_id) == []


def test_a_bad_article_file_among_good_ones(engine, user_id, tmp_path):
    articles = f"{TOP}/Articles/Articles"
    summary = import_export(
        "linkedin",
        _linkedin_zip(
            tmp_path,
            replace={
                f"{articles}/2024-01-10 09:12:31.0-Why boring technology wins.html": b"",
                f"{articles}/2022-01-01 10:00:00.0-No link.html": b"<html><body><h1>No link</h1><p class='published'>Published on 2022-01-01 10:00</p><p>x</p></body></html>",
            },
        ),
        user_id,
        engine,
    )
    assert summary.status == "partial"
    assert {error["url"]: error["error"] for error in summary.errors} == {
        f"{articles}/2024-01-10 09:12:31.0-Why boring technology wins.html": "empty file",
        f"{articles}/2022-01-01 10:00:00.0-No link.html": "no title link to the article's public URL",
    }
    assert (summary.counts["new"], summary.counts["failed"]) == (6, 2)
    assert POSTGRES_ARTICLE in _by_url(stored_documents(engine, user_id))


@pytest.mark.parametrize(
    "raw, expected",
    [
        ('"First line"\n""\n"He said ""ship it"""', 'First line\n\nHe said "ship it"'),
        ('"Quoted" is how I start, and how I "end"', '"Quoted" is how I start, and how I "end"'),
        ('"Stay hungry" - and "foolish"', '"Stay hungry" - and "foolish"'),
        ("plain text", "plain text"),
        ('""', ""),
    ],
)
def test_linkedin_double_quoted_commentary_is_unwrapped(raw, expected):
    assert unwrap_double_quoting(raw) == expected
