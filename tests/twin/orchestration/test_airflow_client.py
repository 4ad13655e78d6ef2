"""The REST client against a real Airflow 3 (api-server, scheduler, dag-processor, triggerer) on loopback."""

from pathlib import Path

import pytest

from testing.airflow import live_airflow
from twin.core.ports import free_port
from twin.orchestration.airflow_client import AirflowClient, AirflowRejected, AirflowUnavailable

pytestmark = pytest.mark.slow
DAGS = Path(__file__).parent / "airflow_dags"


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, admin_database_url):
    with live_airflow(admin_database_url, tmp_path_factory.mktemp("twin_home"), dags_folder=DAGS) as live:
        yield live.settings
    assert live.processes.dead() == [] and not live.processes.processes


def test_trigger_with_conf_and_poll_to_success(airflow):
    with AirflowClient.from_settings(airflow) as client:
        assert client.health()["metadatabase"]["status"] == "healthy"
        client.unpause("echo_conf", wait_for_parsing=120)
        run = client.trigger("echo_conf", {"who": "ada"})
        assert run.state in ("queued", "running") and run.conf == {"who": "ada"}
        finished = client.wait("echo_conf", run.dag_run_id, timeout=180, poll=1)
        assert finished.state == "success"
        assert client.list_runs("echo_conf")[0].dag_run_id == run.dag_run_id
        ended = client.set_run_state("echo_conf", run.dag_run_id, "failed")
        assert ended.state == "failed" and client.get_run("echo_conf", run.dag_run_id).state == "failed"
        tasks = client.task_states("echo_conf", run.dag_run_id)
        assert [(t.task_id, t.state) for t in tasks] == [("echo", "success")]


def test_wrong_password_and_unknown_dag_are_rejected(airflow):
    bad = AirflowClient(str(airflow.airflow_url), airflow.airflow_user, "wrong")
    with pytest.raises(AirflowRejected, match="refused the login"):
        bad.trigger("echo_conf")
    with AirflowClient.from_settings(airflow) as client:
        with pytest.raises(AirflowRejected) as excinfo:
            client.trigger("no_such_dag")
        assert excinfo.value.status_code == 404


def test_unreachable_airflow_is_a_clear_error():
    client = AirflowClient(f"http://127.0.0.1:{free_port()}", "admin", "x", timeout=2)
    with pytest.raises(AirflowUnavailable, match="not reachable"):
        client.trigger("echo_conf", {"user_id": 1})
