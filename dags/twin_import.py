"""Import one uploaded export (LinkedIn, Medium, Substack), then clean, chunk and embed it.

The web app triggers one run per upload (run id ``upload-<id>``: a second trigger is refused, never
a duplicate import) with the archive's name under ``$TWIN_HOME/uploads/<user_id>/``. The archive is
deleted once imported and kept, with the reason in raw.crawl_runs, when it cannot be; a damaged or
unsafe archive fails at once (no retries), a database outage is retried.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

MARTS_POOL = "twin_marts"  # dbt builds and embedding, one at a time across DAGs (created by `twin airflow`)


@dag(
    dag_id="twin_import",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    params={
        "upload_id": Param(type="integer", minimum=1),
        "user_id": Param(type="integer", minimum=1),
        "kind": Param(type="string", enum=["linkedin", "medium", "substack"]),
        "archive": Param(type="string", pattern=r"^[0-9a-f]{32}\.zip$"),
        "publication_url": Param(None, type=["null", "string"]),
    },
    default_args={
        "owner": "twin",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "execution_timeout": timedelta(hours=1),
    },
    tags=["twin", "import"],
    doc_md=__doc__,
)
def twin_import():
    @task
    def import_upload(params=None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from twin.orchestration.collect import ImportFailed
        from twin.orchestration.collect import import_upload as run_import

        try:
            return run_import(
                params["upload_id"], params["user_id"], params["kind"], params["archive"], params.get("publication_url")
            )
        except ImportFailed as exc:
            raise AirflowFailException(str(exc)) from None

    @task(pool=MARTS_POOL, retries=1)
    def build_marts() -> dict:
        from twin.orchestration.collect import build_marts as run_dbt_build

        return run_dbt_build()

    @task(pool=MARTS_POOL)
    def embed_new_chunks() -> dict:
        from twin.orchestration.collect import embed_new_chunks as embed

        return embed()

    import_upload() >> build_marts() >> embed_new_chunks()


twin_import()
