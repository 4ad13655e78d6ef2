"""One Ray per stack: the local head node `twin up` / `twin demo` start, and how every process of
the project finds and joins a Ray cluster.

Which cluster a process uses (:func:`connect_or_start`):

1. ``RAY_ADDRESS`` when set. Its form says what kind of cluster it is (:func:`address_kind`):

   * ``ray://HOST:PORT`` (Ray Client) or ``http(s)://HOST:8265`` (job server): a **remote** cluster.
     This machine is not one of its nodes, so the project is shipped to it as a ``working_dir``
     (``twin serve`` deploys and exits, ``twin train`` submits a job).
   * a plain GCS address ``HOST:PORT`` (e.g. ``127.0.0.1:6379``): a **local** cluster, i.e. one this
     machine is a node of (the stack's head, or a node of a cluster started with ``ray start``).
     Drivers attach to it directly and its workers read the project from this checkout;
     ``twin serve`` deploys to it and stays in the foreground until stopped.

2. No ``RAY_ADDRESS``: the cluster this project's stack started, recorded in ``$TWIN_HOME/ray.json``
   while it runs (:func:`discover`), so a ``twin train`` by hand next to ``twin up`` lands in the same
   Ray (and the same dashboard) as everything else.

3. Otherwise a private Ray in this process (``ray.init``), with the dashboard on the port of
   ``TWIN_RAY_DASHBOARD_URL`` when that port is free, and without a dashboard when it is taken (e.g. by
   a ``twin serve`` started by hand), so two standalone commands never fight over the port.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from twin.core.ports import LOCAL_HOST, port_free, port_open
from twin.core.settings import PROJECT_ROOT, Settings

logger = logging.getLogger(__name__)

STATE_FILE = "ray.json"

AddressKind = Literal["none", "local", "remote"]

# Environment every process of a local stack runs with, drivers and the head alike.
RAY_ENV_DEFAULTS = {
    "RAY_AUTH_MODE": "disabled",  # Ray 2.60 enables token auth by default; a local stack is one user's machine
}


def address_kind(address: str | None) -> AddressKind:
    """``none`` (unset), ``remote`` (``ray://``, ``http://``, ``https://``) or ``local`` (a plain GCS
    ``host:port`` of a cluster this machine is a node of)."""
    if not address or not address.strip():
        return "none"
    if address.strip().lower().startswith(("ray://", "http://", "https://")):
        return "remote"
    return "local"


def default_num_cpus(settings: Settings) -> int:
    """Logical CPUs of the stack's head: TWIN_RAY_NUM_CPUS, else at least 8. Serving's deployments
    reserve ~1.7 CPUs for as long as they run; a Ray Train run (2 workers for the tiny config) and its
    evaluation tasks must still be schedulable next to them. Logical CPUs only gate scheduling."""
    return settings.ray_num_cpus or max(8, os.cpu_count() or 1)


def dashboard_port(settings: Settings) -> int:
    """The dashboard's port: the one in TWIN_RAY_DASHBOARD_URL (where the README and the web app point)."""
    return settings.ray_dashboard_url.port or 8265


# --- the stack's cluster, recorded in $TWIN_HOME/ray.json ----------------------------------------------


@dataclass(frozen=True)
class LocalCluster:
    """A Ray head started by this project's stack (``twin up`` / ``twin demo``)."""

    address: str  # GCS address, 127.0.0.1:PORT: what RAY_ADDRESS is set to
    pid: int  # the ``ray start --head --block`` process (leader of its process group and session)
    dashboard_url: str | None
    num_cpus: int
    project_root: str
    started_at: float
    temp_dir: str | None = None  # the head's Ray temp dir (sessions, logs)


def state_path(settings: Settings) -> Path:
    return settings.home / STATE_FILE


def write_state(settings: Settings, cluster: LocalCluster) -> Path:
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(asdict(cluster), indent=2) + "\n", encoding="utf-8")
    temporary.replace(path)
    return path


def read_state(settings: Settings) -> LocalCluster | None:
    try:
        record = json.loads(state_path(settings).read_text(encoding="utf-8"))
        return LocalCluster(**record)
    except (OSError, ValueError, TypeError):
        return None


def remove_state(settings: Settings, pid: int | None = None) -> None:
    """Remove ``ray.json`` (only if it records ``pid``, when given: never another stack's record)."""
    recorded = read_state(settings)
    if pid is not None and recorded is not None and recorded.pid != pid:
        return
    state_path(settings).unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def discover(settings: Settings) -> LocalCluster | None:
    """The cluster recorded in ``$TWIN_HOME/ray.json`` if it is still running (its head process alive
    and its GCS port answering); a stale record (a stack that was killed) is removed."""
    cluster = read_state(settings)
    if cluster is None:
        return None
    if _pid_alive(cluster.pid) and port_open(cluster.address):
        return cluster
    remove_state(settings, cluster.pid)
    return None


def _cluster_to_join(settings: Settings) -> tuple[str | None, LocalCluster | None]:
    """``RAY_ADDRESS`` first (no stack record), then the stack's cluster from ``ray.json``."""
    if settings.ray_address:
        return settings.ray_address.strip(), None
    cluster = discover(settings)
    return (cluster.address, cluster) if cluster is not None else (None, None)


def resolve_address(settings: Settings) -> tuple[AddressKind, str | None]:
    """What :func:`connect_or_start` will do: (``remote`` | ``local``, address) or (``none``, None)
    for a private Ray. ``RAY_ADDRESS`` first, then the stack's cluster from ``ray.json``."""
    address, _ = _cluster_to_join(settings)
    return (address_kind(address), address) if address is not None else ("none", None)


# --- joining ------------------------------------------------------------------------------------------


def train_env(*, dashboard: bool, single_node: bool) -> dict[str, str]:
    """Which of Ray Train's helper actors (one process each, read from the driver's environment) are
    worth starting. State tracking feeds the dashboard's Train page; without a dashboard its actor only
    logs failed state-API calls. The preemption watcher follows node draining, which only happens on a
    cluster with nodes to lose (a cloud autoscaler's spot nodes), never on this machine's own Ray."""
    return {
        "RAY_TRAIN_ENABLE_STATE_TRACKING": "1" if dashboard else "0",
        "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0" if single_node else "1",
    }


def apply_driver_env(*, dashboard: bool, single_node: bool) -> None:
    """Defaults only: a stack's components get these from the stack (:func:`train_env`), the user's
    own settings win."""
    for name, value in {**RAY_ENV_DEFAULTS, **train_env(dashboard=dashboard, single_node=single_node)}.items():
        os.environ.setdefault(name, value)


def connect_or_start(
    settings: Settings,
    *,
    namespace: str | None = None,
    runtime_env: dict | None = None,
    num_cpus: int | None = None,
    dashboard: bool | None = None,
    log_to_driver: bool = True,
) -> bool:
    """``ray.init`` for this process (see the module doc for which cluster); returns whether this call
    initialised Ray (False when it already was). ``num_cpus`` and ``dashboard`` only apply to a
    private Ray started here."""
    import ray

    if ray.is_initialized():
        return False
    options = {"namespace": namespace, "runtime_env": runtime_env, "log_to_driver": log_to_driver}
    address, stack = _cluster_to_join(settings)
    if address is not None:
        if stack is None:  # any cluster: assume the dashboard and nodes that come and go
            apply_driver_env(dashboard=True, single_node=False)
        else:
            apply_driver_env(dashboard=stack.dashboard_url is not None, single_node=True)
            logger.info("joining this project's Ray at %s (%s)", address, state_path(settings))
        ray.init(address=address, **options)
        return True
    dashboard = settings.ray_dashboard if dashboard is None else dashboard
    port = dashboard_port(settings)
    if dashboard and not port_free(port):
        logger.warning(
            "port %s of the Ray dashboard is taken (another Ray, e.g. a `twin serve`): this Ray runs "
            "without a dashboard; `twin up` runs every component on one Ray with one dashboard",
            port,
        )
        dashboard = False
    apply_driver_env(dashboard=dashboard, single_node=True)
    # address="local": a new Ray even when `ray start` ran on this machine (plain ray.init() would
    # join the cluster /tmp/ray/ray_current_cluster names, running or not)
    ray.init(
        address="local",
        num_cpus=num_cpus or settings.ray_num_cpus,
        include_dashboard=dashboard,
        dashboard_port=port if dashboard else None,
        **options,
    )
    return True


# --- the head node ------------------------------------------------------------------------------------


def head_temp_dir(settings: Settings) -> Path:
    """The head's own Ray temp dir (one per TWIN_HOME, short: Ray's Unix sockets live under it).
    Not Ray's default /tmp/ray: `ray start` records its cluster there as the one every plain
    ``ray.init()`` on the machine joins, which must not capture unrelated Ray programs (or tests)."""
    digest = hashlib.sha256(str(settings.home).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"twin-ray-{digest}"


def head_command(
    settings: Settings, *, gcs_port: int, client_port: int, agent_port: int, num_cpus: int | None = None
) -> list[str]:
    """``ray start --head --block`` for a single-node cluster on this machine: every advertised
    address 127.0.0.1, fixed free ports where Ray's defaults (6379, 10001, 52365) could collide with
    another Ray on the machine, the dashboard on TWIN_RAY_DASHBOARD_URL's port, its own temp dir."""
    import sys

    ray_bin = str(Path(sys.executable).parent / "ray")
    command = [
        ray_bin,
        "start",
        "--head",
        "--block",
        f"--temp-dir={head_temp_dir(settings)}",
        f"--node-ip-address={LOCAL_HOST}",
        f"--port={gcs_port}",
        f"--ray-client-server-port={client_port}",
        f"--dashboard-agent-listen-port={agent_port}",
        f"--num-cpus={num_cpus or default_num_cpus(settings)}",
        "--disable-usage-stats",
    ]
    if settings.ray_dashboard:
        command += [
            "--include-dashboard=true",
            f"--dashboard-host={LOCAL_HOST}",
            f"--dashboard-port={dashboard_port(settings)}",
        ]
    else:
        command += ["--include-dashboard=false"]
    return command


def head_env(base_env: dict[str, str]) -> dict[str, str]:
    """The head's environment (inherited by every Ray worker: serving replicas, training workers):
    the stack's environment, the project importable, no RAY_ADDRESS (it is the cluster)."""
    env = {name: value for name, value in base_env.items() if name != "RAY_ADDRESS"}
    env.update(RAY_ENV_DEFAULTS)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), base_env.get("PYTHONPATH")]))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"] = "0"  # one node: nothing to drain to on SIGTERM
    return env


def wait_until_ready(
    address: str, *, env: dict[str, str], alive, timeout: float = 120.0, dashboard_url: str | None = None
) -> None:
    """Wait until the GCS answers, ``ray status`` sees the node, and (if any) the dashboard answers.
    ``alive()`` says whether the head process still runs; raises ``TimeoutError`` / ``RuntimeError``."""
    import subprocess
    import sys

    import httpx

    ray_bin = str(Path(sys.executable).parent / "ray")
    deadline = time.monotonic() + timeout
    status_ok = False
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("the Ray head exited")
        if not status_ok and port_open(address):
            result = subprocess.run(
                [ray_bin, "status", "--address", address], env=env, capture_output=True, text=True, timeout=60
            )
            status_ok = result.returncode == 0 and "Active:" in result.stdout and " CPU" in result.stdout
        if status_ok:
            if dashboard_url is None:
                return
            try:
                if httpx.get(f"{dashboard_url.rstrip('/')}/api/version", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
        time.sleep(1)
    raise TimeoutError(f"the Ray head at {address} was not ready after {timeout:.0f}s")
