"""Default secrets are refused outside local debug; local installations get generated ones."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from twin.core.settings import (
    PROJECT_ROOT,
    SettingsError,
    get_settings,
    insecure_secrets,
    load_settings,
    require_secrets,
)

RANDOM = {"TWIN_SECRET_KEY": "k" * 40, "TWIN_SERVING_TOKEN": "s" * 40, "TWIN_AIRFLOW_PASSWORD": "p" * 24}
ALL = ("secret_key", "serving_token", "airflow_password", "database_url", "airflow_jwt_secret", "airflow_broker_url")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("TWIN_") or name in ("DATABASE_URL", "AIRFLOW__API_AUTH__JWT_SECRET"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TWIN_HOME", str(tmp_path))
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_every_shipped_default_is_named_and_refused(clean_env):
    settings = load_settings(_env_file=None)
    assert insecure_secrets(settings, ALL, environ={}) == [
        "TWIN_SECRET_KEY",
        "TWIN_SERVING_TOKEN",
        "TWIN_AIRFLOW_PASSWORD",
    ]
    with pytest.raises(SettingsError) as excinfo:
        require_secrets(settings, *ALL, component="Airflow", environ={})
    message = str(excinfo.value)
    assert message.startswith("Airflow refuses to start with the shipped default value of TWIN_SECRET_KEY, ")
    assert "secrets.token_urlsafe(32)" in message and "TWIN_DEBUG=true" in message and "twin up" in message


def test_docker_env_example_placeholders_are_refused(clean_env):
    values = {}
    for line in (PROJECT_ROOT / "docker" / ".env.example").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            values[key.strip()] = value.strip()
    for name in ("TWIN_SECRET_KEY", "TWIN_SERVING_TOKEN", "TWIN_AIRFLOW_PASSWORD", "DATABASE_URL"):
        clean_env.setenv(name, values[name])
    settings = load_settings(_env_file=None)
    found = insecure_secrets(
        settings, ALL, environ={"AIRFLOW__API_AUTH__JWT_SECRET": values["AIRFLOW__API_AUTH__JWT_SECRET"]}
    )
    assert found == [
        "TWIN_SECRET_KEY",
        "TWIN_SERVING_TOKEN",
        "TWIN_AIRFLOW_PASSWORD",
        "DATABASE_URL (its password)",
        "AIRFLOW__API_AUTH__JWT_SECRET",
    ]


def test_random_secrets_pass_and_local_debug_accepts_the_defaults(clean_env):
    for name, value in RANDOM.items():
        clean_env.setenv(name, value)
    clean_env.setenv("DATABASE_URL", "postgresql://twin:Zq8-random-Password@db:5432/twin")
    require_secrets(
        load_settings(_env_file=None), *ALL, component="x", environ={"AIRFLOW__API_AUTH__JWT_SECRET": "j" * 40}
    )
    for name in RANDOM:
        clean_env.delenv(name)
    clean_env.setenv("TWIN_DEBUG", "true")
    require_secrets(load_settings(_env_file=None), *ALL, component="x", environ={})


def test_local_secrets_are_generated_once_private_and_read_by_every_process(clean_env, tmp_path):
    from twin.core.local_secrets import ensure_local_secrets, read_local_secret, secrets_path

    settings = load_settings()
    assert ensure_local_secrets(settings) is True
    path = secrets_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    assert ensure_local_secrets(settings) is False and path.read_text() == first
    loaded = load_settings()
    assert loaded.serving_token.get_secret_value() == read_local_secret(settings, "TWIN_SERVING_TOKEN")
    assert len(loaded.secret_key.get_secret_value()) >= 40 and not insecure_secrets(loaded, ALL, environ={})
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "from twin.core.settings import get_settings; print(get_settings().serving_token.get_secret_value())",
        ],
        env={**os.environ},
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=True,
    )
    assert child.stdout.strip() == loaded.serving_token.get_secret_value()
    clean_env.setenv("TWIN_SERVING_TOKEN", "from-the-environment-" + "x" * 20)
    assert load_settings().serving_token.get_secret_value().startswith("from-the-environment-")
    path.chmod(0o644)
    ensure_local_secrets(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_web_app_refuses_to_start_on_defaults(clean_env):
    clean_env.setenv("DATABASE_URL", "postgresql://twin:Zq8-random-Password@127.0.0.1:9/twin")
    probe = "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'webapp.settings'; django.setup()"
    result = subprocess.run(
        [sys.executable, "-c", probe], env={**os.environ}, capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    assert result.returncode != 0
    assert (
        "ImproperlyConfigured: The web app refuses to start with the shipped default value of TWIN_SECRET_KEY, "
        "TWIN_SERVING_TOKEN" in result.stderr
    )


def test_serving_refuses_to_build_on_defaults(clean_env):
    clean_env.setenv("DATABASE_URL", "postgresql://twin:twin-change-me@127.0.0.1:9/twin")
    from serving.app import build_app

    with pytest.raises(SettingsError, match="serving app refuses .* TWIN_SERVING_TOKEN, DATABASE_URL"):
        build_app({})


def test_airflow_refuses_to_prepare_on_defaults(clean_env):
    from twin.orchestration.airflow import AirflowError, prepare

    for name in ("TWIN_SECRET_KEY", "TWIN_SERVING_TOKEN"):
        clean_env.setenv(name, RANDOM[name])
    with pytest.raises(AirflowError, match="Airflow refuses .* TWIN_AIRFLOW_PASSWORD"):
        prepare(load_settings(), base_env={})


def test_service_commands_refuse_defaults_with_an_external_database(clean_env):
    from twin.cli.main import app

    clean_env.setenv("DATABASE_URL", "postgresql://twin:Zq8-random-Password@127.0.0.1:9/twin")
    for command in (["serve"], ["web"], ["airflow"], ["up"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        assert "refuses to start with the shipped default value" in " ".join(result.output.split())


def test_a_local_command_generates_its_secrets_instead(clean_env, tmp_path):
    from twin.cli.main import app

    result = CliRunner().invoke(app, ["web", "--port", "9"])  # the embedded database is not running here
    assert "not running" in " ".join(result.output.split()) and result.exit_code == 1
    assert stat.S_IMODE((tmp_path / "secrets.env").stat().st_mode) == 0o600
