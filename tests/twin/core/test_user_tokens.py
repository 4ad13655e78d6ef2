"""Per-request user tokens: what serving accepts and what it refuses."""

from __future__ import annotations

import time

import jwt
import pytest

from twin.core.user_tokens import (
    MAX_TTL_S,
    InvalidUserToken,
    _signing_key,
    authorization_header,
    sign_user_token,
    verify_user_token,
)

SECRET = "a-long-random-secret-shared-by-web-and-serving"


def test_a_signed_token_names_its_user_normalised():
    claims = verify_user_token(SECRET, sign_user_token(SECRET, "  Ada@Example.COM ", issuer="twin-webapp"))
    assert claims.user == "ada@example.com" and claims.issuer == "twin-webapp"
    assert verify_user_token(SECRET, sign_user_token(SECRET, 42, issuer="t")).user == "42"


def test_the_secret_is_not_on_the_wire():
    header = authorization_header(SECRET, 7, issuer="twin-webapp")["Authorization"]
    assert header.startswith("Bearer ") and SECRET not in header
    assert SECRET not in str(jwt.decode(header.split()[1], options={"verify_signature": False}))


@pytest.mark.parametrize(
    "token, reason",
    [
        (SECRET, "signed user token is required"),  # the bare secret
        (sign_user_token("another-secret", 7, issuer="t"), "signature does not match"),
        (
            jwt.encode(
                {"sub": "7", "aud": "twin-serving", "iss": "t", "iat": int(time.time()), "exp": int(time.time()) + 60},
                SECRET,
                algorithm="HS256",
            ),
            "signature does not match",
        ),  # signed with the raw secret
        (
            jwt.encode({"sub": "7", "aud": "twin-serving", "iss": "t", "iat": 1, "exp": 2}, None, algorithm="none"),
            "alg value is not allowed",
        ),
        (
            jwt.encode(
                {"sub": "7", "aud": "airflow", "iss": "t", "iat": int(time.time()), "exp": int(time.time()) + 60},
                _signing_key(SECRET),
                algorithm="HS256",
            ),
            "not for the serving app",
        ),
        ("", "signed user token is required"),
    ],
)
def test_forged_or_foreign_tokens_are_refused(token, reason):
    with pytest.raises(InvalidUserToken, match=reason):
        verify_user_token(SECRET, token)


def test_expired_future_and_long_lived_tokens_are_refused():
    now = time.time()
    with pytest.raises(InvalidUserToken, match="expired"):
        verify_user_token(SECRET, sign_user_token(SECRET, 7, issuer="t", ttl_s=60, now=now - 120), now=now)
    with pytest.raises(InvalidUserToken, match="in the future"):
        verify_user_token(SECRET, sign_user_token(SECRET, 7, issuer="t", now=now + 600), now=now)
    assert (
        verify_user_token(SECRET, sign_user_token(SECRET, 7, issuer="t", ttl_s=60, now=now - 55), now=now).user == "7"
    )
    with pytest.raises(ValueError, match="ttl_s"):
        sign_user_token(SECRET, 7, issuer="t", ttl_s=MAX_TTL_S + 1)
    forever = jwt.encode(
        {"sub": "7", "aud": "twin-serving", "iss": "t", "iat": int(now), "exp": int(now) + 86400},
        _signing_key(SECRET),
        algorithm="HS256",
    )
    with pytest.raises(InvalidUserToken, match="longer than"):
        verify_user_token(SECRET, forever, now=now)


def test_a_token_needs_a_user_and_a_secret():
    with pytest.raises(ValueError, match="needs a user"):
        sign_user_token(SECRET, "  ", issuer="t")
    with pytest.raises(InvalidUserToken, match="no signing secret"):
        verify_user_token("", sign_user_token(SECRET, 7, issuer="t"))


def test_the_cli_prints_a_token_for_curl(monkeypatch):
    from typer.testing import CliRunner

    from twin.cli.main import app
    from twin.core.settings import get_settings

    monkeypatch.setenv("TWIN_SERVING_TOKEN", SECRET)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["user-token", "Ada@example.com", "--ttl", "120"])
        assert result.exit_code == 0, result.output
        claims = verify_user_token(SECRET, result.stdout.strip())
        assert claims.user == "ada@example.com" and claims.issuer == "twin-cli"
        assert 110 <= claims.expires_at - time.time() <= 121
        assert CliRunner().invoke(app, ["user-token", "ada@example.com", "--ttl", "3600"]).exit_code == 2
    finally:
        get_settings.cache_clear()
