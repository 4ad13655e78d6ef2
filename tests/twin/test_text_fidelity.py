"""Indentation, code, nested lists and blank lines survive importers, crawlers' HTML conversion and
dbt's cleaning into marts.documents (a post with pasted code, a Medium story with a code block)."""

from __future__ import annotations

import csv
import io
import random

import pytest
import sqlalchemy as sa

from crawlers.importers import import_export
from tests.crawlers.importers.conftest import EXPORTS, zip_export
from tests.crawlers.importers.test_linkedin import SHARES_HEADER, TOP
from twin.core.transform import transform

pytestmark = pytest.mark.slow
CODE_POST_URL = "https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A7999000000000000001"
CODE_POST = (
    "The retry helper that ended our 3 a.m. pages:\n"
    "\n"
    "def retry(call, attempts=3):\n"
    "    for n in range(attempts):\n"
    "        # back off, then try again\n"
    "        try:\n"
    "            return call()\n"
    "        except TimeoutError:\n"
    "            time.sleep(2 ** n)\n"
    "\n"
    "\n"
    "\n"
    "What it taught us:\n"
    "- keep helpers small\n"
    "  - one function\n"
    "  - one test\n"
    "- ship it\n"
    "\n"
    "#python #oncall"
)


def _shares_csv() -> bytes:
    buffer = io.StringIO()
    buffer.write(SHARES_HEADER)
    csv.writer(buffer, lineterminator="\n").writerow(
        ["2024-03-05 14:22:10", CODE_POST_URL, CODE_POST, "", "", "MEMBER_NETWORK"]
    )
    return buffer.getvalue().encode()


def test_code_lists_and_blank_lines_reach_marts_documents(engine, database_url, tmp_path):
    user_id = random.randint(10**9, 2 * 10**9)
    linkedin = zip_export(EXPORTS / "linkedin", tmp_path / "linkedin.zip", replace={f"{TOP}/Shares.csv": _shares_csv()})
    medium = zip_export(EXPORTS / "medium", tmp_path / "medium.zip")
    assert import_export("linkedin", linkedin, user_id, engine).status == "succeeded"
    assert import_export("medium", medium, user_id, engine).status in ("succeeded", "partial")
    with engine.connect() as conn:
        raw = conn.execute(
            sa.text("select content from raw.documents where user_id = :u and source_url = :url"),
            {"u": user_id, "url": CODE_POST_URL},
        ).scalar()
    expected = CODE_POST.replace("\n\n\n\n", "\n\n")  # at most one blank line
    assert raw == expected, "the importer keeps indentation, list nesting and blank lines"

    assert transform(database_url).failures == []
    with engine.connect() as conn:
        texts = dict(
            conn.execute(
                sa.text("select source_url, text from marts.documents where user_id = :u"), {"u": user_id}
            ).all()
        )
    assert texts[CODE_POST_URL] == expected
    story = next(text for url, text in texts.items() if "why-your-rag-pipeline-needs-boring-postgres" in url)
    assert "create index on chunks\n  using hnsw (embedding vector_cosine_ops);" in story, "code keeps its indent"
    assert "- One backup\n- One permission model" in story
