import subprocess
import sys

import pytest

from twin.core.settings import PROJECT_ROOT, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """Each test starts from an environment without the harness's own settings."""
    import os

    for name in list(os.environ):
        if name.startswith("TWIN_") or name in ("DATABASE_URL", "RAY_ADDRESS"):
            monkeypatch.delenv(name)


def test_defaults_are_usable():
    settings = load_settings(_env_file=None)
    assert settings.uses_embedded_db
    assert settings.home == PROJECT_ROOT / ".twin"
    assert settings.pgdata == PROJECT_ROOT / ".twin" / "pgdata"
    assert settings.embedding_model == "all-MiniLM-L6-v2"
    assert str(settings.serving_url) == "http://127.0.0.1:8100/"
    assert settings.allow_private_urls is False


def test_reads_the_shared_env_names(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.example:5433/twin")
    monkeypatch.setenv("TWIN_HOME", str(tmp_path))
    monkeypatch.setenv("TWIN_ALLOW_PRIVATE_URLS", "1")
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    monkeypatch.setenv("TWIN_SERVING_TOKEN", "s3cret")
    settings = load_settings(_env_file=None)
    assert not settings.uses_embedded_db
    assert settings.home == tmp_path
    assert settings.allow_private_urls is True
    assert settings.ray_address == "ray://head:10001"
    assert settings.serving_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("TWIN_DB_PORT", "not-a-port", "invalid setting TWIN_DB_PORT='not-a-port'"),
        ("TWIN_DB_PORT", "70000", "invalid setting TWIN_DB_PORT='70000'"),
        ("DATABASE_URL", "mysql://root@localhost/twin", "invalid setting DATABASE_URL="),
        ("TWIN_SERVING_URL", "not a url", "invalid setting TWIN_SERVING_URL="),
        ("TWIN_ALLOW_PRIVATE_URLS", "perhaps", "invalid setting TWIN_ALLOW_PRIVATE_URLS="),
        ("TWIN_LOG_LEVEL", "LOUD", "invalid setting TWIN_LOG_LEVEL="),
    ],
)
def test_invalid_settings_name_the_variable(monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as excinfo:
        load_settings(_env_file=None)
    message = str(excinfo.value)
    assert expected in message
    assert ".env.example" in message


def test_database_name_must_be_an_identifier(monkeypatch):
    monkeypatch.setenv("TWIN_DB_NAME", "Robert'); drop table students;--")
    with pytest.raises(SettingsError) as excinfo:
        load_settings(_env_file=None)
    assert "TWIN_DB_NAME" in str(excinfo.value)


def test_cli_reports_invalid_settings_readably(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "TWIN_DB_PORT": "abc", "TWIN_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "twin", "db", "status"], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert "invalid setting TWIN_DB_PORT='abc'" in result.stderr
    assert "Traceback" not in result.stderr


def test_env_example_documents_every_setting():
    from twin.core.settings import Settings, _env_name

    documented = (PROJECT_ROOT / ".env.example").read_text()
    for field in Settings.model_fields:
        assert f"{_env_name(field)}=" in documented, f"{_env_name(field)} missing from .env.example"
