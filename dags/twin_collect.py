"""Collect each user's writing, clean and chunk it with dbt, and embed the new chunks.

`user_id` (optional) limits a run to one user; empty means every user with active sources. A
scheduled run, and each run of a backfill (Airflow UI or REST `backfills`), collects only what was
published in its data interval (archives stop paging past it); a triggered run ("Collect now")
collects everything new.
One mapped crawl task per source: a source that fails (after its retries) fails only its own task,
and dbt and embedding still run on whatever the other sources collected. Each run also removes
uploaded archives older than TWIN_UPLOAD_RETENTION_DAYS.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, TriggerRule, dag, get_current_context, task

CHUNKS = Asset(name="twin_chunks", uri="x-twin://marts/chunks")
SFT_SAMPLES = Asset(name="twin_sft_samples", uri="x-twin://marts/sft_samples")
MARTS_POOL = "twin_marts"  # dbt builds and embedding, one at a time across DAGs (created by `twin airflow`)
# A cron expression or preset; "none" leaves only triggered runs (the demo sets it).
COLLECT_SCHEDULE = os.environ.get("TWIN_COLLECT_SCHEDULE", "@daily")
# Runs in flight at once: different users' collections never wait for each other (the web app lets
# each user have one at a time; crawls are idempotent and dbt/embedding queue in the twin_marts pool).
MAX_ACTIVE_RUNS = int(os.environ.get("TWIN_COLLECT_MAX_ACTIVE_RUNS", "8"))


@dag(
    dag_id="twin_collect",
    # Data intervals, not bare trigger times: each scheduled or backfill run covers [start, end).
    schedule=None
    if COLLECT_SCHEDULE.lower() == "none"
    else CronDataIntervalTimetable(COLLECT_SCHEDULE, timezone="UTC"),
    # Early, so that a backfill can reach years back (a new source's archive); catchup is off, so
    # unpausing never creates the runs in between.
    start_date=pendulum.datetime(2000, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=MAX_ACTIVE_RUNS,
    params={"user_id": Param(None, type=["null", "integer"], description="one user's id; empty = every user")},
    default_args={
        "owner": "twin",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(hours=2),
    },
    tags=["twin", "collect"],
    doc_md=__doc__,
)
def twin_collect():
    @task
    def list_sources(params=None) -> list[dict]:
        from twin.orchestration.collect import sources_to_collect

        return sources_to_collect(params.get("user_id"))

    # The crawler retries transient HTTP failures itself (TWIN_CRAWL_RETRIES, backoff): one Airflow
    # retry after 30 s is for a crashed crawl process, so a dead source fails within a minute.
    @task(
        max_active_tis_per_dagrun=2,
        map_index_template="{{ source_url }}",
        retries=1,
        retry_delay=timedelta(seconds=30),
        retry_exponential_backoff=False,
    )
    def crawl_source(source: dict) -> dict:
        from twin.orchestration.collect import collect_source

        context = get_current_context()
        context["source_url"] = source["url"]  # names the mapped task in the UI
        # A scheduled or backfill run collects what was published in its data interval; a triggered
        # run ("Collect now") collects everything new.
        windowed = context["dag_run"].run_type in ("scheduled", "backfill") and context.get("data_interval_start")
        if not windowed:
            return collect_source(source)
        return collect_source(
            source, since=context["data_interval_start"].isoformat(), until=context["data_interval_end"].isoformat()
        )

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=1, pool=MARTS_POOL)
    def build_marts() -> dict:
        from twin.orchestration.collect import build_marts as run_dbt_build

        return run_dbt_build()

    @task(outlets=[CHUNKS, SFT_SAMPLES], pool=MARTS_POOL)
    def embed_new_chunks() -> dict:
        from twin.orchestration.collect import embed_new_chunks as embed

        return embed()

    @task
    def remove_expired_uploads() -> dict:
        from twin.orchestration.collect import remove_expired_uploads as remove

        return remove()

    crawl_source.expand(source=list_sources()) >> build_marts() >> embed_new_chunks()
    remove_expired_uploads()


twin_collect()
