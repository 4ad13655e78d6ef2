"""Writing collected documents into ``raw.*``: append-only versions and one crawl run per source.

A version is appended only when its content hash differs from the latest version of that URL for
that user, so re-running a crawl writes nothing new. Each document is committed on its own, so one
bad item never loses the others; the crawl run row records what happened.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import sqlalchemy as sa

from twin.core.tables import crawl_runs, documents
from twin.core.vocabulary import KINDS, PLATFORMS

Outcome = Literal["new", "changed", "unchanged"]
OWN_WRITING_KINDS = ("post", "article", "repository_file")
MAX_ERRORS_KEPT = 200


class InvalidDocument(ValueError):
    pass


@dataclass
class DocumentRecord:
    """One collected item, ready to store. ``source_url`` is the canonical public URL (what the twin cites)."""

    platform: str
    kind: str
    source_url: str
    content: str
    title: str | None = None
    published_at: datetime | None = None
    metadata: dict = field(default_factory=dict)
    is_own_writing: bool | None = None

    def __post_init__(self) -> None:
        # NUL (and the other C0 controls but tab and newlines) cannot be stored by PostgreSQL's text
        # or JSONB and mean nothing in prose: a file exported with them is cleaned, not refused
        self.content, removed = strip_control_characters(self.content)
        if self.title is not None:
            self.title, _ = strip_control_characters(self.title)
        self.metadata = _clean_metadata(self.metadata)
        if removed:
            self.metadata["removed_control_characters"] = removed

    def validate(self) -> None:
        if self.platform not in PLATFORMS:
            raise InvalidDocument(f"unknown platform {self.platform!r} (expected one of {', '.join(PLATFORMS)})")
        if self.kind not in KINDS:
            raise InvalidDocument(f"unknown kind {self.kind!r} (expected one of {', '.join(KINDS)})")
        if not self.source_url.startswith(("http://", "https://")):
            raise InvalidDocument(f"source_url must be an http(s) URL, got {self.source_url!r}")
        if not self.content or not self.content.strip():
            raise InvalidDocument(f"{self.source_url}: empty content")

    @property
    def own_writing(self) -> bool:
        """The user's own writing (style and training data) versus knowledge they supplied (links, papers)."""
        if self.is_own_writing is not None:
            return self.is_own_writing
        return self.kind in OWN_WRITING_KINDS and self.platform != "web"


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def strip_control_characters(text: str) -> tuple[str, int]:
    """``text`` without NUL and the other C0 control characters (tab, newline, return kept)."""
    if not isinstance(text, str):
        return text, 0
    return CONTROL_CHARACTERS.subn("", text)


def _clean_metadata(value):
    if isinstance(value, str):
        return strip_control_characters(value)[0]
    if isinstance(value, dict):
        return {strip_control_characters(str(key))[0]: _clean_metadata(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean_metadata(item) for item in value]
    return value


def content_hash(record: DocumentRecord) -> str:
    return hashlib.sha256(f"{record.title or ''}\n\n{record.content}".encode()).hexdigest()


def version_id(user_id: int, source_url: str, digest: str, previous_version_id: str | None) -> str:
    """Stable per history: a revert to older text (A, B, A) still gets an id of its own."""
    return hashlib.sha256(f"{user_id}|{source_url}|{digest}|{previous_version_id or ''}".encode()).hexdigest()


def record_document(conn: sa.Connection, user_id: int, crawl_run_id: uuid.UUID, record: DocumentRecord) -> Outcome:
    """Append ``record`` as a new version unless the URL's latest version has the same hash."""
    record.validate()
    digest = content_hash(record)
    conn.execute(
        sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"{user_id}|{record.source_url}", 0)))
    )
    latest = conn.execute(
        sa.select(
            documents.c.document_version_id, documents.c.content_hash, documents.c.platform, documents.c.is_own_writing
        )
        .where(documents.c.user_id == user_id, documents.c.source_url == record.source_url)
        .order_by(documents.c.fetched_at.desc(), documents.c.document_version_id)
        .limit(1)
    ).first()
    if latest is not None and (latest.platform, latest.is_own_writing) != (record.platform, record.own_writing):
        # a page's rel=canonical (or a redirect) naming a URL already stored from another source must
        # not replace that document, nor turn shared material into the user's own writing or back
        stored_as = "the user's own writing" if latest.is_own_writing else "material the user shared"
        raise InvalidDocument(
            f"{record.source_url} is already stored from {latest.platform} as {stored_as}; "
            f"a {record.platform} {record.kind} does not replace it"
        )
    if latest is not None and latest.content_hash == digest:
        return "unchanged"
    conn.execute(
        documents.insert().values(
            document_version_id=version_id(
                user_id, record.source_url, digest, latest.document_version_id if latest else None
            ),
            user_id=user_id,
            platform=record.platform,
            kind=record.kind,
            source_url=record.source_url,
            title=record.title,
            content=record.content,
            published_at=record.published_at,
            metadata=record.metadata,
            content_hash=digest,
            is_own_writing=record.own_writing,
            crawl_run_id=crawl_run_id,
            fetched_at=sa.func.clock_timestamp(),
        )
    )
    return "changed" if latest is not None else "new"


@dataclass
class CrawlCounts:
    seen: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[dict] = field(default_factory=list)


class CrawlRun:
    """Records one source's crawl: ``with CrawlRun(engine, user_id, source, platform) as run: run.store(doc)``.

    The run row is committed at the start (visible while running) and finished at the end with
    status ``succeeded``, ``partial`` (some items failed), or ``failed`` (nothing stored and an
    error, or an exception escaped).
    """

    def __init__(
        self, engine: sa.Engine, user_id: int, source: str, platform: str, *, crawl_run_id: uuid.UUID | None = None
    ):
        if platform not in PLATFORMS:
            raise InvalidDocument(f"unknown platform {platform!r}")
        self.engine = engine
        self.user_id = user_id
        self.source = source
        self.platform = platform
        self.crawl_run_id = crawl_run_id or uuid.uuid4()
        self.counts = CrawlCounts()
        self.status: str = "running"

    def __enter__(self) -> CrawlRun:
        # Held on its own connection for the whole run: the run is "live" exactly while this lock is
        # held, so a run left `running` by a killed process or a database restart is recognisable.
        self._lock = self.engine.connect()
        try:
            self._lock.execute(sa.select(sa.func.pg_advisory_lock(_run_lock_key(self.crawl_run_id))))
            self._lock.commit()
            abandon_interrupted_runs(self.engine, user_id=self.user_id, source=self.source)
            with self.engine.begin() as conn:
                conn.execute(
                    crawl_runs.insert().values(
                        crawl_run_id=self.crawl_run_id,
                        user_id=self.user_id,
                        source=self.source,
                        platform=self.platform,
                    )
                )
        except BaseException:
            self._release()
            raise
        return self

    def _release(self) -> None:
        lock, self._lock = getattr(self, "_lock", None), None
        if lock is not None:
            try:
                lock.close()  # ends the session: the advisory lock goes with it
            except sa.exc.SQLAlchemyError:
                lock.invalidate()

    def store(self, record: DocumentRecord) -> Outcome | None:
        """Store one document in its own transaction; a bad one is counted as failed, not raised."""
        self.counts.seen += 1
        try:
            with self.engine.begin() as conn:
                outcome = record_document(conn, self.user_id, self.crawl_run_id, record)
        except (InvalidDocument, sa.exc.DataError, sa.exc.IntegrityError) as exc:
            self.fail(record.source_url, str(exc).splitlines()[0], counted_as_seen=True)
            return None
        setattr(self.counts, outcome, getattr(self.counts, outcome) + 1)
        return outcome

    def fail(self, url: str | None, error: str, *, counted_as_seen: bool = False) -> None:
        """Record an item (or the whole source, ``url=None``) that could not be collected."""
        if not counted_as_seen and url is not None:
            self.counts.seen += 1
        if url is not None:
            self.counts.failed += 1
        if len(self.counts.errors) < MAX_ERRORS_KEPT:
            self.counts.errors.append({"url": url, "error": error})

    def __exit__(self, exc_type, exc, tb) -> None:
        stored = self.counts.new + self.counts.changed + self.counts.unchanged
        if exc is not None:
            self.fail(None, f"{exc_type.__name__}: {exc}")
            self.status = "failed"
        elif self.counts.errors and stored == 0:
            self.status = "failed"
        elif self.counts.errors:
            self.status = "partial"
        else:
            self.status = "succeeded"
        summary = "; ".join(
            e["error"] if e["url"] is None else f"{e['url']}: {e['error']}" for e in self.counts.errors[:5]
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    crawl_runs.update()
                    .where(crawl_runs.c.crawl_run_id == self.crawl_run_id)
                    .values(
                        finished_at=sa.func.clock_timestamp(),
                        status=self.status,
                        documents_seen=self.counts.seen,
                        documents_new=self.counts.new,
                        documents_changed=self.counts.changed,
                        documents_unchanged=self.counts.unchanged,
                        documents_failed=self.counts.failed,
                        errors=self.counts.errors,
                        error=summary or None,
                    )
                )
        finally:
            self._release()


INTERRUPTED = (
    "interrupted: the crawl's process or the database stopped before it finished (a later run collects what it missed)"
)


def _run_lock_key(crawl_run_id: uuid.UUID):
    return sa.func.hashtextextended(f"twin crawl run {crawl_run_id}", 0)


def abandon_interrupted_runs(
    engine: sa.Engine, *, user_id: int | None = None, source: str | None = None
) -> list[uuid.UUID]:
    """Mark ``running`` runs that nothing holds any more (their process was killed, or the database
    restarted under them) as failed with the reason; a live run's lock makes it skipped."""
    query = sa.select(crawl_runs.c.crawl_run_id).where(crawl_runs.c.status == "running")
    if user_id is not None:
        query = query.where(crawl_runs.c.user_id == user_id)
    if source is not None:
        query = query.where(crawl_runs.c.source == source)
    abandoned = []
    with engine.connect() as conn:
        for crawl_run_id in conn.execute(query).scalars().all():
            if not conn.execute(sa.select(sa.func.pg_try_advisory_lock(_run_lock_key(crawl_run_id)))).scalar():
                continue  # live: its process holds the lock
            try:
                if abandon_run(engine, crawl_run_id, INTERRUPTED):
                    abandoned.append(crawl_run_id)
            finally:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(_run_lock_key(crawl_run_id))))
        conn.commit()
    return abandoned


def abandon_run(engine: sa.Engine, crawl_run_id: uuid.UUID, error: str) -> bool:
    """Mark a run whose process died or was stopped as failed; returns whether it was still running."""
    with engine.begin() as conn:
        result = conn.execute(
            crawl_runs.update()
            .where(crawl_runs.c.crawl_run_id == crawl_run_id, crawl_runs.c.status == "running")
            .values(
                status="failed",
                finished_at=sa.func.clock_timestamp(),
                error=error,
                errors=[{"url": None, "error": error}],
            )
        )
    return result.rowcount == 1
