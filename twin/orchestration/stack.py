"""The product's long-running services started together (`twin up`, `twin demo`).

One local Ray head (`ray start --head --block`) that every component joins through RAY_ADDRESS,
Airflow's four components, the Ray Serve app (`twin serve`) and the web app (`twin web`), each in
its own process group (and session) so that stopping ends every process they started.

Database roles (embedded server): the web app connects as ``web``, the Ray head's workers (serving's
replicas; training's workers use no database) as ``serving``, Airflow's tasks as ``pipeline``;
Airflow's metadata, migrations and the CLI stay the owner. With DATABASE_URL the same, for each role
whose TWIN_DB_PASSWORD_<ROLE> is set (see :mod:`twin.core.db`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from twin.core import ports, ray_cluster
from twin.core.processes import start_service, stop_tree
from twin.core.settings import PROJECT_ROOT, Settings
from twin.orchestration.airflow import AirflowProcesses, airflow_home, local_workers, prepare
from twin.orchestration.web_server import gunicorn_command


class StackError(RuntimeError):
    pass


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 20.0) -> None:
        # SIGINT first (what Ctrl-C would send), then SIGTERM; then the group, the session and every
        # descendant (Ray gives each worker a process group of its own)
        stop_tree(self.process, signals=((signal.SIGINT, grace), (signal.SIGTERM, 10.0)))


class RayHead(Service):
    def stop(self, grace: float = 30.0) -> None:
        """`ray start --block` stops every Ray process of the node on SIGTERM (GCS, raylet, dashboard,
        workers); the group and session are killed after that, as for every service."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        super().stop(grace=5.0)


@dataclass
class Stack:
    settings: Settings
    env: dict[str, str]
    log_dir: Path
    airflow: AirflowProcesses | None = None
    services: list[Service] = field(default_factory=list)
    ray_head: RayHead | None = None
    ray_address: str | None = None

    @classmethod
    def create(cls, settings: Settings, extra_env: dict[str, str] | None = None) -> Stack:
        log_dir = settings.home / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **(extra_env or {}), "TWIN_HOME": str(settings.home)}
        return cls(settings, env, log_dir)

    def _spawn(
        self, name: str, command: list[str], *, env: dict[str, str] | None = None, kind: type[Service] = Service
    ) -> Service:
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            process = start_service(
                command,
                cwd=PROJECT_ROOT,
                env=env or self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        service = kind(name, process, log_path)
        if kind is Service:
            self.services.append(service)
        return service

    def start_ray(self, timeout: float = 180.0) -> str:
        """Start the stack's one Ray (a local head node) and point every component started after it
        at it: RAY_ADDRESS (its GCS address, 127.0.0.1:PORT) in the stack's env, and the address in
        ``$TWIN_HOME/ray.json`` for commands run by hand. With RAY_ADDRESS already set, nothing is
        started: the components use that cluster. Returns the address."""
        settings = self.settings
        if settings.ray_address:
            self.ray_address = settings.ray_address
            return settings.ray_address
        running = ray_cluster.discover(settings)
        if running is not None:
            raise StackError(
                f"this project's Ray is already running at {running.address} (pid {running.pid}, "
                f"{ray_cluster.state_path(settings)}): another `twin up` or `twin demo` uses "
                f"TWIN_HOME={settings.home}; stop it first"
            )
        dashboard_port = ray_cluster.dashboard_port(settings)
        if settings.ray_dashboard and not ports.port_free(dashboard_port):
            raise StackError(
                f"port {dashboard_port} for the Ray dashboard (TWIN_RAY_DASHBOARD_URL) is in use, e.g. by "
                "a Ray that `twin serve` or `twin train` started by hand: stop it, or set "
                "TWIN_RAY_DASHBOARD_URL to a free port"
            )
        gcs_port, client_port, agent_port = ports.free_ports(3)
        num_cpus = ray_cluster.default_num_cpus(settings)
        command = ray_cluster.head_command(
            settings, gcs_port=gcs_port, client_port=client_port, agent_port=agent_port, num_cpus=num_cpus
        )
        env = {**ray_cluster.head_env(self.env), "TWIN_DB_ROLE": "serving"}
        head = self._spawn("ray-head", command, env=env, kind=RayHead)
        self.ray_head = head
        address = f"{ports.LOCAL_HOST}:{gcs_port}"
        dashboard_url = f"http://{ports.LOCAL_HOST}:{dashboard_port}" if settings.ray_dashboard else None
        try:
            ray_cluster.wait_until_ready(
                address, env=env, alive=head.alive, timeout=timeout, dashboard_url=dashboard_url
            )
        except (TimeoutError, RuntimeError) as exc:
            raise StackError(f"Ray did not start ({exc}); see {head.log}:\n" + _tail(head.log)) from None
        ray_cluster.write_state(
            settings,
            ray_cluster.LocalCluster(
                address=address,
                pid=head.process.pid,
                dashboard_url=dashboard_url,
                num_cpus=num_cpus,
                project_root=str(PROJECT_ROOT),
                started_at=time.time(),
                temp_dir=str(ray_cluster.head_temp_dir(settings)),
            ),
        )
        self.env.update(ray_cluster.RAY_ENV_DEFAULTS)
        self.env.update(ray_cluster.train_env(dashboard=dashboard_url is not None, single_node=True))
        self.env["RAY_ADDRESS"] = address
        self.ray_address = address
        return address

    def start_airflow(self) -> None:
        env = prepare(self.settings.model_copy(update={"db_role": "pipeline"}), base_env=self.env)
        self.airflow = AirflowProcesses(
            env, airflow_home(self.settings) / "logs" / "components", workers=local_workers(self.settings)
        )
        self.airflow.start()
        self.airflow.wait_until_ready(str(self.settings.airflow_url), timeout=300)

    def start_serving(self, timeout: float = 900.0) -> str:
        """`twin serve` on the stack's Ray; returns its URL once it answers."""
        service, url = self._spawn_serving()
        self._wait_http(service, f"{url}/healthz", timeout, ok=(200,))
        return url

    def _spawn_serving(self) -> tuple[Service, str]:
        service = self._spawn(
            "serving", [sys.executable, "-m", "twin", "serve"], env={**self.env, "TWIN_DB_ROLE": "serving"}
        )
        return service, str(self.settings.serving_url).rstrip("/")

    def start_web(self, timeout: float = 120.0) -> str:
        """The web app (gunicorn); returns its URL once it answers."""
        url = f"http://127.0.0.1:{self.settings.web_port}"
        service = self._spawn(
            "web", gunicorn_command("127.0.0.1", self.settings.web_port), env={**self.env, "TWIN_DB_ROLE": "web"}
        )
        self._wait_http(service, f"{url}/accounts/login/", timeout, ok=(200,))
        return url

    def start_services(self, timeout: float = 900.0) -> tuple[str, str]:
        """Ray Serve and Airflow side by side (each needs only the database and Ray), then the web
        app, so that its page answers once everything behind it does; returns (web URL, serving URL)."""
        serving, serving_url = self._spawn_serving()
        self.start_airflow()
        self._wait_http(serving, f"{serving_url}/healthz", timeout, ok=(200,))
        return self.start_web(), serving_url

    def _wait_http(self, service: Service, url: str, timeout: float, ok: tuple[int, ...]) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not service.alive():
                raise StackError(
                    f"{service.name} exited (status {service.process.returncode}); see {service.log}:\n"
                    + _tail(service.log)
                )
            try:
                if httpx.get(url, timeout=5).status_code in ok:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise StackError(f"{service.name} did not answer {url} within {timeout:.0f}s; see {service.log}")

    def dead(self) -> list[str]:
        dead = [service.name for service in self.services if not service.alive()]
        dead += ["ray head"] if self.ray_head is not None and not self.ray_head.alive() else []
        return dead + ([f"airflow {name}" for name in self.airflow.dead()] if self.airflow else [])

    def stop(self) -> None:
        """The web app, serving and Airflow together (each waits out its own grace period), then
        the Ray head (Airflow's tasks and serving are its drivers)."""
        stopping = [service.stop for service in self.services] + ([self.airflow.stop] if self.airflow else [])
        with ThreadPoolExecutor(max_workers=max(1, len(stopping))) as pool:
            for stopped in [pool.submit(stop) for stop in stopping]:
                stopped.result()
        self.services.clear()
        self.airflow = None
        if self.ray_head is not None:
            ray_cluster.remove_state(self.settings, self.ray_head.process.pid)
            self.ray_head.stop()
            self.ray_head = None


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
