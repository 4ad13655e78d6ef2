"""`dag.test()` of twin_finetune: collected posts → dbt's marts.sft_samples → export → Ray Train → registry."""

from pathlib import Path

import pytest

from testing.corpus import POSTS
from tests.training.test_cli_train import _new_user, _post_urls

pytestmark = pytest.mark.slow
DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture
def finetune_dag(airflow_metadata):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS)).dags["twin_finetune"]


def test_finetune_trains_registers_and_activates(engine, database_url, finetune_dag, local_ray, monkeypatch, tmp_path):
    from training import registry
    from training.config import TINY_CONFIG
    from twin.core import model_registry
    from twin.core.raw import CrawlRun, DocumentRecord
    from twin.core.settings import get_settings
    from twin.core.transform import transform

    monkeypatch.setenv("TWIN_HOME", str(tmp_path))  # adapters and snapshots of this run
    get_settings.cache_clear()
    user_id, _ = _new_user(database_url)
    with CrawlRun(engine, user_id, "fixture-linkedin", "linkedin") as run:
        for url, post in zip(_post_urls(user_id), POSTS):
            run.store(DocumentRecord(platform="linkedin", kind="post", source_url=url, content=post))
    transform(database_url)
    with engine.connect() as conn:
        assert user_id in registry.users_due_for_training(conn, 20), "40 new samples, never trained"

    dag_run = finetune_dag.test(run_conf={"user_id": user_id, "config": str(TINY_CONFIG)})
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states == {"users_to_train": "success", "export_dataset": "success", "train_evaluate_register": "success"}

    with engine.connect() as conn:
        [model] = model_registry.list_models(conn, user_id)
        assert model.status == "active" and model.metrics["perplexity"] < model.metrics["compared_with"]["perplexity"]
        assert model.dataset_snapshot and Path(model.dataset_snapshot).is_relative_to(tmp_path)
        assert user_id not in registry.users_due_for_training(conn, 1), "trained on everything it has"
    get_settings.cache_clear()
