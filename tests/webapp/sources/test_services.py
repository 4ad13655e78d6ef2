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
    updated = services.source_update(
        source=first, platform="substack", url="ada.substack.com/p/x", is_active=False, confirmed_own=True
    )
    assert (updated.platform, updated.url, updated.is_active) == ("substack", "https://ada.substack.com", False)
    with pytest.raises(ValidationError):
        services.source_update(source=first, platform="linkedin", url="https://example.com", is_active=True)


@pytest.mark.parametrize(
    "platform, url",
    [
        ("substack", "ada.substack.com"),
        ("medium", "https://medium.com/better-programming"),
        ("medium", "https://ada.medium.com"),
    ],
)
def test_a_publication_needs_the_user_to_confirm_it_is_only_their_writing(user, platform, url):
    with pytest.raises(ValidationError) as excinfo:
        services.source_create(user=user, platform=platform, url=url)
    assert "other people's posts" in excinfo.value.message_dict["confirmed_own"][0]
    assert not Source.objects.filter(user=user).exists()
    source = services.source_create(user=user, platform=platform, url=url, confirmed_own=True)
    assert source.confirmed_own
    with pytest.raises(ValidationError):
        services.source_update(source=source, platform=platform, url=url, is_active=True, confirmed_own=False)
    assert services.source_create(user=user, platform="medium", url="@ada").confirmed_own is False  # a profile is yours


class FakeAirflow:
    """Airflow's REST API as the web app uses it for imports: triggers, run states, return values."""

    def __init__(self, state: str = "queued", returned=None):
        self.state, self.returned, self.triggered = state, returned, []

    def unpause(self, dag_id):
        pass

    def trigger(self, dag_id, conf, *, dag_run_id):
        from twin.orchestration.airflow_client import AirflowRejected, DagRun

        if any(run_id == dag_run_id for _, run_id, _ in self.triggered):
            raise AirflowRejected(f"run {dag_run_id} exists", 409)
        self.triggered.append((dag_id, dag_run_id, conf))
        return DagRun(dag_id, dag_run_id, "queued", conf, None, None)

    def get_run(self, dag_id, dag_run_id):
        from twin.orchestration.airflow_client import DagRun

        return DagRun(dag_id, dag_run_id, self.state, {}, None, None)

    def return_value(self, dag_id, dag_run_id, task_id):
        assert (dag_id, task_id) == ("twin_import", "import_upload")
        return self.returned

    def close(self):
        pass


def test_pasted_links_are_kept_once_as_the_users_web_sources(user, other_user, monkeypatch):
    monkeypatch.setattr(services, "_allow_private", lambda: False)  # the test settings allow them
    kept = services.links_keep(user=user, urls=["https://blog.example/post?utm_source=x", "https://10.0.0.1/"])
    assert [(source.platform, source.url, source.is_active) for source in kept] == [
        ("web", "https://blog.example/post", True)
    ]  # the private address is skipped: a web source may not point at one
    services.sources_pause(user=user)
    assert services.links_keep(user=user, urls=["https://blog.example/post"]) == []  # kept already; stays paused
    assert Source.objects.get(user=user, url="https://blog.example/post").is_active is False
    assert len(services.links_keep(user=other_user, urls=["https://blog.example/post"])) == 1  # per user


def _upload(user, kind="linkedin", data=None):
    data = data or export_zip(kind)
    return services.upload_create(
        user=user, kind=kind, fileobj=io.BytesIO(data), name=f"../../{kind}-export.zip", size=len(data)
    )


def test_upload_is_stored_privately_and_sent_to_airflow_once(
    user, upload_dir, django_capture_on_commit_callbacks, airflow_down
):
    data = export_zip("linkedin")
    with django_capture_on_commit_callbacks(execute=True):
        upload = _upload(user, data=data)
    stored = Path(upload.stored_path)
    assert stored.parent == upload_dir / str(user.pk) and stored.read_bytes() == data
    assert stored.stat().st_mode & 0o777 == 0o600
    upload.refresh_from_db()
    assert upload.original_name == "linkedin-export.zip"
    assert upload.status == "pending" and upload.attempts == 1, "Airflow is down: kept, with the reason"
    assert "Waiting for Airflow" in upload.error and airflow_down in upload.error

    airflow = FakeAirflow()
    services.upload_send(upload, airflow)
    services.upload_send(upload, airflow)  # a retry after a lost answer follows the same run
    assert len(airflow.triggered) == 1
    dag_id, run_id, conf = airflow.triggered[0]
    assert (dag_id, run_id) == ("twin_import", f"upload-{upload.pk}")
    assert conf == {
        "upload_id": upload.pk,
        "user_id": user.pk,
        "kind": "linkedin",
        "archive": stored.name,
        "publication_url": None,
    }, "the run names the archive, never a path"
    assert upload.status == "queued" and upload.dag_run_id == run_id and upload.error == ""


def test_the_import_task_imports_deletes_the_archive_and_the_page_shows_the_counts(user, upload_dir, airflow_down):
    from twin.orchestration.collect import import_upload

    upload = _upload(user)
    airflow = FakeAirflow()
    services.upload_send(upload, airflow)
    airflow.state = "running"
    assert services.upload_refresh(upload, airflow).status == "importing" and upload.started_at

    conf = airflow.triggered[0][2]
    airflow.returned = import_upload(conf["upload_id"], conf["user_id"], conf["kind"], conf["archive"])  # the DAG task
    assert not Path(upload.stored_path).exists(), "the archive is deleted once imported"
    airflow.state = "success"
    upload = services.upload_refresh(upload, airflow)
    assert upload.status in ("succeeded", "partial") and upload.finished_at
    assert upload.counts["new"] >= 2 and upload.skipped == {
        "repost without commentary": 1,
        "unpublished article draft": 1,
    }
    from webapp.dataplane.models import CrawlRun, RawDocument

    assert RawDocument.objects.filter(user_id=user.pk, platform="linkedin").count() == upload.counts["new"]
    assert CrawlRun.objects.get(pk=upload.crawl_run_id).source == f"linkedin-export:upload-{upload.pk}"
    services.upload_delete(upload=upload)
    assert not Upload.objects.filter(pk=upload.pk).exists()


def test_a_broken_archive_fails_with_the_reason_and_is_kept(user, upload_dir, airflow_down):
    from twin.orchestration.collect import ImportFailed, import_upload

    upload = _upload(user, kind="medium", data=b"PK\x03\x04" + b"garbage" * 100)
    airflow = FakeAirflow()
    services.upload_send(upload, airflow)
    conf = airflow.triggered[0][2]
    with pytest.raises(ImportFailed, match="download the export again"):
        import_upload(conf["upload_id"], conf["user_id"], conf["kind"], conf["archive"])
    assert Path(upload.stored_path).exists(), "kept for a later look or re-run"
    airflow.state = "failed"
    upload = services.upload_refresh(upload, airflow)
    assert upload.status == "failed" and "download the export again" in upload.error.lower() and upload.finished_at


@pytest.mark.parametrize("archive", ["../1/x.zip", "/etc/passwd", "a" * 32 + ".zip/..", "A" * 32 + ".zip", "x.zip"])
def test_the_import_task_opens_only_uploaded_archive_names(user, archive):
    from twin.core.uploads import UnknownArchive
    from twin.orchestration.collect import import_upload

    with pytest.raises(UnknownArchive):
        import_upload(1, user.pk, "medium", archive)


def test_expired_archives_are_removed(user, upload_dir):
    import os
    import time

    from twin.core.settings import get_settings
    from twin.core.uploads import remove_expired

    old, new = _upload(user, kind="medium"), _upload(user, kind="medium")
    month_ago = time.time() - 31 * 86400
    os.utime(old.stored_path, (month_ago, month_ago))
    removed = remove_expired(get_settings())
    assert Path(old.stored_path) in removed and not Path(old.stored_path).exists()
    assert Path(new.stored_path).exists()


@pytest.mark.parametrize(
    "name, data, size, message",
    [
        ("export.zip", b"PK\x03\x04" + b"x" * 5000, 5004, "limit"),
        ("export.zip", b"", 0, "empty"),
        ("export.tar.gz", b"PK\x03\x04xxxx", 8, ".zip"),
        ("export.zip", b"<html>not a zip</html>", 22, "not a zip"),
    ],
)
def test_upload_validation(user, upload_dir, settings, name, data, size, message):
    settings.TWIN_IMPORT_MAX_BYTES = 4096
    before = set((upload_dir / str(user.pk)).rglob("*.zip"))
    with pytest.raises(ValidationError, match=message):
        services.upload_create(user=user, kind="linkedin", fileobj=io.BytesIO(data), name=name, size=size)
    assert set((upload_dir / str(user.pk)).rglob("*.zip")) == before, "nothing stored"


def test_publication_url_only_for_substack(user, upload_dir):
    data = export_zip("substack")
    with pytest.raises(ValidationError, match="Only Substack"):
        services.upload_create(
            user=user,
            kind="medium",
            fileobj=io.BytesIO(data),
            name="x.zip",
            size=len(data),
            publication_url="https://ada.substack.com",
        )
    upload = services.upload_create(
        user=user,
        kind="substack",
        fileobj=io.BytesIO(data),
        name="x.zip",
        size=len(data),
        publication_url="ada.substack.com/p/hello",
    )
    assert upload.publication_url == "https://ada.substack.com"
