"""Deploying the Serve application from its config file, as ``serve run config.yaml`` does:
the project's Ray (``RAY_ADDRESS``, the stack's cluster or a private local one), Serve's HTTP
proxy on the configured host and port, the application applied declaratively (so a later deploy
that only changes a deployment's ``user_config`` reconfigures it in place)."""

from __future__ import annotations

import copy
import time
from pathlib import Path

from serving.config import APP_NAME, DEFAULT_CONFIG_PATH, parse_args, read_config_file

EXCLUDES = [".venv/", ".twin/", ".git/", "node_modules/", "*.pyc", "__pycache__/"]


class DeployError(RuntimeError):
    pass


def load_deploy_config(
    path: str | Path | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    env_vars: dict[str, str] | None = None,
    user_configs: dict[str, dict] | None = None,
    args: dict | None = None,
    working_dir: str | None = None,
) -> dict:
    """The config file with overrides applied: HTTP host/port, app ``runtime_env`` env vars and
    working dir, a deployment's ``user_config`` (merged), app ``args`` (deep-merged)."""
    config = copy.deepcopy(read_config_file(path or DEFAULT_CONFIG_PATH))
    http = config.setdefault("http_options", {})
    if host:
        http["host"] = host
    if port:
        http["port"] = int(port)
    app = _app(config)
    runtime_env = app.setdefault("runtime_env", {}) or {}
    app["runtime_env"] = runtime_env
    if env_vars:
        runtime_env.setdefault("env_vars", {}).update(env_vars)
    if working_dir:
        runtime_env["working_dir"] = working_dir
        runtime_env.setdefault("excludes", EXCLUDES)
    if args:
        app["args"] = _merge(app.get("args") or {}, args)
    parse_args(app.get("args"))
    for name, values in (user_configs or {}).items():
        deployment = next((d for d in app.setdefault("deployments", []) if d.get("name") == name), None)
        if deployment is None:
            deployment = {"name": name}
            app["deployments"].append(deployment)
        deployment["user_config"] = {**(deployment.get("user_config") or {}), **values}
    return config


def _app(config: dict) -> dict:
    for app in config["applications"]:
        if app.get("name", APP_NAME) == APP_NAME:
            return app
    return config["applications"][0]


def _merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = _merge(merged.get(key) or {}, value) if isinstance(value, dict) else value
    return merged


def ensure_ray(settings, *, num_cpus: int | None = None, dashboard: bool | None = None) -> bool:
    """Join ``RAY_ADDRESS``, or the stack's local cluster (``$TWIN_HOME/ray.json``), or start a private
    local Ray (see :mod:`twin.core.ray_cluster`); returns whether this call initialised Ray.
    ``num_cpus`` and ``dashboard`` apply to a private Ray only."""
    from twin.core.ray_cluster import connect_or_start

    return connect_or_start(
        settings,
        namespace="serve",
        runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "false"}},
        num_cpus=num_cpus,
        dashboard=dashboard,
        log_to_driver=False,
    )


def deploy(config: dict, *, timeout_s: float = 600) -> str:
    """Apply ``config`` (start Serve's proxy first) and wait until the application is RUNNING;
    returns the base URL. Raises :class:`DeployError` with Serve's message when it fails."""
    from ray import serve
    from ray.serve._private.api import serve_start
    from ray.serve.schema import ServeDeploySchema

    schema = ServeDeploySchema.model_validate(config)
    client = serve_start(
        http_options=schema.http_options.model_dump(),
        proxy_location=schema.proxy_location,
        global_logging_config=schema.logging_config,
    )
    client.deploy_apps(schema)
    app_name = _app(config).get("name", APP_NAME)
    deadline = time.monotonic() + timeout_s
    while True:
        status = serve.status().applications.get(app_name)
        state = str(getattr(status, "status", "")).rsplit(".", 1)[-1] if status else ""
        if state == "RUNNING" and _deployments_healthy(status):
            break
        if state in ("DEPLOY_FAILED", "UNHEALTHY"):
            raise DeployError(f"application {app_name} {state}: {_status_message(status)}")
        if time.monotonic() > deadline:
            raise DeployError(
                f"application {app_name} not running after {timeout_s:.0f}s ({state}): {_status_message(status)}"
            )
        time.sleep(0.5)
    http = schema.http_options
    host = "127.0.0.1" if http.host in ("0.0.0.0", "::") else http.host
    return f"http://{host}:{http.port}"


def _deployments_healthy(status) -> bool:
    return all(str(d.status).rsplit(".", 1)[-1] == "HEALTHY" for d in status.deployments.values())


def _status_message(status) -> str:
    if status is None:
        return "no status yet"
    messages = [status.message] + [f"{name}: {d.message}" for name, d in status.deployments.items() if d.message]
    return "; ".join(message for message in messages if message)[:4000]


def shutdown(started_ray: bool = True) -> None:
    """Shut Serve down (the application, its replicas and proxies) and this process's Ray: a private
    Ray stops with it; on a cluster it joined, only this driver disconnects and the cluster runs on."""
    import ray
    from ray import serve

    try:
        serve.shutdown()
    finally:
        if started_ray and ray.is_initialized():
            ray.shutdown()
