"""Login, signup, password reset and compose are rate-limited per IP and per account (429 + Retry-After,
before the view does any work)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.webapp.conftest import make_user

pytestmark = pytest.mark.django_db


def test_login_is_limited_per_account_then_per_ip(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": {"ip": (6, 300), "account": (3, 900)}}
    make_user("target@example.com")
    url = reverse("accounts:login")
    for _ in range(3):
        response = client.post(url, {"username": "target@example.com", "password": "wrong guess"})
        assert response.status_code == 200  # the form again, with its error
    blocked = client.post(url, {"username": "TARGET@example.com", "password": "wrong guess"})
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 0
    assert "Too many attempts" in blocked.content.decode()
    # the right password does not get through either while the account is limited
    assert (
        client.post(url, {"username": "target@example.com", "password": "correct horse battery staple"}).status_code
        == 429
    )
    # another account from the same address: allowed until the per-IP limit (6 requests in all)
    assert client.post(url, {"username": "other@example.com", "password": "x"}).status_code == 200
    assert client.post(url, {"username": "third@example.com", "password": "x"}).status_code == 429
    # a different client address is not affected
    assert (
        client.post(url, {"username": "fourth@example.com", "password": "x"}, REMOTE_ADDR="10.9.8.7").status_code == 200
    )


def test_forged_forwarded_for_does_not_reset_the_count(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "signup": {"ip": (2, 3600)}}
    url = reverse("accounts:signup")
    codes = [
        client.post(
            url,
            {"email": f"new{n}@example.com", "password1": "short", "password2": "short"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        ).status_code
        for n in range(3)
    ]
    assert codes[-1] == 429, codes


def test_password_reset_is_limited_per_account(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset": {"ip": (50, 3600), "account": (2, 3600)}}
    url = reverse("accounts:password_reset")
    codes = [client.post(url, {"email": "victim@example.com"}).status_code for _ in range(3)]
    assert codes == [302, 302, 429]


def test_compose_is_limited_per_account_and_a_refused_request_writes_nothing(user_client, user, settings):
    from webapp.compose.models import Prompt

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "compose": {"ip": (100, 3600), "account": (1, 3600)}}
    form = {"text": "Postgres for RAG", "links": "", "length": "medium", "tone": "", "hashtags": "", "js": "1"}
    assert user_client.post(reverse("compose:index"), form).status_code == 302
    refused = user_client.post(reverse("compose:index"), form)
    assert refused.status_code == 429
    assert Prompt.objects.filter(user=user).count() == 1
