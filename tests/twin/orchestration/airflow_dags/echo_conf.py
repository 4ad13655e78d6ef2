"""A one-task DAG for exercising the REST client against a real Airflow."""

import pendulum
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["test"])
def echo_conf():
    @task
    def echo(**context):
        return context["dag_run"].conf.get("who", "nobody")

    echo()


echo_conf()
