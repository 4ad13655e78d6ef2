"""Fixtures of the web app tests: users, logged-in clients, a stand-in serving app, Airflow down."""

from __future__ import annotations

import uuid

import pytest

from tests.webapp.serving_standin import TOKEN, StandInServing
from twin.core.ports import free_port

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Each test starts with no requests counted (the limits live in the process's cache)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2's deliberate slowness costs ~1 s per user on the shared CI cores; tests do not need it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(email: str | None = None, **kwargs):
    from webapp.accounts.services import user_create

    return user_create(email=email or f"user-{uuid.uuid4().hex[:10]}@example.com", password=PASSWORD, **kwargs)


@pytest.fixture
def user(db):
    return make_user()


@pytest.fixture
def other_user(db):
    return make_user()


@pytest.fixture
def user_client(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def other_client(other_user):
    from django.test import Client

    other = Client()
    other.force_login(other_user)
    return other


@pytest.fixture
def airflow_down(settings):
    """Airflow settings that point at a closed port on loopback."""
    settings.TWIN_AIRFLOW_URL = f"http://127.0.0.1:{free_port()}"
    settings.TWIN_AIRFLOW_TIMEOUT_S = 2
    settings.TWIN_COLLECT_RETRY_AFTER_S = 0
    return settings.TWIN_AIRFLOW_URL


@pytest.fixture
def serving(settings):
    """The stand-in serving app, with the web app's settings pointing at it."""
    with StandInServing() as standin:
        settings.TWIN_SERVING_URL = standin.url
        settings.TWIN_SERVING_TOKEN = TOKEN
        settings.TWIN_SERVING_TIMEOUT_S = 10
        yield standin


@pytest.fixture
def serving_down(settings):
    settings.TWIN_SERVING_URL = f"http://127.0.0.1:{free_port()}"
    settings.TWIN_SERVING_TOKEN = TOKEN
    return settings.TWIN_SERVING_URL


@pytest.fixture
def upload_dir(settings):
    """Where uploads are stored: the folder the twin_import DAG reads (one subfolder per user)."""
    from pathlib import Path

    from twin.core.settings import get_settings
    from twin.core.uploads import uploads_root

    assert Path(settings.TWIN_UPLOAD_DIR) == uploads_root(get_settings())
    return Path(settings.TWIN_UPLOAD_DIR)
