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

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# What runs the embedding model's transformer (twin.core.embedding): sentence-transformers' own fp32 torch,
# or a local export of the same weights run by ONNX Runtime (fp32 / int8) or OpenVINO (fp32 / bf16).
EmbeddingBackend = Literal["torch", "onnx", "onnx-int8", "openvino", "openvino-bf16"]


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
    db_role: Literal["owner", "web", "serving", "pipeline"] = (
        "owner"  # the embedded database role this process connects as
    )
    airflow_db_name: str = Field(default="airflow", pattern=r"^[a-z_][a-z0-9_]*$")

    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_backend: EmbeddingBackend = "torch"
    embed_batch_size: int = Field(default=32, ge=1, le=4096)
    hnsw_ef_search: int = Field(default=100, ge=1, le=1000)
    search_candidates: int = Field(default=50, ge=1, le=1000)
    # The full-text side's weight in the fused score (vector side: 1); benchmarks/known_item_retrieval.py
    search_keyword_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    # The full-text side's share is also scaled by coverage ** power: the fraction of the query's
    # words the chunk contains (0 turns it off: plain reciprocal rank fusion). With 2, a paraphrase
    # that shares a few common words with some chunk no longer outranks the vector side's answer,
    # while an exact identifier, a title or a quoted sentence keeps its full weight
    # (benchmarks/known_item_retrieval.py: passages recall@5 0.937 -> 0.985).
    search_coverage_power: float = Field(default=2.0, ge=0.0, le=8.0)
    base_model: str = "HuggingFaceTB/SmolLM2-135M-Instruct"
    models_dir: Path | None = Field(default=None, description="prepared base models; default $TWIN_HOME/models")
    # The training config YAML of every run that names none (the twin_finetune DAG's automatic runs,
    # `twin train` without --config); unset: the one in training/configs/ for base_model.
    training_config: Path | None = None
    # The most intra-op threads of each training worker and evaluation task; unset: the machine's
    # cores shared among those running side by side. Set it (with OMP_NUM_THREADS for every other
    # torch process) when other work shares the cores: two processes of 2 threads each on 2 cores
    # ran 3x slower than with 1 thread each (torch's threads wait on each other's cores).
    torch_threads: int | None = Field(default=None, ge=1, le=1024)
    # Where training writes Ray Train checkpoints, LoRA adapters and dataset snapshots for serving
    # replicas and resumed runs on any node: a shared path or an object-store URI (s3://, gs://,
    # file://); unset: TWIN_HOME (twin.core.storage).
    storage_uri: str | None = None

    serving_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8100")
    serving_token: SecretStr = SecretStr("change-me-serving-token")
    serving_config: Path = PROJECT_ROOT / "serving" / "config.yaml"
    serving_max_models_per_replica: int = Field(default=3, ge=1, le=64)
    openai_api_key: SecretStr | None = None
    airflow_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8080")
    airflow_user: str = "admin"
    airflow_password: SecretStr = SecretStr("admin")
    # Import the tasks' heavy modules once in the process that forks Airflow's task processes
    # (twin.orchestration.task_preload): seconds saved per task.
    airflow_preload: bool = True
    # Where Airflow runs tasks: LocalExecutor (in the scheduler's machine) or CeleryExecutor (on
    # `twin airflow-worker` processes on any machine, fed through a Redis broker with a password:
    # redis://:PASSWORD@HOST:6379/0). twin_collect, twin_import and twin_finetune run unchanged on either.
    airflow_executor: Literal["LocalExecutor", "CeleryExecutor"] = "LocalExecutor"
    airflow_broker_url: SecretStr | None = None
    airflow_workers: int = Field(default=1, ge=0, le=64)  # Celery workers `twin airflow` / `twin up` start here
    airflow_worker_concurrency: int = Field(default=2, ge=1, le=256)  # task slots per Celery worker
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
    upload_retention_days: int = Field(default=30, ge=1, le=3650)
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

    @field_validator("airflow_broker_url")
    @classmethod
    def _redis_broker(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        url = value.get_secret_value()
        if url.split("://", 1)[0] not in ("redis", "rediss") or "://" not in url:
            raise ValueError("must be a Redis URL such as redis://:PASSWORD@HOST:6379/0")
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


SECRETS_FILE = "secrets.env"
GENERATE_HINT = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'
# The values this repository ships (defaults and .env.example placeholders): never valid outside local debug.
SHIPPED_SECRETS = {
    "serving_token": {"change-me-serving-token"},
    "secret_key": {"insecure-dev-key-set-TWIN_SECRET_KEY-in-production", "change-me-to-a-long-random-string"},
    "airflow_password": {"admin", "admin-change-me"},
}
SHIPPED_DATABASE_PASSWORDS = {"", "twin-change-me", "postgres", "password", "twin", "change-me"}
AIRFLOW_JWT_SECRET_VAR = "AIRFLOW__API_AUTH__JWT_SECRET"


def _shipped(value: str, known: set[str]) -> bool:
    return value in known or "change-me" in value.lower()


def insecure_secrets(settings: Settings, names: tuple[str, ...], environ: dict[str, str] | None = None) -> list[str]:
    """The environment variables among ``names`` (settings fields, ``database_url`` for the password in
    ``DATABASE_URL``, ``airflow_jwt_secret``) that still hold a value this repository ships."""
    import os
    from urllib.parse import unquote, urlsplit

    environ = os.environ if environ is None else environ
    found = []
    for name in names:
        if name == "database_url":
            if settings.database_url and _shipped(
                unquote(urlsplit(settings.database_url).password or ""), SHIPPED_DATABASE_PASSWORDS
            ):
                found.append("DATABASE_URL (its password)")
        elif name == "airflow_broker_url":
            broker = settings.airflow_broker_url
            if broker is not None and _shipped(
                unquote(urlsplit(broker.get_secret_value()).password or ""), SHIPPED_DATABASE_PASSWORDS
            ):
                found.append("TWIN_AIRFLOW_BROKER_URL (its password: the Redis broker must require one)")
        elif name == "airflow_jwt_secret":
            value = environ.get(AIRFLOW_JWT_SECRET_VAR)
            if value is not None and _shipped(value, set()):
                found.append(AIRFLOW_JWT_SECRET_VAR)
        elif _shipped(getattr(settings, name).get_secret_value(), SHIPPED_SECRETS[name]):
            found.append(_env_name(name))
    return found


def require_secrets(settings: Settings, *names: str, component: str, environ: dict[str, str] | None = None) -> None:
    """Refuse to start ``component`` with shipped default secrets, unless ``TWIN_DEBUG`` is on (local debugging)."""
    if settings.debug:
        return
    found = insecure_secrets(settings, names, environ)
    if found:
        raise SettingsError(
            f"{component} refuses to start with the shipped default value of {', '.join(found)}. Set each to a "
            f"long random value (e.g. {GENERATE_HINT}), or run `twin up`, which keeps generated local secrets in "
            f"$TWIN_HOME/{SECRETS_FILE}. Only local debugging (TWIN_DEBUG=true) accepts the defaults."
        )


def _env_name(field_name: str) -> str:
    """The environment variable behind a field (or behind an error location, which may be the alias)."""
    aliases = {
        field.validation_alias for field in Settings.model_fields.values() if isinstance(field.validation_alias, str)
    }
    if field_name in aliases:
        return field_name
    field = Settings.model_fields.get(field_name)
    if field is not None and isinstance(field.validation_alias, str):
        return field.validation_alias
    return f"TWIN_{field_name.upper()}"


def load_settings(**overrides) -> Settings:
    """Build settings from the environment (and ``.env``); raise :class:`SettingsError` if invalid."""
    try:
        env_files = overrides.pop("_env_file", PROJECT_ROOT / ".env")
        settings = Settings(_env_file=env_files, **overrides)
        local_secrets = settings.home / SECRETS_FILE
        if env_files is not None and local_secrets.is_file():  # generated by `twin up`; env and .env still win
            files = tuple(env_files) if isinstance(env_files, (list, tuple)) else (env_files,)
            settings = Settings(_env_file=(local_secrets, *files), **overrides)
        return settings
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = _env_name(str(error["loc"][0])) if error["loc"] else "settings"
            value = error.get("input")
            hidden = ("secret", "token", "password", "broker")
            shown = "" if any(word in name.lower() for word in hidden) else f"={value!r}"
            lines.append(f"invalid setting {name}{shown}: {error['msg']}")
        raise SettingsError(
            "\n".join(lines) + "\nFix the variable in your environment or .env (see .env.example)."
        ) from None


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call ``get_settings.cache_clear()`` after changing env."""
    return load_settings()
