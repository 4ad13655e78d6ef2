"""A stand-in `twin_collect` for the web app's test against a real Airflow: one task that reports a
crawl run for each of the user's active sources (what the real DAG's crawl tasks record)."""

import pendulum
from airflow.sdk import dag, task


@dag(
    dag_id="twin_collect",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"user_id": None},
    tags=["test"],
)
def twin_collect():
    @task
    def crawl_sources(params=None):
        import uuid

        import sqlalchemy as sa

        from twin.core.db import get_engine
        from twin.core.sources import active_sources
        from twin.core.tables import crawl_runs

        user_id = int(params["user_id"])
        with get_engine().begin() as conn:
            sources = active_sources(conn, user_id)
            for source in sources:
                conn.execute(
                    crawl_runs.insert().values(
                        crawl_run_id=uuid.uuid4(),
                        user_id=user_id,
                        source=source.url,
                        platform=source.platform,
                        finished_at=sa.func.now(),
                        status="succeeded",
                        documents_seen=3,
                        documents_new=3,
                    )
                )
        return len(sources)

    crawl_sources()


twin_collect()
