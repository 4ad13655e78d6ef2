"""The steps of the collection pipeline, as the ``twin_collect`` DAG runs them.

Plain functions with JSON-able inputs and outputs, so Airflow tasks stay one-liners and the same
steps can be called directly (the Airflow overhead benchmark does). Every step is idempotent: a
crawl appends only changed versions, dbt's chunk model is incremental, and embedding skips chunks
that already have a vector.
"""

from __future__ import annotations

from dataclasses import asdict

from twin.core.db import get_engine
from twin.core.settings import get_settings
from twin.core.sources import active_sources


class SourceFailed(RuntimeError):
    """A source could not be collected at all; its crawl run in raw.crawl_runs holds the details."""


def sources_to_collect(user_id: int | None = None) -> list[dict]:
    """The active sources of one user, or of every user with sources. Runs that a killed process or a
    database restart left ``running`` are closed as interrupted first."""
    from twin.core.raw import abandon_interrupted_runs

    abandon_interrupted_runs(get_engine(), user_id=user_id)
    with get_engine().connect() as conn:
        return [source.as_dict() for source in active_sources(conn, user_id)]


def collect_source(source: dict, since: str | None = None, until: str | None = None) -> dict:
    """Crawl one source in its own process; raise :class:`SourceFailed` when nothing could be collected.
    ``since``/``until``: a scheduled or backfill run's data interval (only what was published in it)."""
    from crawlers.run import crawl

    summary = crawl(int(source["user_id"]), source["url"], source["platform"], since=since, until=until)
    if not summary.ok:
        reasons = "; ".join(error["error"] for error in summary.errors[:3]) or "no reason recorded"
        raise SourceFailed(
            f"{source['platform']} source {source['url']} failed: {reasons} (crawl run {summary.crawl_run_id})"
        )
    return asdict(summary)


def build_marts() -> dict:
    """``dbt build`` over everything collected (incremental; stops on a failing dbt test)."""
    from twin.core.transform import transform

    return {"summary": transform().summary()}


def embed_new_chunks() -> dict:
    """Embed the chunks that have no vector for the configured model yet."""
    from twin.core.embed import embed_chunks

    return asdict(embed_chunks(get_engine(), get_settings().embedding_model))


class ImportFailed(RuntimeError):
    """An uploaded archive could not be imported (damaged, unsafe, not the export it claims to be):
    retrying will not help; its crawl run in raw.crawl_runs holds the reason, the archive is kept."""


def import_upload(upload_id: int, user_id: int, kind: str, archive: str, publication_url: str | None = None) -> dict:
    """Import one uploaded export (``twin_import``); its archive is deleted once imported, kept when the
    import failed. Raises :class:`ImportFailed` for an archive that cannot be imported."""
    from crawlers.importers import import_export
    from crawlers.importers.archives import ArchiveLimits
    from twin.core.uploads import archive_path, run_source

    settings = get_settings()
    path = archive_path(settings, user_id, archive)
    if not path.is_file():
        raise ImportFailed(
            f"the uploaded archive is gone (imported already, or removed after "
            f"{settings.upload_retention_days} days): upload the export again"
        )
    options = {"publication_url": publication_url} if kind == "substack" and publication_url else {}
    summary = import_export(
        kind,
        path,
        int(user_id),
        get_engine(),
        limits=ArchiveLimits.from_settings(settings),
        source=run_source(kind, upload_id),
        **options,
    )
    if summary.status == "failed":
        reasons = "; ".join(error["error"] for error in summary.errors[:3]) or "no reason recorded"
        raise ImportFailed(f"the {kind} export could not be imported: {reasons} (crawl run {summary.crawl_run_id})")
    path.unlink(missing_ok=True)
    return {**asdict(summary), "crawl_run_id": str(summary.crawl_run_id)}


def remove_expired_uploads() -> dict:
    """Delete uploaded archives older than TWIN_UPLOAD_RETENTION_DAYS."""
    from twin.core.uploads import remove_expired

    return {"removed": len(remove_expired(get_settings()))}
