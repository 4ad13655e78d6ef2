"""Users: created through the web app's service, found by the data plane by email."""

import os
import subprocess
import sys

import pytest

from twin.core.users import UserNotFound, user_id_for_email


def _twin(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "twin", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


def test_user_create_then_duplicate_fails(engine, unique_email):
    created = _twin("user", "create", unique_email.upper(), "--password", "correct horse battery")
    assert created.returncode == 0, created.stderr
    assert f"Created user {unique_email}" in created.stderr
    with engine.connect() as conn:
        user_id = user_id_for_email(conn, unique_email)
    assert f"(id {user_id})" in created.stderr

    duplicate = _twin("user", "create", unique_email, "--password", "another good one")
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr


def test_user_create_generates_a_password_when_none_given(unique_email):
    created = _twin("user", "create", unique_email)
    assert created.returncode == 0, created.stderr
    assert "Generated password: " in created.stderr


def test_user_create_rejects_bad_input(unique_email):
    bad_email = _twin("user", "create", "not-an-email", "--password", "correct horse battery")
    assert bad_email.returncode == 1 and "not a valid email" in bad_email.stderr
    weak = _twin("user", "create", unique_email, "--password", "123")
    assert weak.returncode == 1 and "too short" in weak.stderr


def test_unknown_user_says_how_to_create_one(db_conn):
    with pytest.raises(UserNotFound, match="twin user create nobody@example.com"):
        user_id_for_email(db_conn, "Nobody@Example.com")
