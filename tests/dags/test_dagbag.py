"""DAG files load cleanly, do nothing at import time, and carry owners, tags and retries."""

import subprocess
import sys
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(DAGS.glob("*.py"))
HEAVY = (
    "twin",
    "crawlers",
    "training",
    "serving",
    "scrapy",
    "torch",
    "dbt",
    "ray",
    "transformers",
    "sentence_transformers",
)

IMPORT_WITHOUT_IO = """
import runpy, socket, sys
def refuse(*args, **kwargs):
    raise AssertionError("network or database I/O while importing a DAG file")
socket.socket.connect = refuse
socket.create_connection = refuse
runpy.run_path(sys.argv[1])
print(" ".join(sorted({name.split(".")[0] for name in sys.modules})))
"""


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors_and_expected_dags(dagbag):
    assert dagbag.import_errors == {}
    assert {"twin_collect", "twin_finetune", "twin_import"} <= set(dagbag.dag_ids)


def test_every_task_has_an_owner_retries_and_every_dag_tags(dagbag):
    for dag in dagbag.dags.values():
        assert dag.tags and "twin" in dag.tags, dag.dag_id
        assert dag.doc_md, f"{dag.dag_id} says what it does"
        for task in dag.tasks:
            assert task.owner == "twin", f"{dag.dag_id}.{task.task_id}"
            assert task.retries >= 1, f"{dag.dag_id}.{task.task_id} retries"


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=[path.name for path in DAG_FILES])
def test_importing_a_dag_file_does_no_io_and_no_heavy_imports(dag_file):
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_WITHOUT_IO, str(dag_file)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    imported = set(result.stdout.split())
    assert not imported & set(HEAVY), f"{dag_file.name} imports {sorted(imported & set(HEAVY))} at parse time"


def test_collect_dag_shape(dagbag):
    dag = dagbag.dags["twin_collect"]
    assert set(dag.task_ids) == {
        "list_sources",
        "crawl_source",
        "build_marts",
        "embed_new_chunks",
        "remove_expired_uploads",
    }
    assert dag.get_task("build_marts").pool == dag.get_task("embed_new_chunks").pool == "twin_marts"
    assert dag.get_task("build_marts").trigger_rule == "all_done"
    assert {outlet.name for outlet in dag.get_task("embed_new_chunks").outlets} == {"twin_chunks", "twin_sft_samples"}
    assert dag.params["user_id"] is None
    assert dag.catchup is False
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable", "each run covers a data interval (backfills)"
    assert dag.start_date.year <= 2010, "a backfill can reach years back"
    assert dag.max_active_runs >= 4, "one user's slow run never holds another user's in the queue"
    crawl = dag.get_task("crawl_source")
    assert crawl.retries == 1 and crawl.retry_delay.total_seconds() == 30 and not crawl.retry_exponential_backoff


def test_finetune_dag_shape_and_trigger(dagbag):
    dag = dagbag.dags["twin_finetune"]
    assert set(dag.task_ids) == {"users_to_train", "export_dataset", "train_evaluate_register"}
    assert "twin_sft_samples" in repr(dag.timetable.asset_condition), "new training data triggers it"
    assert set(dag.params.keys()) == {"user_id", "config"}
    assert dag.get_task("train_evaluate_register").retries == 2


def test_import_dag_shape(dagbag):
    dag = dagbag.dags["twin_import"]
    assert dag.task_ids == ["import_upload", "build_marts", "embed_new_chunks"]
    assert type(dag.timetable).__name__ == "NullTimetable", "triggered per upload by the web app"
    assert {task.pool for task in dag.tasks if task.task_id != "import_upload"} == {"twin_marts"}
    assert dag.params.get_param("archive").schema["pattern"] == r"^[0-9a-f]{32}\.zip$"
