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
    embed_batch_size: int = Field(default=32, ge=1, le=4096)
    hnsw_ef_search: int = Field(default=100, ge=1, le=1000)
    search_candidates: int = Field(default=50, ge=1, le=1000)
    base_model: str = "HuggingFaceTB/SmolLM2-135M-Instruct"
    models_dir: Path | None = Field(default=None, description="prepared base models; default $TWIN_HOME/models")

    serving_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8100")
    serving_token: SecretStr = SecretStr("change-me-serving-token")
    serving_config: Path = PROJECT_ROOT / "serving" / "config.yaml"
    serving_max_models_per_replica: int = Field(default=3, ge=1, le=64)
    openai_api_key: SecretStr | None = None
    airflow_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8080")
    airflow_user: str = "admin"
    airflow_password: SecretStr = SecretStr("admin")
    serving_timeout_s: float = Field(default=300.0, gt=0)
    web_port: int = Field(default=8000, ge=1, le=65535)
    ray_dashboard_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8265")
    secret_key: SecretStr = SecretStr("insecure-dev-key-set-TWIN_SECRET_KEY-in-production")
    debug: bool = False
    allowed_hosts: str = "127.0.0.1,localhost"

    allow_private_urls: bool = False
    github_token: SecretStr | None = None
    github_api_url: AnyHttpUrl = AnyHttpUrl("https://api.github.com")
    crawl_polite: bool = True
    crawl_user_agent: str = "LLMTwinBot/0.1 (+https://github.com/llm-twin/llm-twin; personal writing collector)"
    crawl_concurrency_per_domain: int = Field(default=2, ge=1, le=64)
    crawl_delay_s: float = Field(default=1.0, ge=0)
    crawl_timeout_s: float = Field(default=30.0, gt=0)
    crawl_retries: int = Field(default=3, ge=0, le=10)
    crawl_backoff_s: float = Field(default=2.0, ge=0)
    crawl_max_wait_s: float = Field(default=300.0, ge=0)
    crawl_max_bytes: int = Field(default=20_000_000, ge=1024)
    crawl_github_max_file_bytes: int = Field(default=200_000, ge=1)
    crawl_github_max_files: int = Field(default=400, ge=1)
    import_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)
    import_max_member_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    import_max_total_bytes: int = Field(default=1024 * 1024 * 1024, ge=1024)
    import_max_members: int = Field(default=20_000, ge=1)
    import_max_compression_ratio: float = Field(default=200.0, gt=1)
    ray_address: str | None = Field(default=None, validation_alias="RAY_ADDRESS")
    finetune_min_new_samples: int = Field(default=20, ge=1)
    ray_num_cpus: int | None = Field(default=None, ge=1)
    ray_dashboard: bool = True
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
    def base_models_dir(self) -> Path:
        return (self.models_dir or self.home / "models").expanduser().resolve()

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
