"""Fair collection: "Collect now" alone vs beside another user's run that is stuck, through Airflow.

Against the project's database (`twin db start && twin migrate` first) and the demo's sample site on
127.0.0.1 (the demo persona: a Medium feed, a Substack archive and GitHub repositories, plus its
LinkedIn export imported first: four sources), with `twin up`'s crawl settings (politeness on, the
default timeouts and retries) and the real api-server, scheduler, dag-processor and triggerer:
  1. alone: user A's twin_collect run (triggered over the REST API, as "Collect now" does, and
     polled until it ends: crawl the three feeds, dbt build, embed the new chunks);
  2. beside a stuck run: user C's only source accepts connections and never answers; C's run is
     started first, then user B (the same sources as A) collects.
Prints both wall times, the documents each collected, the ratio, and the state of C's run when B's
ended (it must still be running: nothing waited for it). Target: beside a stuck run < 60 s.
twin_finetune is paused meanwhile (each collected user would otherwise start training).

    .venv/bin/python benchmarks/collect_fairness.py [--impolite]
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def new_user(database_url: str, sources: list[tuple[str, str]], export: bytes | None = None) -> int:
    import sqlalchemy as sa

    from twin.core.db import get_engine
    from twin.core.sources import sources_source
    from twin.core.users import create_user

    user_id, _ = create_user(f"fair-{uuid.uuid4().hex[:8]}@example.com", None, database_url)
    with get_engine().begin() as conn:
        conn.execute(
            sources_source.insert().values(created_at=sa.func.now(), updated_at=sa.func.now(), is_active=True),
            [{"user_id": user_id, "platform": platform, "url": url} for platform, url in sources],
        )
    if export is not None:
        from crawlers.importers import import_export

        import_export("linkedin", export, user_id)
    return user_id


def documents_of(user_id: int) -> int:
    import sqlalchemy as sa

    from twin.core.db import get_engine
    from twin.core.tables import documents

    with get_engine().connect() as conn:
        return conn.execute(
            sa.select(sa.func.count(sa.distinct(documents.c.source_url))).where(documents.c.user_id == user_id)
        ).scalar()


def collect(client, user_id: int, label: str) -> tuple[float, str]:
    started = time.perf_counter()
    run = client.trigger("twin_collect", {"user_id": user_id}, dag_run_id=f"{label}-{user_id}")
    finished = client.wait("twin_collect", run.dag_run_id, timeout=1800, poll=0.5)
    return time.perf_counter() - started, finished.state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impolite", action="store_true", help="politeness off (no robots.txt, no per-domain delay)")
    args = parser.parse_args()

    from demo.site import SampleSite
    from twin.core.db import database_url, prepare_server
    from twin.core.local_secrets import local_settings
    from twin.orchestration.airflow import airflow_home, running_airflow
    from twin.orchestration.airflow_client import AirflowClient

    with SampleSite() as site, socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # the kernel accepts connections; nothing ever answers
        os.environ.update({**site.crawl_env(polite=not args.impolite), "TWIN_COLLECT_SCHEDULE": "none"})
        settings = local_settings()
        prepare_server(settings)
        url = database_url(settings)
        export = site.linkedin_export_zip()
        warm, alone, beside = (new_user(url, site.sources(), export) for _ in range(3))
        stuck = new_user(url, [("web", f"http://127.0.0.1:{silent.getsockname()[1]}/never-answers")])

        with running_airflow(settings, log_dir=airflow_home(settings) / "logs" / "benchmark"):
            with AirflowClient.from_settings(settings) as client:
                client.pause("twin_finetune", wait_for_parsing=180)  # collecting schedules training: not measured here
                client.unpause("twin_collect", wait_for_parsing=180)
                collect(client, warm, "warm-up")  # first dbt build, first model load
                alone_s, alone_state = collect(client, alone, "alone")
                stuck_run = client.trigger("twin_collect", {"user_id": stuck}, dag_run_id=f"stuck-{stuck}")
                time.sleep(3)
                beside_s, beside_state = collect(client, beside, "beside")
                stuck_state = client.get_run("twin_collect", stuck_run.dag_run_id).state
                client.set_run_state("twin_collect", stuck_run.dag_run_id, "failed")

    print(f"politeness           : {'off' if args.impolite else 'on (the default)'}")
    print(f"alone                : {alone_s:6.1f} s  (run {alone_state}, {documents_of(alone)} documents)")
    print(
        f"beside a stuck run   : {beside_s:6.1f} s  (run {beside_state}, {documents_of(beside)} documents; "
        f"the stuck run was {stuck_state} when it ended)"
    )
    print(
        f"ratio                : {beside_s / alone_s:6.2f}x   target: beside a stuck run < 60 s "
        f"{'met' if beside_s < 60 and stuck_state == 'running' else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
