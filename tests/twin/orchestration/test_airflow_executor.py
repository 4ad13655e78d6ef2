"""The executor is a setting: LocalExecutor by default, CeleryExecutor with a password-protected Redis
broker and workers (the real run is tests/dags/test_celery_executor.py)."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from twin.core.settings import SettingsError, get_settings, insecure_secrets, load_settings
from twin.orchestration.airflow import AirflowError, airflow_env, component_command, local_workers, worker_command

BROKER = "redis://:Zq8-random-broker-Password@redis.internal:6379/0"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("TWIN_", "AIRFLOW__")) or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    yield
    get_settings.cache_clear()


def _settings(tmp_path, **overrides):
    return load_settings(
        _env_file=None, home=tmp_path, database_url="postgresql://twin:pw@db.internal:5432/twin", **overrides
    )


def test_local_executor_is_the_default_and_starts_no_workers(tmp_path):
    settings = _settings(tmp_path)
    env = airflow_env(settings, base_env={})
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert not [name for name in env if name.startswith("AIRFLOW__CELERY__")]
    assert local_workers(settings) == ()
    assert local_workers(_settings(tmp_path, airflow_workers=3)) == ()


def test_celery_executor_gets_its_broker_result_backend_and_workers(tmp_path):
    settings = _settings(
        tmp_path,
        airflow_executor="CeleryExecutor",
        airflow_broker_url=BROKER,
        airflow_workers=2,
        airflow_worker_concurrency=3,
    )
    env = airflow_env(settings, base_env={})
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == BROKER
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql+psycopg://twin:pw@db.internal:5432/airflow"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] == "3"
    assert local_workers(settings) == ("worker-1", "worker-2")
    assert component_command("worker-2")[-5:] == [
        "celery",
        "worker",
        "--celery-hostname",
        "worker-2@%h",
        "--skip-serve-logs",
    ]
    assert component_command("scheduler")[-1] == "scheduler"
    assert "--skip-serve-logs" not in worker_command("gpu-box", serve_logs=True)
    assert "BROKER" not in repr(settings) and "random-broker" not in repr(settings)


def test_celery_without_a_broker_says_what_to_set(tmp_path):
    with pytest.raises(AirflowError, match="TWIN_AIRFLOW_BROKER_URL=redis://:PASSWORD@HOST:6379/0.*redis-server"):
        airflow_env(_settings(tmp_path, airflow_executor="CeleryExecutor"), base_env={})


def test_a_broker_that_is_not_redis_is_refused_without_echoing_it(monkeypatch):
    monkeypatch.setenv("TWIN_AIRFLOW_BROKER_URL", "amqp://guest:hunter2@rabbit:5672//")
    with pytest.raises(SettingsError) as excinfo:
        load_settings(_env_file=None)
    assert "invalid setting TWIN_AIRFLOW_BROKER_URL: " in str(excinfo.value)
    assert "hunter2" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("broker", "refused"),
    [
        ("redis://redis:6379/0", True),  # no password: anyone who reaches the port can queue tasks
        ("redis://:change-me@redis:6379/0", True),
        ("rediss://default:twin-change-me@redis:6380/0", True),
        (BROKER, False),
    ],
)
def test_a_broker_without_a_real_password_is_refused_outside_debug(tmp_path, broker, refused):
    settings = _settings(tmp_path, airflow_executor="CeleryExecutor", airflow_broker_url=broker)
    found = insecure_secrets(settings, ("airflow_broker_url",), environ={})
    assert bool(found) is refused
    if refused:
        assert found[0].startswith("TWIN_AIRFLOW_BROKER_URL")


def test_the_worker_command_needs_the_celery_executor(tmp_path, monkeypatch):
    from twin.cli.main import app

    get_settings.cache_clear()
    monkeypatch.setenv("TWIN_HOME", str(tmp_path))
    monkeypatch.setenv("TWIN_DEBUG", "true")
    monkeypatch.setenv("DATABASE_URL", "postgresql://twin:pw@127.0.0.1:9/twin")
    result = CliRunner().invoke(app, ["airflow-worker"])
    assert result.exit_code == 1, result.output
    assert "TWIN_AIRFLOW_EXECUTOR=CeleryExecutor" in " ".join(result.output.split())
    monkeypatch.setenv("TWIN_AIRFLOW_EXECUTOR", "CeleryExecutor")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["airflow-worker"])
    assert result.exit_code == 1 and "TWIN_AIRFLOW_BROKER_URL" in " ".join(result.output.split())
    assert "task slots" in CliRunner().invoke(app, ["airflow-worker", "--help"]).output
