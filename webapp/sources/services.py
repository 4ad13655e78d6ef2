"""Writes for sources and export uploads."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import close_old_connections, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from webapp.sources.models import Source, Upload
from webapp.sources.normalise import normalise_source

log = logging.getLogger(__name__)
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def _allow_private() -> bool:
    from twin.settings import get_settings

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


@transaction.atomic
def source_create(*, user, platform: str, url: str, is_active: bool = True) -> Source:
    platform, url = _normalised(platform, url)
    _check_unique(user, platform, url)
    source = Source(user=user, platform=platform, url=url, is_active=is_active)
    source.full_clean(exclude=["url"])  # the URL is already validated (URLField refuses e.g. localhost test URLs)
    source.save()
    return source


@transaction.atomic
def source_update(*, source: Source, platform: str, url: str, is_active: bool) -> Source:
    platform, url = _normalised(platform, url)
    _check_unique(source.user, platform, url, exclude_id=source.pk)
    source.platform, source.url, source.is_active = platform, url, is_active
    source.full_clean(exclude=["url"])
    source.save()
    return source


def source_delete(*, source: Source) -> None:
    source.delete()


# --- uploads ------------------------------------------------------------------------------------


def upload_dir(user_id: int) -> Path:
    folder = Path(settings.TWIN_UPLOAD_DIR) / str(int(user_id))
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def upload_create(*, user, kind: str, fileobj, name: str, size: int, publication_url: str = "") -> Upload:
    """Validate an uploaded export and store it; the import starts after the transaction commits."""
    limit = settings.TWIN_IMPORT_MAX_BYTES
    if kind not in Upload.Kind.values:
        raise ValidationError({"kind": "Choose which platform the export is from."})
    if size > limit:
        raise ValidationError({"file": f"The file is {filesizeformat(size)}; the limit is {filesizeformat(limit)}."},
                              code="too_large")
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

    path = upload_dir(user.pk) / f"{uuid.uuid4().hex}.zip"
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
        upload = Upload.objects.create(user=user, kind=kind, original_name=safe_name, stored_path=str(path),
                                       size=written, publication_url=publication_url)
        if settings.TWIN_IMPORT_IN_BACKGROUND:
            transaction.on_commit(lambda: upload_import_in_background(upload.pk))
    return upload


def upload_import(upload: Upload) -> Upload:
    """Import one stored export now (in this thread) and record the outcome."""
    from crawlers.importers import import_export
    from crawlers.importers.archives import ArchiveLimits
    from twin.db import get_engine
    from twin.settings import get_settings

    upload.status, upload.started_at, upload.error = Upload.Status.IMPORTING, timezone.now(), ""
    upload.save(update_fields=["status", "started_at", "error"])
    options = {"publication_url": upload.publication_url or None} if upload.kind == Upload.Kind.SUBSTACK else {}
    try:
        summary = import_export(upload.kind, upload.stored_path, upload.user_id, get_engine(),
                                limits=ArchiveLimits.from_settings(get_settings()), **options)
    except Exception as exc:  # noqa: BLE001 - any failure is the upload's outcome, shown to the user
        log.exception("import of upload %s failed", upload.pk)
        upload.status, upload.error = Upload.Status.FAILED, f"{exc.__class__.__name__}: {exc}"
    else:
        upload.status = summary.status
        upload.crawl_run_id = summary.crawl_run_id
        upload.counts = dict(summary.counts)
        upload.errors = list(summary.errors)[:100]
        upload.skipped = dict(summary.skipped)
        upload.notices = list(summary.notices)
        if summary.status == "failed" and summary.errors:
            upload.error = summary.errors[0].get("error", "")
    upload.finished_at = timezone.now()
    upload.save()
    return upload


def upload_import_by_id(upload_id: int) -> Upload | None:
    upload = Upload.objects.filter(pk=upload_id, status=Upload.Status.PENDING).first()
    return upload_import(upload) if upload is not None else None


def _import_thread(upload_id: int) -> None:
    close_old_connections()
    try:
        upload_import_by_id(upload_id)
    except Exception:  # noqa: BLE001
        log.exception("background import of upload %s crashed", upload_id)
    finally:
        close_old_connections()
        from django.db import connection

        connection.close()


def upload_import_in_background(upload_id: int) -> threading.Thread:
    thread = threading.Thread(target=_import_thread, args=(upload_id,), name=f"import-upload-{upload_id}", daemon=True)
    thread.start()
    return thread


def upload_delete(*, upload: Upload) -> None:
    """Remove the stored archive and the record (collected documents stay in the library)."""
    Path(upload.stored_path).unlink(missing_ok=True)
    upload.delete()
