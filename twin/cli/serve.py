"""``twin serve``: the Ray Serve RAG application (``POST /v1/posts``) on this machine's Ray or a remote cluster."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

from twin.cli.common import SERVING_SECRETS, console, fail, service_settings, settings_or_exit
from twin.core.settings import PROJECT_ROOT

app = typer.Typer()

# serving's replicas connect as the read-mostly serving role (twin.core.db), wherever they run
SERVING_ENV = {"TWIN_DB_ROLE": os.environ.get("TWIN_DB_ROLE", "serving")}


@app.command("serve")
def serve_command(
    config: Annotated[Path | None, typer.Option(help="Serve config file (default: TWIN_SERVING_CONFIG)")] = None,
    host: Annotated[str | None, typer.Option(help="HTTP host (default: the host of TWIN_SERVING_URL)")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port (default: the port of TWIN_SERVING_URL, 8100)")] = None,
    num_cpus: Annotated[
        int | None, typer.Option(help="CPUs of a private local Ray (default: TWIN_RAY_NUM_CPUS or all)")
    ] = None,
    print_config: Annotated[bool, typer.Option("--print-config", help="print the effective config and exit")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait for the application to be running")] = 600,
) -> None:
    """Start the serving app on this machine's Ray and serve until Ctrl-C, or deploy it to a remote cluster.

    Ray: RAY_ADDRESS when set, else the Ray `twin up` / `twin demo` started (recorded in
    $TWIN_HOME/ray.json), else a private local Ray. With a local cluster (a plain HOST:PORT address)
    the app is deployed from this checkout and removed again when this command stops; the cluster
    keeps running. With a remote one (ray://HEAD:10001) the project is uploaded, the app deployed and
    the command exits, leaving the app running there.

    Prints the URL; the API is documented at URL/docs. Requests need
    `Authorization: Bearer <user token>`, signed with TWIN_SERVING_TOKEN (see serving/README.md).
    """
    import yaml

    from serving.config import ServingConfigError
    from serving.deploy import deploy, ensure_ray, load_deploy_config, shutdown

    settings = settings_or_exit()
    path = config or settings.serving_config
    path = path if path.is_absolute() else (PROJECT_ROOT / path if not path.exists() else path.resolve())
    host = host or settings.serving_url.host
    port = port or settings.serving_url.port or 8100
    try:
        effective = load_deploy_config(path, host=host, port=port, env_vars=SERVING_ENV)
    except ServingConfigError as exc:
        raise fail(str(exc), 2)
    if print_config:
        typer.echo(yaml.safe_dump(effective, sort_keys=False))
        return
    settings = service_settings(*SERVING_SECRETS, component="serving")

    import ray

    from twin.core.ray_cluster import resolve_address

    kind, address = resolve_address(settings)
    if kind == "remote" and not address.lower().startswith("ray://"):
        raise fail(
            f"RAY_ADDRESS={address} is a job server address (what `twin train` submits to); "
            "`twin serve` deploys through Ray Client: use ray://HEAD:10001",
            2,
        )
    with console.status("starting Ray..." if kind == "none" else f"connecting to {address}..."):
        if kind == "remote":
            # ship the project to the cluster once; the application uses the uploaded copy
            from serving.deploy import EXCLUDES

            ray.init(
                address=address,
                namespace="serve",
                runtime_env={"working_dir": str(PROJECT_ROOT), "excludes": EXCLUDES},
                log_to_driver=False,
            )
            started = True
            uploaded = (ray.get_runtime_context().runtime_env or {}).get("working_dir")
            effective = load_deploy_config(path, host=host, port=port, working_dir=uploaded, env_vars=SERVING_ENV)
        else:  # a cluster this machine is a node of (the stack's), or a private local Ray
            started = ensure_ray(settings, num_cpus=num_cpus)
    try:
        with console.status("deploying the serving application (loading models)..."):
            url = deploy(effective, timeout_s=timeout)
    except Exception as exc:  # DeployError, or Ray failing to start replicas
        if kind != "remote":
            shutdown(started)
        raise fail(f"serving did not start: {exc}")
    if kind == "remote":
        console.print(
            f"Deployed to {address}; the cluster's Serve proxy listens on port {port} "
            "(`serve status` shows the application)."
        )
        ray.shutdown()
        return
    typer.echo(url)
    where = "on a private local Ray" if kind == "none" else f"on the Ray at {address}"
    console.print(f"Serving on {url} (API docs: {url}/docs) {where}. Ctrl-C stops it.", highlight=False)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping...")
        shutdown(started)  # Serve's app and proxies; a joined cluster keeps running


@app.command("user-token")
def user_token(
    user: Annotated[str, typer.Argument(help="the user's email or numeric id")],
    ttl: Annotated[int, typer.Option(help="lifetime in seconds (at most 300)")] = 300,
) -> None:
    """Print a short-lived token that lets a request to serving act for USER (for curl and scripts).

    Signed with TWIN_SERVING_TOKEN, as the web app signs one per request; send it as
    `Authorization: Bearer <token>`.
    """
    from twin.core.user_tokens import MAX_TTL_S, sign_user_token

    if not 0 < ttl <= MAX_TTL_S:
        raise fail(f"--ttl must be between 1 and {MAX_TTL_S} seconds", 2)
    settings = service_settings("serving_token", component="twin user-token")
    typer.echo(sign_user_token(settings.serving_token.get_secret_value(), user, issuer="twin-cli", ttl_s=ttl))
