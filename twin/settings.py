"""The one settings object: every environment variable the product reads, validated in one place.

Django's settings read the same names through :func:`get_settings`, so a variable means the same
thing to every component. ``.env.example`` documents each one.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(RuntimeError):
    """Raised with one readable line per invalid variable, naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TWIN_",
        env_file=PROJECT_ROOT / ".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    home: Path = PROJECT_ROOT / ".twin"
    db_port: int = Field(default=0, ge=0, le=65535)
    db_name: str = Field(default="twin", pattern=r"^[a-z_][a-z0-9_]*$")
    airflow_db_name: str = Field(default="airflow", pattern=r"^[a-z_][a-z0-9_]*$")

    embedding_model: str = "all-MiniLM-L6-v2"
    base_model: str = "tiny-local"

    serving_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8100")
    serving_token: SecretStr = SecretStr("change-me-serving-token")
    airflow_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8080")
    airflow_user: str = "admin"
    airflow_password: SecretStr = SecretStr("admin")
    web_port: int = Field(default=8000, ge=1, le=65535)
    secret_key: SecretStr = SecretStr("insecure-dev-key-set-TWIN_SECRET_KEY-in-production")
    debug: bool = False
    allowed_hosts: str = "127.0.0.1,localhost"

    allow_private_urls: bool = False
    github_token: SecretStr | None = None
    github_api_url: AnyHttpUrl = AnyHttpUrl("https://api.github.com")
    ray_address: str | None = Field(default=None, validation_alias="RAY_ADDRESS")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme = value.split("://", 1)[0]
        if "://" not in value or not scheme.startswith(("postgresql", "postgres")):
            raise ValueError("must be a PostgreSQL URL such as postgresql://user:password@host:5432/dbname")
        return value

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def uses_embedded_db(self) -> bool:
        return self.database_url is None


def _env_name(field_name: str) -> str:
    """The environment variable behind a field (or behind an error location, which may be the alias)."""
    aliases = {field.validation_alias for field in Settings.model_fields.values() if isinstance(field.validation_alias, str)}
    if field_name in aliases:
        return field_name
    field = Settings.model_fields.get(field_name)
    if field is not None and isinstance(field.validation_alias, str):
        return field.validation_alias
    return f"TWIN_{field_name.upper()}"


def load_settings(**overrides) -> Settings:
    """Build settings from the environment (and ``.env``); raise :class:`SettingsError` if invalid."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = _env_name(str(error["loc"][0])) if error["loc"] else "settings"
            value = error.get("input")
            shown = "" if "secret" in name.lower() or "token" in name.lower() or "password" in name.lower() else f"={value!r}"
            lines.append(f"invalid setting {name}{shown}: {error['msg']}")
        raise SettingsError("\n".join(lines) + "\nFix the variable in your environment or .env (see .env.example).") from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call ``get_settings.cache_clear()`` after changing env."""
    return load_settings()
