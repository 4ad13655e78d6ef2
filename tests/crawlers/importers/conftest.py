"""Export importer tests: realistic exports under tests/crawlers/fixtures/exports, zipped per test."""

from __future__ import annotations

import random
import shutil
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from twin.core.tables import crawl_runs, documents

EXPORTS = Path(__file__).resolve().parent.parent / "fixtures" / "exports"


def zip_export(
    source: Path, target: Path, *, replace: dict[str, bytes] | None = None, drop: tuple[str, ...] = ()
) -> Path:
    """Zip ``source`` the way the platforms do (deflated, relative paths); ``replace`` swaps a member's bytes."""
    replace = dict(replace or {})
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(source.rglob("*")):
            name = path.relative_to(source).as_posix()
            if path.is_file() and name not in drop:
                archive.writestr(name, replace.pop(name) if name in replace else path.read_bytes())
        for name, data in replace.items():
            archive.writestr(name, data)
    return target


def copy_export(kind: str, target: Path) -> Path:
    """A writable copy of a fixture export folder, for tests that edit a file."""
    return Path(shutil.copytree(EXPORTS / kind, target))


@pytest.fixture
def user_id() -> int:
    return random.randint(10**9, 2 * 10**9)


def stored_documents(engine, user_id: int) -> list[dict]:
    with engine.connect() as conn:
        return [
            dict(row)
            for row in conn.execute(
                sa.select(documents)
                .where(documents.c.user_id == user_id)
                .order_by(documents.c.source_url, documents.c.fetched_at)
            ).mappings()
        ]


def crawl_run_row(engine, crawl_run_id) -> dict:
    with engine.connect() as conn:
        return dict(
            conn.execute(sa.select(crawl_runs).where(crawl_runs.c.crawl_run_id == crawl_run_id)).mappings().one()
        )
