import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.webapp.sources.test_services import export_zip
from webapp.sources.models import Source, Upload
from webapp.sources.services import source_create


def test_login_is_required(client, db):
    response = client.get(reverse("sources:index"))
    assert response.status_code == 302 and response.url.startswith(reverse("accounts:login"))


def test_add_list_edit_remove(user_client, user):
    response = user_client.post(
        reverse("sources:index"), {"platform": "auto", "url": "github.com/ada-l", "is_active": "on"}
    )
    assert response.status_code == 302
    source = Source.objects.get(user=user)
    assert source.url == "https://github.com/ada-l"
    page = user_client.get(reverse("sources:index")).content.decode()
    assert "https://github.com/ada-l" in page and "never" in page

    response = user_client.post(reverse("sources:edit", args=[source.pk]), {"platform": "github", "url": "@grace"})
    source.refresh_from_db()
    assert response.status_code == 302 and source.url == "https://github.com/grace" and not source.is_active

    assert user_client.post(reverse("sources:delete", args=[source.pk])).status_code == 302
    assert not Source.objects.filter(user=user).exists()


def test_validation_errors_are_shown_and_nothing_saved(user_client, user):
    response = user_client.post(reverse("sources:index"), {"platform": "github", "url": "https://gitlab.com/ada"})
    assert response.status_code == 400
    assert "not a github.com address" in response.content.decode()
    assert not Source.objects.filter(user=user).exists()


def test_another_users_source_is_404(user_client, other_user):
    theirs = source_create(user=other_user, platform="github", url="grace")
    assert user_client.get(reverse("sources:edit", args=[theirs.pk])).status_code == 404
    assert (
        user_client.post(reverse("sources:edit", args=[theirs.pk]), {"platform": "github", "url": "x"}).status_code
        == 404
    )
    assert user_client.post(reverse("sources:delete", args=[theirs.pk])).status_code == 404
    assert Source.objects.filter(pk=theirs.pk).exists()
    assert "grace" not in user_client.get(reverse("sources:index")).content.decode()


def test_delete_needs_post_and_csrf(user, other_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    mine = source_create(user=user, platform="github", url="ada")
    assert client.get(reverse("sources:delete", args=[mine.pk])).status_code == 405
    assert client.post(reverse("sources:delete", args=[mine.pk])).status_code == 403
    assert Source.objects.filter(pk=mine.pk).exists()


def test_upload_then_status_page(user_client, user, upload_dir, airflow_down):
    data = export_zip("medium")
    response = user_client.post(
        reverse("sources:upload_create"),
        {"kind": "medium", "file": SimpleUploadedFile("medium-export.zip", data, "application/zip")},
    )
    upload = Upload.objects.get(user=user)
    assert response.status_code == 302 and response.url == reverse("sources:upload", args=[upload.pk])
    page = user_client.get(response.url).content.decode()
    assert "medium-export.zip" in page and "Waiting for Airflow" in page and 'data-active="1"' in page


def test_upload_over_the_limit_is_refused_without_storing(user_client, user, upload_dir, settings):
    settings.TWIN_IMPORT_MAX_BYTES = 2048
    before = set((upload_dir / str(user.pk)).rglob("*.zip"))
    data = b"PK\x03\x04" + bytes(300_000)
    response = user_client.post(
        reverse("sources:upload_create"),
        {"kind": "linkedin", "file": SimpleUploadedFile("big.zip", data, "application/zip")},
    )
    assert response.status_code == 413
    assert "over the 2.0\xa0KB limit" in response.content.decode()
    assert not Upload.objects.filter(user=user).exists()
    assert set((upload_dir / str(user.pk)).rglob("*.zip")) == before, "nothing stored"


def test_upload_that_is_not_a_zip_is_refused(user_client, user, upload_dir):
    response = user_client.post(
        reverse("sources:upload_create"),
        {"kind": "linkedin", "file": SimpleUploadedFile("export.zip", b"<html></html>", "application/zip")},
    )
    assert response.status_code == 400 and "not a zip archive" in response.content.decode()


def test_another_users_upload_is_404(user_client, other_user, upload_dir):
    from webapp.sources.services import upload_create

    data = export_zip("medium")
    theirs = upload_create(user=other_user, kind="medium", fileobj=io.BytesIO(data), name="m.zip", size=len(data))
    assert user_client.get(reverse("sources:upload", args=[theirs.pk])).status_code == 404
    assert user_client.post(reverse("sources:upload_delete", args=[theirs.pk])).status_code == 404


@pytest.mark.django_db
def test_waiting_uploads_are_sent_by_the_retry_command(user, upload_dir, airflow_down):
    from django.core.management import call_command

    from webapp.sources.services import upload_create

    data = export_zip("medium")
    upload = upload_create(user=user, kind="medium", fileobj=io.BytesIO(data), name="m.zip", size=len(data))
    out = io.StringIO()
    call_command("retry_pending_collections", stdout=out)
    upload.refresh_from_db()
    assert upload.status == "pending" and upload.attempts == 1 and "Waiting for Airflow" in upload.error
    assert f"upload {upload.pk} (medium, user {user.pk}): pending" in out.getvalue()
    assert "1 waiting upload(s) tried, 1 still waiting" in out.getvalue()


def test_adding_a_publication_asks_for_the_own_writing_confirmation(user_client, user):
    response = user_client.post(
        reverse("sources:index"), {"platform": "auto", "url": "ada.substack.com", "is_active": "on"}
    )
    assert response.status_code == 400 and "Only my own writing" in response.content.decode()
    assert "other people&#x27;s posts" in response.content.decode()
    assert not Source.objects.filter(user=user).exists()
    response = user_client.post(
        reverse("sources:index"),
        {"platform": "auto", "url": "ada.substack.com", "is_active": "on", "confirmed_own": "on"},
    )
    assert response.status_code == 302 and Source.objects.get(user=user).confirmed_own
