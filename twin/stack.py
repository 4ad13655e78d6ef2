"""The product's long-running services started together (`twin up`, `twin demo`).

Airflow's four components, the Ray Serve app (`twin serve`) and the web app (`twin web`), each in
its own process group so that stopping ends every process they started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from twin.airflow import AirflowProcesses, airflow_home, prepare
from twin.settings import PROJECT_ROOT, Settings


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
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            if self.process.poll() is not None:
                break
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # anything the service left behind in its group
        except ProcessLookupError:
            pass


@dataclass
class Stack:
    settings: Settings
    env: dict[str, str]
    log_dir: Path
    airflow: AirflowProcesses | None = None
    services: list[Service] = field(default_factory=list)

    @classmethod
    def create(cls, settings: Settings, extra_env: dict[str, str] | None = None) -> "Stack":
        log_dir = settings.home / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **(extra_env or {}), "TWIN_HOME": str(settings.home)}
        return cls(settings, env, log_dir)

    def _spawn(self, name: str, command: list[str]) -> Service:
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        service = Service(name, process, log_path)
        self.services.append(service)
        return service

    def start_airflow(self) -> None:
        env = prepare(self.settings, base_env=self.env)
        self.airflow = AirflowProcesses(env, airflow_home(self.settings) / "logs" / "components")
        self.airflow.start()
        self.airflow.wait_until_ready(str(self.settings.airflow_url), timeout=300)

    def start_serving(self, timeout: float = 900.0) -> str:
        service = self._spawn("serving", [sys.executable, "-m", "twin", "serve"])
        url = str(self.settings.serving_url).rstrip("/")
        self._wait_http(service, f"{url}/healthz", timeout, ok=(200,))
        return url

    def start_web(self, timeout: float = 120.0) -> str:
        port = self.settings.web_port
        service = self._spawn("web", [sys.executable, "-m", "webapp.manage", "runserver", f"127.0.0.1:{port}", "--noreload"])
        url = f"http://127.0.0.1:{port}"
        self._wait_http(service, f"{url}/accounts/login/", timeout, ok=(200,))
        return url

    def _wait_http(self, service: Service, url: str, timeout: float, ok: tuple[int, ...]) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not service.alive():
                raise StackError(f"{service.name} exited (status {service.process.returncode}); see {service.log}:\n"
                                 + _tail(service.log))
            try:
                if httpx.get(url, timeout=5).status_code in ok:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise StackError(f"{service.name} did not answer {url} within {timeout:.0f}s; see {service.log}")

    def dead(self) -> list[str]:
        dead = [service.name for service in self.services if not service.alive()]
        return dead + ([f"airflow {name}" for name in self.airflow.dead()] if self.airflow else [])

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.services.clear()
        if self.airflow is not None:
            self.airflow.stop()
            self.airflow = None


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
