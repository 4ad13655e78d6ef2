"""Writes for sources and export uploads."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from twin.core.uploads import new_archive_name
from twin.orchestration.airflow_client import AirflowClient, AirflowRejected, AirflowUnavailable, trigger_once
from webapp.airflow import airflow_client
from webapp.sources.models import Source, Upload
from webapp.sources.normalise import PUBLICATION_NEEDS_CONFIRMATION, is_publication, normalise_source

log = logging.getLogger(__name__)
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
IMPORT_DAG = "twin_import"
IMPORT_STATES = {
    "queued": Upload.Status.QUEUED,
    "running": Upload.Status.IMPORTING,
    "success": Upload.Status.SUCCEEDED,
    "failed": Upload.Status.FAILED,
}


def _allow_private() -> bool:
    from twin.core.settings import get_settings

    return get_settings().allow_private_urls


def _check_unique(user, platform: str, url: str, exclude_id: int | None = None) -> None:
    duplicates = Source.objects.filter(user=user, platform=platform, url=url)
    if exclude_id is not None:
        duplicates = duplicates.exclude(pk=exclude_id)
    if duplicates.exists():
        raise ValidationError({"url": ValidationError(f"You already have this source ({url}).", code="unique")})


def _normalised(platform: str, url: str) -> tuple[str, str]:
    try:
        return normalise_source(platform, url, allow_private=_allow_private())
    except ValidationError as exc:
        raise ValidationError({"url": exc.messages}) from exc


def _check_own(platform: str, url: str, confirmed_own: bool) -> None:
    if is_publication(platform, url) and not confirmed_own:
        raise ValidationError({"confirmed_own": ValidationError(PUBLICATION_NEEDS_CONFIRMATION, code="confirm_own")})


@transaction.atomic
def source_create(*, user, platform: str, url: str, is_active: bool = True, confirmed_own: bool = False) -> Source:
    platform, url = _normalised(platform, url)
    _check_unique(user, platform, url)
    _check_own(platform, url, confirmed_own)
    source = Source(user=user, platform=platform, url=url, is_active=is_active, confirmed_own=confirmed_own)
    source.full_clean(exclude=["url"])  # the URL is already validated (URLField refuses e.g. localhost test URLs)
    source.save()
    return source


@transaction.atomic
def source_update(*, source: Source, platform: str, url: str, is_active: bool, confirmed_own: bool = False) -> Source:
    platform, url = _normalised(platform, url)
    _check_unique(source.user, platform, url, exclude_id=source.pk)
    _check_own(platform, url, confirmed_own)
    source.platform, source.url, source.is_active, source.confirmed_own = platform, url, is_active, confirmed_own
    source.full_clean(exclude=["url"])
    source.save()
    return source


def links_keep(*, user, urls: list[str]) -> list[Source]:
    """Keep links pasted into a prompt as the user's web sources (material they shared, not their
    own writing), so the next collect reads them into their knowledge. Serving only reads a link for
    the request; this is where it is remembered. Links already kept (paused ones stay paused) and
    links a web source may not point at (private addresses) are skipped."""
    kept = []
    for url in urls:
        try:
            platform, canonical = normalise_source("web", url, allow_private=_allow_private())
        except ValidationError:
            continue
        source, created = Source.objects.get_or_create(user=user, platform=platform, url=canonical)
        if created:
            kept.append(source)
    return kept


def source_resume(*, user, platform: str, url: str) -> bool:
    """Make the user's existing source for ``url`` active again; returns whether it was paused."""
    platform, url = _normalised(platform, url)
    return bool(Source.objects.filter(user=user, platform=platform, url=url, is_active=False).update(is_active=True))


def sources_pause(*, user) -> int:
    """Pause every active source of ``user``; returns how many."""
    return Source.objects.filter(user=user, is_active=True).update(is_active=False)


def source_delete(*, source: Source) -> None:
    source.delete()


# --- uploads ------------------------------------------------------------------------------------


def upload_dir(user_id: int) -> Path:
    folder = Path(settings.TWIN_UPLOAD_DIR) / str(int(user_id))
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def upload_create(*, user, kind: str, fileobj, name: str, size: int, publication_url: str = "") -> Upload:
    """Validate an uploaded export and store it; once the transaction commits, the import is sent to
    Airflow (the ``twin_import`` DAG)."""
    limit = settings.TWIN_IMPORT_MAX_BYTES
    if kind not in Upload.Kind.values:
        raise ValidationError({"kind": "Choose which platform the export is from."})
    if size > limit:
        raise ValidationError(
            {"file": f"The file is {filesizeformat(size)}; the limit is {filesizeformat(limit)}."}, code="too_large"
        )
    if size == 0:
        raise ValidationError({"file": "The file is empty."}, code="empty")
    if not name.lower().endswith(".zip"):
        raise ValidationError({"file": "Upload the .zip file the platform gave you."}, code="extension")
    fileobj.seek(0)
    if fileobj.read(4) not in ZIP_MAGIC:
        raise ValidationError({"file": "This is not a zip archive; download the export again."}, code="not_zip")
    fileobj.seek(0)
    if publication_url:
        if kind != Upload.Kind.SUBSTACK:
            raise ValidationError({"publication_url": "Only Substack exports take a publication address."})
        try:
            _, publication_url = normalise_source("substack", publication_url, allow_private=_allow_private())
        except ValidationError as exc:
            raise ValidationError({"publication_url": exc.messages}) from exc

    path = upload_dir(user.pk) / new_archive_name()
    written = 0
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        for chunk in iter(lambda: fileobj.read(1 << 20), b""):
            written += len(chunk)
            if written > limit:  # the declared size lied
                out.close()
                path.unlink(missing_ok=True)
                raise ValidationError({"file": "The file is over the size limit."}, code="too_large")
            out.write(chunk)
    safe_name = Path(name).name[:255] or "export.zip"
    with transaction.atomic():
        upload = Upload.objects.create(
            user=user,
            kind=kind,
            original_name=safe_name,
            stored_path=str(path),
            size=written,
            publication_url=publication_url,
        )
        transaction.on_commit(lambda: upload_send(upload))
    return upload


def upload_send(upload: Upload, client: AirflowClient | None = None) -> Upload:
    """Trigger the upload's ``twin_import`` run (run id ``upload-<id>``: sending twice never imports
    twice). Airflow unreachable: the upload stays pending with the reason and is sent again later."""
    upload.attempts += 1
    upload.last_attempt_at = timezone.now()
    own_client = client is None
    client = client or airflow_client()
    try:
        run = trigger_once(
            client,
            IMPORT_DAG,
            {
                "upload_id": upload.pk,
                "user_id": upload.user_id,
                "kind": upload.kind,
                "archive": Path(upload.stored_path).name,
                "publication_url": upload.publication_url or None,
            },
            f"upload-{upload.pk}",
        )
    except AirflowUnavailable as exc:
        upload.status, upload.error = Upload.Status.PENDING, f"Waiting for Airflow: {exc}"
        log.warning("upload %s kept pending: %s", upload.pk, exc)
    except AirflowRejected as exc:
        upload.status, upload.error = Upload.Status.FAILED, f"Airflow refused the import: {exc}"
        upload.finished_at = timezone.now()
    else:
        upload.dag_run_id, upload.error = run.dag_run_id, ""
        upload.status = IMPORT_STATES.get(run.state, Upload.Status.QUEUED)
    finally:
        if own_client:
            client.close()
    upload.save()
    if upload.status in (Upload.Status.SUCCEEDED, Upload.Status.PARTIAL, Upload.Status.FAILED) and upload.dag_run_id:
        return upload_refresh(upload)
    return upload


def upload_refresh(upload: Upload, client: AirflowClient | None = None) -> Upload:
    """Bring an unfinished upload up to date: send it again if still pending (at most every
    TWIN_COLLECT_RETRY_AFTER_S), or read its run from Airflow and, once finished, its outcome (what
    the import task returned, or its crawl run's reason). Never raises for Airflow being down."""
    if upload.finished and upload.finished_at:
        return upload
    if upload.status == Upload.Status.PENDING or not upload.dag_run_id:
        since = timezone.now() - (upload.last_attempt_at or upload.created_at)
        if since >= timedelta(seconds=settings.TWIN_COLLECT_RETRY_AFTER_S):
            return upload_send(upload, client)
        return upload
    own_client = client is None
    client = client or airflow_client()
    try:
        run = client.get_run(IMPORT_DAG, upload.dag_run_id)
        status = IMPORT_STATES.get(run.state, upload.status)
        if status == Upload.Status.SUCCEEDED:
            _record_outcome(upload, client.return_value(IMPORT_DAG, upload.dag_run_id, "import_upload"))
        elif status == Upload.Status.FAILED:
            _record_failure(upload)
        elif status == Upload.Status.IMPORTING and upload.started_at is None:
            upload.started_at = timezone.now()
        if status != Upload.Status.SUCCEEDED:
            upload.status = status
        upload.save()
    except (AirflowUnavailable, AirflowRejected) as exc:
        log.info("upload %s: Airflow not answering (%s); showing the last known state", upload.pk, exc)
    finally:
        if own_client:
            client.close()
    return upload


def _record_outcome(upload: Upload, summary) -> None:
    summary = summary if isinstance(summary, dict) else {}
    upload.status = summary.get("status") if summary.get("status") in Upload.Status.values else Upload.Status.SUCCEEDED
    upload.crawl_run_id = summary.get("crawl_run_id") or None
    upload.counts = dict(summary.get("counts") or {})
    upload.errors = list(summary.get("errors") or [])[:100]
    upload.skipped = dict(summary.get("skipped") or {})
    upload.notices = list(summary.get("notices") or [])
    upload.error = ""
    upload.finished_at = timezone.now()


def _record_failure(upload: Upload) -> None:
    """A failed run: the reason from the import's crawl run (the archive is kept), or the run's."""
    from twin.core.uploads import run_source
    from webapp.dataplane.models import CrawlRun

    run = (
        CrawlRun.objects.filter(user_id=upload.user_id, source=run_source(upload.kind, upload.pk))
        .order_by("-started_at")
        .first()
    )
    if run is not None:
        upload.crawl_run_id = run.pk
        upload.errors = list(run.errors or [])[:100]
        upload.counts = {
            "seen": run.documents_seen,
            "new": run.documents_new,
            "changed": run.documents_changed,
            "unchanged": run.documents_unchanged,
            "failed": run.documents_failed,
        }
        upload.error = run.error or (upload.errors[0].get("error", "") if upload.errors else "")
    if not upload.error:
        upload.error = (
            f"The import run {upload.dag_run_id} failed before importing anything; "
            "see it in the Airflow UI (twin_import)."
        )
    upload.finished_at = timezone.now()


def retry_pending_uploads() -> list[Upload]:
    """Send every upload still waiting for Airflow (the ``retry_pending_collections`` command)."""
    with airflow_client() as client:
        return [
            upload_send(upload, client)
            for upload in Upload.objects.filter(status=Upload.Status.PENDING).order_by("created_at")
        ]


def upload_delete(*, upload: Upload) -> None:
    """Remove the stored archive and the record (collected documents stay in the library)."""
    Path(upload.stored_path).unlink(missing_ok=True)
    upload.delete()
