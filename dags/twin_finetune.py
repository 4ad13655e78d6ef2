"""Fine-tune a user's twin: export the dataset snapshot, then train (Ray Train, LoRA), evaluate
against the base model (or the active adapter) and register; the adapter becomes active only if it
is better.

Started by hand or from the web app with `user_id` (and optionally a training `config` path), or
by new training data (the `twin_sft_samples` asset, updated by twin_collect): then every user whose
samples grew by at least TWIN_FINETUNE_MIN_NEW_SAMPLES is trained. A retried training task resumes
from its last checkpoint.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, Param, dag, get_current_context, task

SFT_SAMPLES = Asset(name="twin_sft_samples", uri="x-twin://marts/sft_samples")


@dag(
    dag_id="twin_finetune",
    schedule=[SFT_SAMPLES],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "user_id": Param(
            None, type=["null", "integer"], description="the user to train; empty = users with enough new samples"
        ),
        "config": Param(
            None, type=["null", "string"], description="a training config YAML (default: the one for TWIN_BASE_MODEL)"
        ),
    },
    default_args={"owner": "twin", "retries": 1, "retry_delay": timedelta(minutes=1)},
    tags=["twin", "training"],
    doc_md=__doc__,
)
def twin_finetune():
    @task
    def users_to_train(params=None) -> list[int]:
        if params.get("user_id") is not None:
            return [int(params["user_id"])]
        from training.registry import users_due_for_training
        from twin.core.db import get_engine
        from twin.core.settings import get_settings

        with get_engine().connect() as conn:
            return users_due_for_training(conn, get_settings().finetune_min_new_samples)

    @task(map_index_template="user {{ trained_user }}")
    def export_dataset(user_id: int, params=None) -> dict:
        from training.pipeline import start_fine_tune

        get_current_context()["trained_user"] = user_id
        return {"user_id": user_id, "model_id": str(start_fine_tune(user_id, params.get("config")))}

    @task(
        max_active_tis_per_dag=1,
        retries=2,
        execution_timeout=timedelta(hours=12),
        map_index_template="user {{ trained_user }}",
    )
    def train_evaluate_register(run: dict) -> dict:
        from training.pipeline import fine_tune

        get_current_context()["trained_user"] = run["user_id"]
        outcome = fine_tune(run["user_id"], resume_model_id=run["model_id"])
        return {
            "model_id": str(outcome.model_id),
            "status": outcome.status,
            "adapter_uri": outcome.adapter_uri,
            "perplexity": outcome.metrics["perplexity"],
            "style_score": outcome.metrics["style_score"],
        }

    train_evaluate_register.expand(run=export_dataset.expand(user_id=users_to_train()))


twin_finetune()
