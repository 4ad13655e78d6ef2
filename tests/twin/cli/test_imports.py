"""``twin import linkedin|medium|substack PATH --user EMAIL`` in a real process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.crawlers.importers.conftest import EXPORTS, crawl_run_row, stored_documents, zip_export
from twin.core.users import user_id_for_email


def _twin(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twin", *args],
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_import_a_linkedin_export_for_a_user_then_reimport(engine, unique_email, tmp_path):
    created = _twin("user", "create", unique_email, "--password", "long enough pw")
    assert created.returncode == 0, created.stderr
    with engine.connect() as conn:
        user_id = user_id_for_email(conn, unique_email)
    export = zip_export(EXPORTS / "linkedin", tmp_path / "Basic_LinkedInDataExport_03-05-2024.zip")

    first = _twin("import", "linkedin", str(export), "--user", unique_email)

    assert first.returncode == 0, first.stderr
    assert "linkedin export: succeeded (7 new, 0 changed, 0 unchanged, 2 skipped, 0 failed)" in first.stderr
    assert "skipped 1: repost without commentary" in first.stderr
    assert "skipped 1: unpublished article draft" in first.stderr
    assert "Traceback" not in first.stderr
    rows = stored_documents(engine, user_id)
    assert len(rows) == 7 and {row["platform"] for row in rows} == {"linkedin"}
    crawl_run_id = first.stderr.split("crawl run ")[1].split()[0]
    assert crawl_run_row(engine, crawl_run_id)["status"] == "succeeded"

    again = _twin("import", "linkedin", str(export), "--user", unique_email)
    assert again.returncode == 0
    assert "linkedin export: succeeded (0 new, 0 changed, 7 unchanged, 2 skipped, 0 failed)" in again.stderr
    assert len(stored_documents(engine, user_id)) == 7


@pytest.mark.slow
def test_import_errors_are_readable(engine, unique_email, tmp_path):
    unknown = _twin("import", "medium", str(EXPORTS / "medium"), "--user", unique_email)
    assert unknown.returncode == 1
    assert f"no user with email {unique_email}: create one with `twin user create {unique_email}`" in unknown.stderr

    assert _twin("user", "create", unique_email, "--password", "long enough pw").returncode == 0
    one_bad = zip_export(
        EXPORTS / "medium", tmp_path / "one-bad.zip", replace={"posts/2024-01-01_x.html": b"<p>not a story</p>"}
    )
    partial = _twin("import", "medium", str(one_bad), "--user", unique_email)
    assert partial.returncode == 0
    assert "medium export: partial (3 new, 0 changed, 0 unchanged, 2 skipped, 1 failed)" in partial.stderr
    assert (
        "error: posts/2024-01-01_x.html: no story body (section[data-field=body]); not a Medium post file"
        in partial.stderr
    )

    truncated = tmp_path / "medium-export.zip"
    truncated.write_bytes(zip_export(EXPORTS / "medium", tmp_path / "full.zip").read_bytes()[:-100])
    failed = _twin("import", "medium", str(truncated), "--user", unique_email)
    assert failed.returncode == 1
    assert "medium export: failed" in failed.stderr
    assert "medium-export.zip is not a readable zip file" in failed.stderr
    assert "Traceback" not in failed.stderr

    missing = _twin("import", "substack", str(tmp_path / "nope.zip"), "--user", unique_email)
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_every_import_command_has_help():
    for command in ([], ["linkedin"], ["medium"], ["substack"]):
        result = _twin("import", *command, "--help")
        assert result.returncode == 0, result.stderr
        assert "Usage:" in result.stdout
    assert "--publication-url" in _twin("import", "substack", "--help").stdout
