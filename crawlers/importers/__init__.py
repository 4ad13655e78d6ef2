"""Importers for the data exports people download from LinkedIn, Medium and Substack.

``import_export("linkedin", "Basic_LinkedInDataExport.zip", user_id)`` reads the archive safely
(:mod:`crawlers.importers.archives`), parses the platform's files and stores each post or article
through :class:`twin.core.raw.CrawlRun`: one crawl run per import, append-only versions, so importing the
same export again writes nothing new. A whole-archive error (corrupt, encrypted, hostile) fails the
run with that error; a bad item is recorded and the rest still land.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

import sqlalchemy as sa

from crawlers.importers import linkedin, medium, substack
from crawlers.importers.archives import ArchiveError, ArchiveLimits, UnsafeArchive, open_export
from crawlers.importers.parsing import ExportFormatError
from crawlers.importers.plan import Entry, ExportFormat, Notice, Problem, Skipped
from twin.core.raw import CrawlRun

EXPORT_FORMATS: dict[str, ExportFormat] = {
    "linkedin": linkedin.FORMAT,
    "medium": medium.FORMAT,
    "substack": substack.FORMAT,
}

Progress = Callable[[int, int, str], None]  # (done, total, label of the item just handled)


@dataclass
class ImportSummary:
    crawl_run_id: uuid.UUID
    status: str  # succeeded | partial | failed (as in raw.crawl_runs)
    counts: dict[str, int]  # seen, new, changed, unchanged, skipped, failed
    errors: list[dict]  # [{"url": label or None, "error": message}]
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    notices: list[str] = field(default_factory=list)


def import_export(
    kind: str,
    path: str | os.PathLike | bytes | BinaryIO,
    user_id: int,
    engine: sa.Engine | None = None,
    *,
    limits: ArchiveLimits | None = None,
    progress: Progress | None = None,
    source: str | None = None,
    **options,
) -> ImportSummary:
    """Import one export (a zip path, an extracted folder, or the zip's bytes / file object) for ``user_id``.
    ``source`` names the crawl run (default ``<kind>-export``; an uploaded archive's run names its upload)."""
    if kind not in EXPORT_FORMATS:
        raise ValueError(f"unknown export {kind!r} (expected one of {', '.join(EXPORT_FORMATS)})")
    export_format = EXPORT_FORMATS[kind]
    unknown = sorted(set(options) - set(export_format.options))
    if unknown:
        raise TypeError(f"{kind} import takes no option(s) {', '.join(unknown)}")
    if engine is None:
        from twin.core.db import get_engine

        engine = get_engine()

    skipped: Counter[str] = Counter()
    notices: list[str] = []
    with CrawlRun(engine, user_id, source or f"{kind}-export", export_format.platform) as run:
        try:
            with open_export(path, limits) as archive:
                planned = list(export_format.plan(archive, **{k: v for k, v in options.items() if v is not None}))
                if not any(isinstance(item, (Entry, Problem)) for item in planned):
                    run.fail(None, f"no posts found in this {kind} export: expected {export_format.expected}")
                for done, item in enumerate(planned, 1):
                    _handle(item, run, skipped, notices)
                    if progress is not None:
                        progress(done, len(planned), getattr(item, "label", None) or "")
        except (ArchiveError, ExportFormatError) as exc:
            run.fail(None, str(exc))
    counts = run.counts
    return ImportSummary(
        crawl_run_id=run.crawl_run_id,
        status=run.status,
        counts={
            "seen": counts.seen,
            "new": counts.new,
            "changed": counts.changed,
            "unchanged": counts.unchanged,
            "skipped": sum(skipped.values()),
            "failed": counts.failed,
        },
        errors=list(counts.errors),
        skipped=dict(skipped),
        notices=notices,
    )


def _handle(item, run: CrawlRun, skipped: Counter, notices: list[str]) -> None:
    if isinstance(item, Notice):
        notices.append(item.message)
    elif isinstance(item, Problem):
        run.fail(item.label, item.error)
    else:
        try:
            loaded = item.load()
        except UnsafeArchive:
            raise  # a hostile archive stops the whole import
        except (ExportFormatError, ArchiveError) as exc:
            run.fail(item.label, str(exc).removeprefix(f"{item.label}: "))  # the row already names the file
            return
        except Exception as exc:  # untrusted input: an unforeseen parse failure loses this item only
            run.fail(item.label, f"{type(exc).__name__}: {exc}")
            return
        if isinstance(loaded, Skipped):
            skipped[loaded.reason] += 1
        else:
            run.store(loaded)


__all__ = ["EXPORT_FORMATS", "ArchiveError", "ArchiveLimits", "ImportSummary", "import_export", "open_export"]
