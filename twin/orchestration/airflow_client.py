"""A small client for Airflow 3's REST API v2 with its token auth, for the web app and the CLI.

Errors are :class:`AirflowUnavailable` (not reachable: the caller may keep the request and retry)
or :class:`AirflowRejected` (reachable but said no: bad login, unknown DAG, invalid conf).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from twin.core.settings import Settings, get_settings

FINISHED_STATES = {"success", "failed"}


class AirflowUnavailable(RuntimeError):
    pass


class AirflowRejected(RuntimeError):
    def __init__(self, message: str, status_code: int):
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class DagRun:
    dag_id: str
    dag_run_id: str
    state: str
    conf: dict
    start_date: str | None
    end_date: str | None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


@dataclass(frozen=True)
class TaskState:
    task_id: str
    map_index: int
    state: str | None
    try_number: int
    queued_when: str | None = None
    start_date: str | None = None
    end_date: str | None = None


class AirflowClient:
    def __init__(self, base_url: str, username: str, password: str, *, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self._token: str | None = None
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> AirflowClient:
        settings = settings or get_settings()
        return cls(str(settings.airflow_url), settings.airflow_user, settings.airflow_password.get_secret_value())

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AirflowClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _send(self, method: str, path: str, **kwargs) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise AirflowUnavailable(
                f"Airflow at {self.base_url} is not reachable ({exc.__class__.__name__}: {exc})"
            ) from exc

    def _login(self) -> str:
        response = self._send("POST", "/auth/token", json={"username": self.username, "password": self._password})
        if response.status_code in (401, 403):
            raise AirflowRejected(
                f"Airflow refused the login for {self.username!r}: check TWIN_AIRFLOW_USER/PASSWORD",
                response.status_code,
            )
        _raise_for_status(response, "log in")
        return response.json()["access_token"]

    def _request(self, method: str, path: str, action: str, **kwargs) -> dict:
        for attempt in (1, 2):
            if self._token is None:
                self._token = self._login()
            response = self._send(method, path, headers={"Authorization": f"Bearer {self._token}"}, **kwargs)
            if response.status_code == 401 and attempt == 1:
                self._token = None  # expired: log in again once
                continue
            _raise_for_status(response, action)
            return response.json() if response.content else {}
        raise AssertionError("unreachable")

    def health(self) -> dict:
        response = self._send("GET", "/api/v2/monitor/health")
        _raise_for_status(response, "read health")
        return response.json()

    def unpause(self, dag_id: str, *, wait_for_parsing: float = 0.0) -> None:
        """Unpause a DAG; with ``wait_for_parsing`` seconds, wait for a DAG Airflow has not parsed yet (404)."""
        self.set_paused(dag_id, False, wait_for_parsing=wait_for_parsing)

    def pause(self, dag_id: str, *, wait_for_parsing: float = 0.0) -> None:
        """Pause a DAG: none of its runs starts (queued ones wait) until it is unpaused."""
        self.set_paused(dag_id, True, wait_for_parsing=wait_for_parsing)

    def set_paused(self, dag_id: str, paused: bool, *, wait_for_parsing: float = 0.0) -> None:
        deadline = time.monotonic() + wait_for_parsing
        action = f"{'pause' if paused else 'unpause'} {dag_id}"
        while True:
            try:
                self._request("PATCH", f"/api/v2/dags/{quote(dag_id, safe='')}", action, json={"is_paused": paused})
                return
            except AirflowRejected as exc:
                if exc.status_code != 404 or time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def trigger(self, dag_id: str, conf: dict | None = None, *, dag_run_id: str | None = None) -> DagRun:
        body: dict = {"logical_date": None, "conf": conf or {}}
        if dag_run_id:
            body["dag_run_id"] = dag_run_id
        data = self._request("POST", f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns", f"trigger {dag_id}", json=body)
        return _dag_run(data)

    def get_run(self, dag_id: str, dag_run_id: str) -> DagRun:
        path = f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(dag_run_id, safe='')}"
        return _dag_run(self._request("GET", path, f"read run {dag_run_id}"))

    def list_runs(self, dag_id: str, *, limit: int = 20) -> list[DagRun]:
        """The DAG's most recent runs, newest first."""
        data = self._request(
            "GET",
            f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns",
            f"list runs of {dag_id}",
            params={"order_by": "-run_after", "limit": limit},
        )
        return [_dag_run(item) for item in data.get("dag_runs", [])]

    def set_run_state(self, dag_id: str, dag_run_id: str, state: str) -> DagRun:
        """Mark a run ``success`` or ``failed`` (ends a run left over from an interrupted session)."""
        path = f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(dag_run_id, safe='')}"
        return _dag_run(self._request("PATCH", path, f"mark run {dag_run_id} {state}", json={"state": state}))

    def task_states(self, dag_id: str, dag_run_id: str) -> list[TaskState]:
        path = f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(dag_run_id, safe='')}/taskInstances"
        data = self._request("GET", path, f"read tasks of {dag_run_id}", params={"limit": 1000})
        return [
            TaskState(
                item["task_id"],
                item.get("map_index", -1),
                item.get("state"),
                item.get("try_number", 0),
                item.get("queued_when"),
                item.get("start_date"),
                item.get("end_date"),
            )
            for item in data.get("task_instances", [])
        ]

    def backfill(
        self, dag_id: str, from_date: str, to_date: str, *, conf: dict | None = None, max_active_runs: int = 2
    ) -> dict:
        """Create a backfill: one run per data interval between the dates (ISO), each with ``conf``."""
        return self._request(
            "POST",
            "/api/v2/backfills",
            f"backfill {dag_id}",
            json={
                "dag_id": dag_id,
                "from_date": from_date,
                "to_date": to_date,
                "dag_run_conf": conf or {},
                "max_active_runs": max_active_runs,
                "reprocess_behavior": "none",
            },
        )

    def return_value(self, dag_id: str, dag_run_id: str, task_id: str):
        """What a finished task returned (its ``return_value`` XCom), decoded from JSON."""
        path = (
            f"/api/v2/dags/{quote(dag_id, safe='')}/dagRuns/{quote(dag_run_id, safe='')}/taskInstances/"
            f"{quote(task_id, safe='')}/xcomEntries/return_value"
        )
        value = self._request("GET", path, f"read what {task_id} returned").get("value")
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def wait(self, dag_id: str, dag_run_id: str, *, timeout: float = 600.0, poll: float = 2.0) -> DagRun:
        """Poll until the run finishes; a busy api-server missing a poll or two is tolerated."""
        deadline = time.monotonic() + timeout
        state = "unknown"
        while True:
            try:
                run = self.get_run(dag_id, dag_run_id)
                if run.finished:
                    return run
                state = run.state
            except AirflowUnavailable:
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"{dag_id} run {dag_run_id} still {state} after {timeout:.0f}s")
            time.sleep(poll)


def _dag_run(data: dict) -> DagRun:
    return DagRun(
        dag_id=data["dag_id"],
        dag_run_id=data["dag_run_id"],
        state=data.get("state") or "queued",
        conf=data.get("conf") or {},
        start_date=data.get("start_date"),
        end_date=data.get("end_date"),
    )


def _raise_for_status(response: httpx.Response, action: str) -> None:
    if response.status_code < 400:
        return
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    if response.status_code >= 500:
        raise AirflowUnavailable(f"Airflow failed to {action}: HTTP {response.status_code} {str(detail)[:300]}")
    raise AirflowRejected(
        f"Airflow refused to {action}: HTTP {response.status_code} {str(detail)[:300]}", response.status_code
    )


def trigger_once(client: AirflowClient, dag_id: str, conf: dict, dag_run_id: str) -> DagRun:
    """Start the run ``dag_run_id`` of ``dag_id`` (unpaused first: new DAGs start paused). The id belongs
    to what was asked for, not to the attempt: a retried call (an answer lost on the way back) gets 409
    and follows the run it started instead of starting a second one."""
    try:
        client.unpause(dag_id)
    except AirflowRejected as exc:
        if exc.status_code != 404:
            raise
    try:
        return client.trigger(dag_id, conf, dag_run_id=dag_run_id)
    except AirflowRejected as exc:
        if exc.status_code != 409:
            raise
        return client.get_run(dag_id, dag_run_id)
