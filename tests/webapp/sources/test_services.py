import io
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from webapp.sources import services
from webapp.sources.models import Source, Upload

EXPORTS = Path(__file__).resolve().parents[2] / "crawlers" / "fixtures" / "exports"


def export_zip(kind: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((EXPORTS / kind).rglob("*")):
            if path.is_file():
                archive.writestr(path.relative_to(EXPORTS / kind).as_posix(), path.read_bytes())
    return buffer.getvalue()


def test_create_normalises_and_refuses_duplicates(user):
    source = services.source_create(user=user, platform="auto", url="https://medium.com/@Ada?source=rss")
    assert (source.platform, source.url, source.is_active) == ("medium", "https://medium.com/@ada", True)
    with pytest.raises(ValidationError) as excinfo:
        services.source_create(user=user, platform="medium", url="@ada")
    assert "already have this source" in str(excinfo.value.message_dict["url"])


def test_same_source_for_two_users_is_fine(user, other_user):
    services.source_create(user=user, platform="github", url="ada")
    services.source_create(user=other_user, platform="github", url="ada")
    assert Source.objects.filter(url="https://github.com/ada").count() == 2


def test_update_revalidates_and_keeps_uniqueness(user):
    first = services.source_create(user=user, platform="github", url="ada")
    second = services.source_create(user=user, platform="github", url="grace")
    with pytest.raises(ValidationError):
        services.source_update(source=second, platform="github", url="https://github.com/ada", is_active=True)
    updated = services.source_update(source=first, platform="substack", url="ada.substack.com/p/x", is_active=False)
    assert (updated.platform, updated.url, updated.is_active) == ("substack", "https://ada.substack.com", False)
    with pytest.raises(ValidationError):
        services.source_update(source=first, platform="linkedin", url="https://example.com", is_active=True)


def test_upload_is_stored_privately_and_imported(user, upload_dir, engine):
    data = export_zip("linkedin")
    upload = services.upload_create(user=user, kind="linkedin", fileobj=io.BytesIO(data),
                                    name="../../Basic_LinkedInDataExport.zip", size=len(data))
    stored = Path(upload.stored_path)
    assert stored.parent == upload_dir / str(user.pk) and stored.read_bytes() == data
    assert stored.stat().st_mode & 0o777 == 0o600
    assert upload.original_name == "Basic_LinkedInDataExport.zip" and upload.status == "pending"

    upload = services.upload_import(upload)
    assert upload.status in ("succeeded", "partial"), upload.error
    assert upload.counts["new"] >= 2 and upload.crawl_run_id is not None and upload.finished_at
    from webapp.dataplane.models import CrawlRun, RawDocument

    assert RawDocument.objects.filter(user_id=user.pk, platform="linkedin").count() == upload.counts["new"]
    assert CrawlRun.objects.get(pk=upload.crawl_run_id).source == "linkedin-export"

    services.upload_delete(upload=upload)
    assert not stored.exists() and not Upload.objects.filter(pk=upload.pk).exists()


def test_broken_archive_fails_the_import_with_the_reason(user, upload_dir):
    data = b"PK\x03\x04" + b"garbage" * 100
    upload = services.upload_create(user=user, kind="medium", fileobj=io.BytesIO(data), name="medium.zip", size=len(data))
    upload = services.upload_import(upload)
    assert upload.status == "failed" and "download the export again" in upload.error.lower()


@pytest.mark.parametrize("name, data, size, message", [
    ("export.zip", b"PK\x03\x04" + b"x" * 5000, 5004, "limit"),
    ("export.zip", b"", 0, "empty"),
    ("export.tar.gz", b"PK\x03\x04xxxx", 8, ".zip"),
    ("export.zip", b"<html>not a zip</html>", 22, "not a zip"),
])
def test_upload_validation(user, upload_dir, settings, name, data, size, message):
    settings.TWIN_IMPORT_MAX_BYTES = 4096
    with pytest.raises(ValidationError, match=message):
        services.upload_create(user=user, kind="linkedin", fileobj=io.BytesIO(data), name=name, size=size)
    assert not any(Path(upload_dir).rglob("*.zip"))


def test_publication_url_only_for_substack(user, upload_dir):
    data = export_zip("substack")
    with pytest.raises(ValidationError, match="Only Substack"):
        services.upload_create(user=user, kind="medium", fileobj=io.BytesIO(data), name="x.zip", size=len(data),
                               publication_url="https://ada.substack.com")
    upload = services.upload_create(user=user, kind="substack", fileobj=io.BytesIO(data), name="x.zip", size=len(data),
                                    publication_url="ada.substack.com/p/hello")
    assert upload.publication_url == "https://ada.substack.com"


def test_background_import_runs_after_commit(user, upload_dir, settings, django_capture_on_commit_callbacks, monkeypatch):
    settings.TWIN_IMPORT_IN_BACKGROUND = True
    started = []
    monkeypatch.setattr(services, "upload_import_in_background", started.append)
    data = export_zip("medium")
    with django_capture_on_commit_callbacks(execute=True):
        upload = services.upload_create(user=user, kind="medium", fileobj=io.BytesIO(data), name="m.zip", size=len(data))
    assert started == [upload.pk]
