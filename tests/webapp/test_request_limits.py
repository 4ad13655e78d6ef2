"""Bodies are refused before Django parses them: too large (413) for everyone; multipart from a
visitor who is not signed in is small or refused, and its files are never written; Django's own
field limits are set."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def upload_temp_dir(settings, tmp_path):
    """Every uploaded file that is parsed lands here (no in-memory files)."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    return tmp_path


def test_an_oversized_body_is_refused_before_parsing_for_anyone(user_client, settings):
    from django.test import Client

    client = Client()  # not signed in
    settings.TWIN_MAX_REQUEST_BYTES = 1000
    body = b"username=a%40example.com&password=" + b"x" * 2000
    for who, url in ((client, reverse("accounts:login")), (user_client, reverse("sources:upload_create"))):
        response = who.generic("POST", url, body, content_type="application/x-www-form-urlencoded")
        assert response.status_code == 413 and b"too large" in response.content
    # a body that lies about its length is judged by the declared length, before anything is read
    response = client.generic("POST", reverse("accounts:login"), b"tiny", content_type="application/x-www-form-urlencoded",
                              CONTENT_LENGTH="999999999")
    assert response.status_code == 413


def test_an_anonymous_upload_is_refused_and_nothing_is_written(user_client, upload_temp_dir):
    from django.test import Client

    client = Client()  # not signed in
    small = io.BytesIO(b"PK\x03\x04" + b"\x00" * 5000)
    small.name = "export.zip"
    response = client.post(reverse("sources:upload_create"), {"platform": "linkedin", "file": small})
    assert response.status_code == 302 and "/accounts/login/" in response.url  # sign in first
    large = io.BytesIO(b"PK\x03\x04" + b"\x00" * 200_000)
    large.name = "export.zip"
    response = client.post(reverse("sources:upload_create"), {"platform": "linkedin", "file": large})
    assert response.status_code == 413 and b"Sign in to upload" in response.content
    assert list(upload_temp_dir.iterdir()) == [], "no temporary file for an anonymous upload"
    large.seek(0)
    signed_in = user_client.post(reverse("sources:upload_create"), {"platform": "linkedin", "file": large})
    assert signed_in.status_code != 413, "a signed-in user's upload goes through to the view"
    assert client.post(reverse("accounts:login"), {"username": "a@example.com", "password": "x"}).status_code == 200


def test_too_many_fields_is_a_bad_request(client, settings):
    assert settings.DATA_UPLOAD_MAX_NUMBER_FIELDS == 200 and settings.DATA_UPLOAD_MAX_NUMBER_FILES == 2
    fields = {f"field{n}": "x" for n in range(300)}
    body = "&".join(f"{name}={value}" for name, value in {"username": "a", "password": "x", **fields}.items())
    response = client.generic("POST", reverse("accounts:login"), body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
