"""Airflow overhead: the twin_collect pipeline through Airflow vs the same steps called directly.

Against the project's database (`twin db start && twin migrate` first) and the test fixture server
on 127.0.0.1, for two fresh users with the same three sources (two Medium feeds and an article):
  1. direct: ``twin.orchestration.collect`` steps called in this process (list → crawl each → dbt build → embed),
  2. Airflow: the real api-server, scheduler, dag-processor and triggerer (`twin airflow`'s code),
     `twin_collect` triggered over the REST API with the user's id and polled until it finishes.
Prints both wall times and the ratio. Each path collects for its own user, so both do the same work.
Both are warmed up first by the same pipeline for a third/fourth user (the direct path's first dbt
build and model load; Airflow's first task instances, whose start waits ~5 s on a just-started
Airflow), and Airflow's first (cold) run is printed too.

    .venv/bin/python benchmarks/airflow_overhead.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CRAWL_ENV = {"TWIN_ALLOW_PRIVATE_URLS": "true", "TWIN_CRAWL_POLITE": "false", "TWIN_CRAWL_RETRIES": "0"}
# Only the runs this benchmark triggers: a scheduled twin_collect (every user, catching up on the day
# since this Airflow last ran) would compete for the cores and hold the twin_marts pool.
AIRFLOW_ENV = {"TWIN_COLLECT_SCHEDULE": "none"}


def create_user_with_sources(server, database_url: str) -> int:
    import sqlalchemy as sa

    from twin.core.db import get_engine
    from twin.core.sources import sources_source
    from twin.core.users import create_user

    user_id, _ = create_user(f"bench-{uuid.uuid4().hex[:8]}@example.com", None, database_url)
    with get_engine().begin() as conn:
        conn.execute(
            sources_source.insert().values(created_at=sa.func.now(), updated_at=sa.func.now(), is_active=True),
            [
                {"user_id": user_id, "platform": "medium", "url": server.url("/medium/feed/@ada")},
                {"user_id": user_id, "platform": "substack", "url": server.url("/substack/ada")},
                {"user_id": user_id, "platform": "web", "url": server.url("/web/article.html")},
            ],
        )
    return user_id


def run_direct(user_id: int) -> float:
    return run_direct_timed(user_id)[0]


class CpuSampler:
    """CPU seconds of every process under the Airflow components, by kind, while a run goes on: each
    process's last reading is kept, so processes that end between two samples still count (up to
    the last sample)."""

    KINDS = (  # by the process titles Airflow sets (setproctitle)
        ("crawl subprocesses", lambda cmd: "crawlers.run" in cmd),
        ("task processes (the tasks' own work)", lambda cmd: "airflow worker -- " in cmd),
        ("LocalExecutor workers (supervise tasks)", lambda cmd: "airflow executor" in cmd),
    )

    def __init__(self, processes: dict, interval: float = 0.2):
        import threading

        self.roots, self.interval = processes, interval
        self.readings: dict[int, tuple[str, float]] = {}
        self.baseline: dict[int, float] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _kind(self, component: str, process) -> str:
        try:
            command = " ".join(process.cmdline())
        except Exception:  # noqa: BLE001 - gone between listing and reading
            command = ""
        for kind, matches in self.KINDS:
            if matches(command):
                return kind
        return f"{component} (and its own workers)"

    def sample(self) -> None:
        import psutil

        for component, popen in self.roots.items():
            try:
                root = psutil.Process(popen.pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for process in tree:
                try:
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                kind = self.readings.get(process.pid, (None,))[0] or self._kind(component, process)
                self.readings[process.pid] = (kind, times.user + times.system)

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()

    def __enter__(self):
        self.sample()
        self.baseline = {pid: seconds for pid, (_, seconds) in self.readings.items()}
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()
        self.sample()

    def totals(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for pid, (kind, seconds) in self.readings.items():
            totals[kind] = totals.get(kind, 0.0) + seconds - self.baseline.get(pid, 0.0)
        return totals


def run_through_airflow(user_ids: list[int], settings) -> list[tuple[float, str, list, object, dict]]:
    """One twin_collect run per user, one after the other, on one Airflow started here; with the CPU
    seconds each kind of process spent during each run."""
    from twin.orchestration.airflow import airflow_home, running_airflow
    from twin.orchestration.airflow_client import AirflowClient

    results = []
    with running_airflow(settings, log_dir=airflow_home(settings) / "logs" / "benchmark") as processes:
        with AirflowClient.from_settings(settings) as client:
            client.unpause("twin_collect", wait_for_parsing=180)
            for user_id in user_ids:
                with CpuSampler(processes.processes) as cpu:
                    started = time.perf_counter()
                    run = client.trigger("twin_collect", {"user_id": user_id})
                    finished = client.wait("twin_collect", run.dag_run_id, timeout=1800, poll=0.5)
                    wall = time.perf_counter() - started
                others = [
                    other.dag_run_id
                    for other in client.list_runs("twin_collect", limit=50)
                    if other.dag_run_id != run.dag_run_id
                    and (other.start_date or "9") < (finished.end_date or "9")
                    and (other.end_date or "9") > (finished.start_date or "")
                ]
                if others:
                    print(f"note: other twin_collect runs overlapped run {run.dag_run_id}: {others}")
                tasks = client.task_states("twin_collect", run.dag_run_id)
                results.append((wall, finished.state, tasks, finished, cpu.totals()))
    return results


def run_direct_timed(user_id: int) -> tuple[float, dict[str, float]]:
    """The direct path with the wall time of each step and this process's CPU seconds (with the
    crawl subprocesses it waited for)."""
    import resource

    from twin.orchestration.collect import build_marts, collect_source, embed_new_chunks, sources_to_collect

    def cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    steps: dict[str, float] = {}
    cpu_before, started = cpu(), time.perf_counter()
    for index, source in enumerate(sources_to_collect(user_id)):
        mark = time.perf_counter()
        collect_source(source)
        steps[f"crawl[{index}]"] = time.perf_counter() - mark
    for name, step in (("dbt build", build_marts), ("embed", embed_new_chunks)):
        mark = time.perf_counter()
        step()
        steps[name] = time.perf_counter() - mark
    steps["cpu seconds"] = cpu() - cpu_before
    return time.perf_counter() - started, steps


def print_breakdown(tasks: list, run) -> None:
    """Per task instance: seconds from the run's start to queued, queued to running, and running."""
    from datetime import datetime

    def moment(value: str | None):
        return datetime.fromisoformat(value) if value else None

    origin = moment(run.start_date)
    print(f"{'task':28} {'queued at':>9} {'waited':>7} {'ran':>6}  (seconds; from the run's start)")
    for task in sorted(tasks, key=lambda task: task.start_date or ""):
        queued, start, end = moment(task.queued_when), moment(task.start_date), moment(task.end_date)
        name = task.task_id + (f"[{task.map_index}]" if task.map_index >= 0 else "")
        if not (origin and start and end):
            print(f"{name:28} {'':>9} {'':>7} {'':>6}  {task.state}")
            continue
        waited = (start - queued).total_seconds() if queued else float("nan")
        queued_at = (queued - origin).total_seconds() if queued else float("nan")
        print(f"{name:28} {queued_at:9.1f} {waited:7.1f} {(end - start).total_seconds():6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    os.environ.update(CRAWL_ENV)
    os.environ.update(AIRFLOW_ENV)

    from testing.fixture_server import FixtureServer
    from twin.core.db import database_url, prepare_server
    from twin.core.local_secrets import local_settings

    settings = local_settings()
    prepare_server(settings)
    url = database_url(settings)
    with FixtureServer() as server:
        direct_user = create_user_with_sources(server, url)
        airflow_users = [create_user_with_sources(server, url) for _ in range(2)]
        run_direct(create_user_with_sources(server, url))  # warm-up: first dbt build and model load
        direct, direct_steps = run_direct_timed(direct_user)
        (cold, cold_state, cold_tasks, cold_run, _), (warm, state, tasks, run, cpu) = run_through_airflow(
            airflow_users, settings
        )
    print(f"preload in the scheduler: {settings.airflow_preload} (TWIN_AIRFLOW_PRELOAD)")
    print("Airflow's first run after it started (cold):")
    print_breakdown(cold_tasks, cold_run)
    print("the next run (warm):")
    print_breakdown(tasks, run)
    print("CPU seconds during the warm run, by process:")
    for kind, seconds in sorted(cpu.items(), key=lambda item: -item[1]):
        print(f"  {kind:40} {seconds:6.1f}")
    print(f"  {'all':40} {sum(cpu.values()):6.1f}")
    print("direct steps (warm): " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in direct_steps.items()))
    print(f"direct steps (warm)       : {direct:7.1f} s")
    print(f"through Airflow, first run: {cold:7.1f} s  (run {cold_state}) -> {cold / direct:.2f}x")
    print(f"through Airflow, next run : {warm:7.1f} s  (run {state})")
    print(f"Airflow overhead          : {warm / direct:7.2f}x the direct wall time (warm, both)")


if __name__ == "__main__":
    main()
