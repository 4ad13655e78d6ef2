""" "Collect now" against a real Airflow 3 (api-server, scheduler, dag-processor, triggerer) running a
stand-in `twin_collect` DAG: the request is triggered, followed to success, and the page shows the
per-source results the run recorded in raw.crawl_runs."""

import time
from pathlib import Path

import pytest
from django.urls import reverse

from testing.airflow import live_airflow
from webapp.collection import services
from webapp.collection.models import CollectionRequest
from webapp.sources.services import source_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
DAGS = Path(__file__).parent / "airflow_dags"


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, admin_database_url):
    home = tmp_path_factory.mktemp("twin_home")
    with live_airflow(
        admin_database_url, home, dags_folder=DAGS, name="airflow_web", password="a-web-test-password"
    ) as live:
        yield live.settings


def test_collect_now_runs_the_dag_and_shows_per_source_results(airflow, client, settings):
    from tests.webapp.conftest import make_user

    settings.TWIN_AIRFLOW_URL = str(airflow.airflow_url).rstrip("/")
    settings.TWIN_AIRFLOW_USER = airflow.airflow_user
    settings.TWIN_AIRFLOW_PASSWORD = airflow.airflow_password.get_secret_value()
    settings.TWIN_AIRFLOW_TIMEOUT_S = 30
    user = make_user()
    source_create(user=user, platform="medium", url="@ada")
    source_create(user=user, platform="github", url="ada")
    client.force_login(user)

    deadline = time.monotonic() + 120
    while True:  # the dag-processor needs a moment to parse the DAG: until then the trigger is refused (404)
        response = client.post(reverse("collection:now"))
        request = (
            CollectionRequest.objects.get(user=user) if CollectionRequest.objects.filter(user=user).exists() else None
        )
        if request is not None and request.status != "failed":
            break
        assert time.monotonic() < deadline, request.reason if request else "no request saved"
        CollectionRequest.objects.filter(user=user).delete()
        time.sleep(2)
    assert response.url == reverse("collection:detail", args=[request.pk])
    assert request.status in ("queued", "running") and request.dag_run_id.startswith("web__twin_collect__")

    deadline = time.monotonic() + 180
    while request.status in services.ACTIVE:
        assert time.monotonic() < deadline, f"run still {request.status}"
        time.sleep(2)
        page = client.get(reverse("collection:status", args=[request.pk])).content.decode()
        request.refresh_from_db()
    assert request.status == "success", request.reason
    page = client.get(reverse("collection:detail", args=[request.pk])).content.decode()
    assert "https://medium.com/@ada" in page and "https://github.com/ada" in page
    assert "crawl_sources" in page and 'data-active="0"' in page and "Open in Airflow" in page


def test_an_upload_is_imported_by_airflow_and_its_page_shows_the_outcome(
    airflow, client, settings, django_capture_on_commit_callbacks
):
    """The real twin_import DAG (linked into the DAGs folder): triggered once per upload, followed to
    the end, its return value shown; the archive is deleted once imported."""
    import io
    from pathlib import Path

    from tests.webapp.conftest import make_user
    from tests.webapp.sources.test_services import export_zip
    from twin.core.uploads import uploads_root
    from twin.orchestration.airflow_client import AirflowClient
    from webapp.dataplane.models import RawDocument
    from webapp.sources.services import upload_create, upload_send

    settings.TWIN_AIRFLOW_URL = str(airflow.airflow_url).rstrip("/")
    settings.TWIN_AIRFLOW_USER = airflow.airflow_user
    settings.TWIN_AIRFLOW_PASSWORD = airflow.airflow_password.get_secret_value()
    settings.TWIN_AIRFLOW_TIMEOUT_S = 30
    settings.TWIN_COLLECT_RETRY_AFTER_S = 0
    settings.TWIN_UPLOAD_DIR = uploads_root(airflow)  # the folder Airflow's tasks read (their TWIN_HOME)
    user = make_user()
    client.force_login(user)
    with AirflowClient.from_settings(airflow) as api:
        api.unpause("twin_import", wait_for_parsing=120)

    data = export_zip("medium")
    with django_capture_on_commit_callbacks(execute=True):
        upload = upload_create(user=user, kind="medium", fileobj=io.BytesIO(data), name="medium.zip", size=len(data))
    upload.refresh_from_db()
    assert upload.status in ("queued", "importing") and upload.dag_run_id == f"upload-{upload.pk}", upload.error
    upload_send(upload)  # sent again (a retry after a lost answer): the same run, no second import
    assert upload.dag_run_id == f"upload-{upload.pk}"

    deadline = time.monotonic() + 300
    while True:
        page = client.get(reverse("sources:upload", args=[upload.pk]) + "?fragment=1").content.decode()
        upload.refresh_from_db()
        if upload.finished:
            break
        assert time.monotonic() < deadline, f"upload still {upload.status}"
        time.sleep(2)
    assert upload.status == "succeeded", upload.error
    assert upload.counts["new"] == RawDocument.objects.filter(user_id=user.pk).count() >= 2
    assert 'data-active="0"' in page and "The archive was deleted after the import" in page
    assert not Path(upload.stored_path).exists()
    with AirflowClient.from_settings(airflow) as api:
        assert [run.dag_run_id for run in api.list_runs("twin_import")].count(f"upload-{upload.pk}") == 1
