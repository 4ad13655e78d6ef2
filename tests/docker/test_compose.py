"""docker/compose.yaml, docker/.env.example and docker/Dockerfile, checked statically (Docker cannot run here)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
SERVICES = {
    "postgres",
    "migrate",
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "ray-head",
    "ray-worker-gpu",
    "serving",
    "web",
}
PUBLISHED = {8000: "web"}  # the public door; everything else stays on the compose network
OPERATOR_PORTS = {8100: "serving", 8080: "airflow-api-server", 8265: "ray-head"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
# Names every component reads (../shared/DESIGN.md "Settings"), plus what the deployment itself needs.
REQUIRED_ENV = {
    "DATABASE_URL",
    "TWIN_HOME",
    "TWIN_SERVING_URL",
    "TWIN_SERVING_TOKEN",
    "TWIN_AIRFLOW_URL",
    "TWIN_AIRFLOW_USER",
    "TWIN_AIRFLOW_PASSWORD",
    "TWIN_ALLOW_PRIVATE_URLS",
    "TWIN_EMBEDDING_MODEL",
    "TWIN_BASE_MODEL",
    "RAY_ADDRESS",
    "TWIN_SECRET_KEY",
    "TWIN_ALLOWED_HOSTS",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "AIRFLOW__CORE__EXECUTOR",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__CORE__DAGS_FOLDER",
}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate((DOCKER / ".env.example").read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f".env.example line {number}: {line!r}"
        assert key not in values, f".env.example sets {key} twice"
        values[key] = value
    return values


def published_ports(service: dict) -> set[int]:
    ports = set()
    for entry in service.get("ports", []):
        text = str(entry["published"] if isinstance(entry, dict) else entry)
        ports.add(int(text.split(":")[0] if ":" in text else text))
    return ports


def test_services_images_and_builds(compose):
    services = compose["services"]
    assert set(services) == SERVICES
    assert services["postgres"]["image"] == "pgvector/pgvector:pg17" and "build" not in services["postgres"]
    for name in SERVICES - {"postgres"}:
        build = services[name]["build"]
        assert (DOCKER / build["context"]).resolve() == ROOT, name
        assert (ROOT / build["dockerfile"]).is_file(), name
        assert services[name]["image"].startswith("llm-twin"), name
    gpu_build = services["ray-worker-gpu"]["build"]
    assert re.fullmatch(r"https://download\.pytorch\.org/whl/cu\d+", gpu_build["args"]["TORCH_INDEX_URL"])
    assert (
        services["ray-worker-gpu"]["image"] != services["ray-head"]["image"]
    )  # CPU and CUDA builds are different images
    assert "TORCH_INDEX_URL" not in (
        services["ray-head"]["build"].get("args") or {}
    )  # the Dockerfile's default: CPU torch


def test_every_service_reads_the_one_env_file(compose):
    for name, service in compose["services"].items():
        files = service["env_file"]
        paths = [entry["path"] if isinstance(entry, dict) else entry for entry in files]
        assert paths[0] == ".env.example", name
        assert (DOCKER / paths[0]).is_file()
        overrides = [entry for entry in files if isinstance(entry, dict) and entry["path"] == ".env"]
        assert overrides and overrides[0]["required"] is False, f"{name}: docker/.env must stay optional"
        if name != "postgres":
            assert "twin-home:/data/twin" in service["volumes"], name  # TWIN_HOME shared by every component
    assert set(compose["volumes"]) == {"pgdata", "twin-home"}


def test_published_ports(compose):
    published = {port: name for name, service in compose["services"].items() for port in published_ports(service)}
    assert published == PUBLISHED  # Postgres and Ray's internal ports stay on the compose network


def test_operator_ports_are_published_on_loopback_only():
    """docker/compose.ops.yaml: Airflow, serving and the Ray dashboard (which runs code for whoever
    reaches it) are reachable from this machine only."""
    overlay = yaml.safe_load((DOCKER / "compose.ops.yaml").read_text())
    published = {}
    for name, service in overlay["services"].items():
        for entry in service["ports"]:
            host, host_port, container_port = str(entry).split(":")
            assert host == "127.0.0.1", f"{name} publishes {entry} beyond loopback"
            published[int(host_port)] = name
    assert published == OPERATOR_PORTS


def test_celery_overlay_runs_the_airflow_components_on_a_password_protected_broker(compose):
    """docker/compose.celery.yaml: every Airflow component on the CeleryExecutor, a Redis broker that
    requires REDIS_PASSWORD (compose refuses to start without one) and is not published, and workers
    built from the triggerer's service (same image, env files, TWIN_HOME volume)."""
    from airflow.providers.celery.get_provider_info import get_provider_info

    text = (DOCKER / "compose.celery.yaml").read_text()
    overlay = yaml.safe_load(text)
    services = overlay["services"]
    airflow = {name for name in compose["services"] if name.startswith("airflow-")}
    assert set(services) == airflow | {"redis", "airflow-worker"}
    assert not any(service.get("ports") for service in services.values())
    celery_options = get_provider_info()["config"]["celery"]["options"]
    for name in airflow | {"airflow-worker"}:
        environment = services[name]["environment"]
        assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        for key in environment:
            section, _, option = key.removeprefix("AIRFLOW__").lower().partition("__")
            assert section == "core" or (section == "celery" and option in celery_options), key
        broker = environment["AIRFLOW__CELERY__BROKER_URL"]
        assert broker.startswith("redis://:${REDIS_PASSWORD:?") and broker.endswith("}@redis:6379/0"), broker
    redis = services["redis"]
    assert "--requirepass" in " ".join(redis["command"]) and "$$REDIS_PASSWORD" in " ".join(redis["command"])
    assert redis["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"])
    worker = services["airflow-worker"]
    assert worker["extends"] == {"file": "compose.yaml", "service": "airflow-triggerer"}
    assert compose["services"]["airflow-triggerer"]["env_file"][-1]["path"] == "roles/pipeline.env"
    assert worker["command"] == ["airflow", "celery", "worker"]
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["airflow-scheduler"]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_healthchecks_and_dependencies(compose):
    services = compose["services"]
    for name, service in services.items():
        if name == "migrate":
            assert service["restart"] == "no" and "healthcheck" not in service
            continue
        test = service["healthcheck"]["test"]
        assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
        for needed, condition in (service.get("depends_on") or {}).items():
            assert needed in services and condition["condition"] in CONDITIONS, (name, needed)
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[needed], (name, needed)
            if condition["condition"] == "service_completed_successfully":
                assert needed == "migrate"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in SERVICES - {"postgres", "migrate", "ray-worker-gpu"}:
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
    assert services["ray-worker-gpu"]["depends_on"]["ray-head"] == {"condition": "service_healthy"}
    assert services["serving"]["depends_on"]["ray-head"] == {"condition": "service_healthy"}

    def visit(name: str, path: tuple) -> None:
        assert name not in path, f"dependency cycle: {' -> '.join(path + (name,))}"
        for needed in services[name].get("depends_on") or {}:
            visit(needed, path + (name,))

    for name in services:
        visit(name, ())


def test_gpu_reservation_on_the_ray_worker(compose):
    devices = compose["services"]["ray-worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert len(devices) == 1 and devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert int(devices[0]["count"]) >= 1
    others = [name for name, service in compose["services"].items() if name != "ray-worker-gpu" and "deploy" in service]
    assert others == []


def test_commands(compose):
    services = compose["services"]
    command = {name: " ".join(service.get("command") or []) for name, service in services.items()}
    for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
        assert command[f"airflow-{component}"].startswith(f"airflow {component}")
    assert "ray start --head" in command["ray-head"] and "--dashboard-port=8265" in command["ray-head"]
    assert "--ray-client-server-port=10001" in command["ray-head"] and "--dashboard-host=0.0.0.0" in command["ray-head"]
    assert "ray start --address=ray-head:6379" in command["ray-worker-gpu"] and "--block" in command["ray-worker-gpu"]
    assert command["web"].startswith("python -m gunicorn webapp.wsgi:application --bind 0.0.0.0:8000")
    assert "--worker-class gthread" in command["web"] and (ROOT / "webapp" / "wsgi.py").is_file()
    assert services["web"]["init"] is True  # tini: SIGTERM reaches gunicorn, which stops gracefully
    assert "twin migrate" in command["migrate"] and "twin airflow --migrate-only" in command["migrate"]
    assert "twin serve --host 0.0.0.0 --port 8100" in command["serving"]
    assert "ray start --address=ray-head:6379" in command["serving"] and command["serving"].endswith("&& wait")
    assert compose["services"]["serving"]["init"] is True  # tini: `docker stop` reaches bash's children


def test_twin_subcommands_used_by_compose_exist(compose):
    import typer.main

    from twin.cli.main import app

    known = set(typer.main.get_command(app).commands)
    used = {
        subcommand
        for service in compose["services"].values()
        for subcommand in re.findall(r"(?:^|[\s;&])twin ([a-z][a-z-]*)", " ".join(service.get("command") or []))
    }
    assert used == {"migrate", "airflow", "serve"}
    assert {"migrate", "airflow"} <= known
    if "serve" not in known:
        pytest.skip("`twin serve` (the serving service's command) is not in the CLI yet")


def test_env_file_covers_every_reference(compose, env):
    missing = REQUIRED_ENV - set(env)
    assert not missing, f"docker/.env.example lacks {sorted(missing)}"
    text = (DOCKER / "compose.yaml").read_text()
    interpolated = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    escaped = set(re.findall(r"\$\$\{([A-Za-z_][A-Za-z0-9_]*)", text))  # expanded by the container's shell
    assert (interpolated | escaped) <= set(env), sorted((interpolated | escaped) - set(env))
    for service in compose["services"].values():
        assert not service.get("environment"), "settings belong in the env file"


def test_env_file_names_are_real_settings(env):
    from twin.core.settings import Settings

    settings_names = set()
    for name, field in Settings.model_fields.items():
        settings_names.add(
            field.validation_alias if isinstance(field.validation_alias, str) else f"TWIN_{name.upper()}"
        )
    repo_example = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    unknown = {key for key in env if key.startswith("TWIN_") and key not in settings_names | repo_example}
    assert not unknown, f"not settings of the project: {sorted(unknown)}"


def test_env_file_values_fit_together(env):
    database = urlsplit(env["DATABASE_URL"])
    assert (database.scheme, database.hostname, database.port, database.path) == (
        "postgresql",
        "postgres",
        5432,
        f"/{env['POSTGRES_DB']}",
    )
    assert (database.username, database.password) == (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"])
    metadata = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert metadata.scheme == "postgresql+psycopg" and metadata.hostname == "postgres"  # the same server...
    assert (
        metadata.path == f"/{env['TWIN_AIRFLOW_DB_NAME']}" and metadata.password == env["POSTGRES_PASSWORD"]
    )  # ...its own database
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(":")[0] == env["TWIN_AIRFLOW_USER"]
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] == f"{env['TWIN_HOME']}/airflow/passwords.json"
    assert env["AIRFLOW_HOME"] == f"{env['TWIN_HOME']}/airflow"  # where `twin airflow --migrate-only` writes the login
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/app/dags"
    assert env["RAY_ADDRESS"] == "ray://ray-head:10001"
    assert urlsplit(env["TWIN_SERVING_URL"]).netloc == "serving:8100"
    assert urlsplit(env["TWIN_AIRFLOW_URL"]).netloc == "airflow-api-server:8080"
    assert urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).netloc == "airflow-api-server:8080"
    assert env["TWIN_ALLOW_PRIVATE_URLS"] == "false"


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(instruction, arguments) with line continuations joined and comments dropped."""
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        if raw.lstrip().startswith("#") and not current:
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.rstrip().endswith("\\"):
            if current.strip():
                instruction, _, arguments = current.strip().partition(" ")
                lines.append((instruction.upper(), arguments.strip()))
            current = ""
    return lines


def test_dockerfile_copies_only_what_exists_and_is_not_ignored():
    dockerfile = DOCKER / "Dockerfile"
    instructions = dockerfile_instructions(dockerfile)
    assert instructions[0] == ("FROM", "python:3.11-slim")
    ignored = {
        line.strip()
        for line in (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    copied = []
    for instruction, arguments in instructions:
        if instruction in ("COPY", "ADD"):
            words = [word for word in shlex.split(arguments) if not word.startswith("--")]
            assert "--from" not in arguments
            copied += words[:-1]
    assert {
        "requirements.lock",
        "pyproject.toml",
        "twin",
        "crawlers",
        "dbt",
        "dags",
        "webapp",
        "serving",
        "training",
    } <= set(copied)
    for source in copied:
        assert (ROOT / source).exists(), f"docker/Dockerfile copies {source}, which is not in the repository"
        assert source not in ignored and source.split("/")[0] not in ignored, (
            f"{source} is excluded by Dockerfile.dockerignore"
        )
    run = " ".join(arguments for instruction, arguments in instructions if instruction == "RUN")
    assert '--index-url "${TORCH_INDEX_URL}" "torch==2.13.0"' in run and "-r requirements.lock" in run
    assert "torch==2.13.0\n" in (ROOT / "requirements.lock").read_text()  # the pin the Dockerfile repeats
    assert ("ARG", "TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu") in instructions
    assert ("USER", "twin") in instructions
