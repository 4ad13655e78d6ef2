"""Preloading the tasks' modules in the Airflow process that forks task processes."""

import subprocess
import sys

import pytest

from twin.orchestration.airflow import AIRFLOW_LOCAL_SETTINGS, airflow_env
from twin.orchestration.task_preload import TASK_MODULES, forks_tasks, preload, preload_enabled


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["airflow", "scheduler"], True),
        (["/venv/bin/airflow", "celery", "worker", "-q", "default"], True),
        (["airflow", "-v", "scheduler"], True),
        (["airflow", "api-server"], False),
        (["airflow", "dag-processor"], False),
        (["airflow", "triggerer"], False),
        (["airflow", "celery", "flower"], False),
        (["airflow"], False),
        (["python", "-m", "pytest"], False),
    ],
)
def test_only_the_processes_that_fork_tasks_preload(argv, expected):
    assert forks_tasks(argv) is expected


@pytest.mark.parametrize(
    ("value", "expected"), [(None, True), ("true", True), ("1", True), ("false", False), ("OFF", False)]
)
def test_the_docker_image_can_turn_preloading_off_by_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("TWIN_AIRFLOW_PRELOAD", raising=False)
    else:
        monkeypatch.setenv("TWIN_AIRFLOW_PRELOAD", value)
    assert preload_enabled() is expected


def test_a_module_that_cannot_be_imported_is_skipped_not_fatal(caplog):
    timings = preload(("json", "twin_no_such_module_for_the_test"))
    assert list(timings) == ["json"]
    assert "twin_no_such_module_for_the_test" in caplog.text


def test_the_task_modules_exist_and_stay_lazy_in_the_dag_files():
    """Every preloaded module is importable (a renamed one would silently stop being preloaded)."""
    import importlib.util

    assert all(importlib.util.find_spec(name) is not None for name in TASK_MODULES)


def test_airflow_processes_get_the_local_settings_hook_only_when_enabled(tmp_path):
    from twin.core.settings import load_settings

    on = airflow_env(load_settings(_env_file=None, home=tmp_path), base_env={"PYTHONPATH": "/elsewhere"})
    off = airflow_env(load_settings(_env_file=None, home=tmp_path, airflow_preload=False), base_env={})
    assert on["PYTHONPATH"].split(":") == [str(AIRFLOW_LOCAL_SETTINGS), "/elsewhere"]
    assert str(AIRFLOW_LOCAL_SETTINGS) not in off.get("PYTHONPATH", "")
    assert (AIRFLOW_LOCAL_SETTINGS / "airflow_local_settings.py").is_file()


@pytest.mark.slow
def test_a_scheduler_process_starts_with_the_task_modules_loaded():
    probe = (
        "import sys; sys.argv = ['airflow', 'scheduler']; import airflow_local_settings; "
        f"print(all(name in sys.modules for name in {TASK_MODULES!r}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(AIRFLOW_LOCAL_SETTINGS), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.stdout.strip() == "True", result.stderr[-2000:]
