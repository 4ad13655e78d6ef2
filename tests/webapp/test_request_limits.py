"""Bodies are refused before Django parses them: too large (413) for everyone; multipart from a
visitor who is not signed in is small or refused, and its files are never written; Django's own
field limits are set."""

from __future__ import annotations

import io
import re

import pytest
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.urls import reverse

pytestmark = pytest.mark.django_db


TEMPORARY_FILES: list[str] = []


class RecordingTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Django's temporary-file handler, noting each file it creates (they are deleted after the request)."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        TEMPORARY_FILES.append(self.file.temporary_file_path())


@pytest.fixture
def upload_temp_dir(settings, tmp_path):
    """Every uploaded file that is parsed is written to a temporary file under tmp_path, and noted."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.FILE_UPLOAD_HANDLERS = [
        "webapp.sources.uploads.LimitedUploadHandler",
        f"{__name__}.RecordingTemporaryFileUploadHandler",
    ]
    TEMPORARY_FILES.clear()
    return TEMPORARY_FILES


def _archive(size: int = 5000) -> io.BytesIO:
    archive = io.BytesIO(b"PK\x03\x04" + b"\x00" * size)
    archive.name = "export.zip"
    return archive


@pytest.fixture
def csrf_client(user):
    """A signed-in browser-like client with CSRF checks on, and the token its upload page shows."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get(reverse("sources:index"))
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.content).group(1).decode()
    assert f"?csrfmiddlewaretoken={token}".encode() in page.content, "the upload form carries its token in the action"
    return client, token


def test_an_oversized_body_is_refused_before_parsing_for_anyone(user_client, settings):
    from django.test import Client

    client = Client()  # not signed in
    settings.TWIN_MAX_REQUEST_BYTES = 1000
    body = b"username=a%40example.com&password=" + b"x" * 2000
    for who, url in ((client, reverse("accounts:login")), (user_client, reverse("sources:upload_create"))):
        response = who.generic("POST", url, body, content_type="application/x-www-form-urlencoded")
        assert response.status_code == 413 and b"too large" in response.content
    # a body that lies about its length is judged by the declared length, before anything is read
    response = client.generic(
        "POST",
        reverse("accounts:login"),
        b"tiny",
        content_type="application/x-www-form-urlencoded",
        CONTENT_LENGTH="999999999",
    )
    assert response.status_code == 413


def test_an_anonymous_upload_is_refused_and_nothing_is_written(user_client, upload_temp_dir):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)  # not signed in; CSRF's check parses the form
    response = client.post(reverse("sources:upload_create"), {"kind": "linkedin", "file": _archive()})
    assert response.status_code == 403
    response = Client().post(reverse("sources:upload_create"), {"kind": "linkedin", "file": _archive()})
    assert response.status_code == 302 and "/accounts/login/" in response.url  # sign in first
    large = io.BytesIO(b"PK\x03\x04" + b"\x00" * 200_000)
    large.name = "export.zip"
    response = client.post(reverse("sources:upload_create"), {"platform": "linkedin", "file": large})
    assert response.status_code == 413 and b"Sign in to upload" in response.content
    assert upload_temp_dir == [], "no temporary file for an anonymous upload"
    large.seek(0)
    signed_in = user_client.post(reverse("sources:upload_create"), {"kind": "linkedin", "file": large})
    assert signed_in.status_code != 413, "a signed-in user's upload goes through to the view"
    assert len(upload_temp_dir) == 1, "the signed-in upload was parsed (the recorder works)"
    assert Client().post(reverse("accounts:login"), {"username": "a@example.com", "password": "x"}).status_code == 200


def test_too_many_fields_is_a_bad_request(client, settings):
    assert settings.DATA_UPLOAD_MAX_NUMBER_FIELDS == 200 and settings.DATA_UPLOAD_MAX_NUMBER_FILES == 2
    fields = {f"field{n}": "x" for n in range(300)}
    body = "&".join(f"{name}={value}" for name, value in {"username": "a", "password": "x", **fields}.items())
    response = client.generic("POST", reverse("accounts:login"), body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400


def test_a_signed_in_upload_without_a_valid_csrf_token_writes_no_file(csrf_client, upload_temp_dir, settings):
    from webapp.sources.models import Upload

    client, token = csrf_client
    url = reverse("sources:upload_create")
    forged = [
        (url, {"kind": "linkedin", "file": _archive()}, {}),  # no token at all
        (url, {"kind": "linkedin", "file": _archive(), "csrfmiddlewaretoken": "x" * 64}, {}),  # a wrong one
        (url + "?csrfmiddlewaretoken=" + "y" * 64, {"kind": "linkedin", "file": _archive()}, {}),
        (url, {"kind": "linkedin", "file": _archive()}, {"HTTP_X_CSRFTOKEN": "z" * 32}),
    ]
    for target, data, headers in forged:
        response = client.post(target, data, **headers)
        assert response.status_code == 403, (target, response.status_code)
    assert upload_temp_dir == [], "a forged upload is never written, not even to a temporary file"
    # the token in the body alone passes CSRF, but the file was dropped unread: a form error, nothing stored
    response = client.post(url, {"kind": "linkedin", "file": _archive(), "csrfmiddlewaretoken": token})
    assert response.status_code == 400 and upload_temp_dir == []
    assert not Upload.objects.exists()
    # the upload form's own request (token in the action and the body) is parsed and stored
    response = client.post(
        f"{url}?csrfmiddlewaretoken={token}", {"kind": "linkedin", "file": _archive(), "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302 and len(upload_temp_dir) == 1
    assert Upload.objects.count() == 1
