import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.webapp import dataplane_rows
from webapp.collection import selectors, services
from webapp.collection.models import CollectionRequest


def test_airflow_down_keeps_the_request_pending_with_the_reason(user, airflow_down):
    request = services.request_create(user=user)
    assert request.status == "pending" and request.attempts == 1 and request.dag_run_id == ""
    assert "not reachable" in request.reason and airflow_down in request.reason


def test_a_second_request_while_one_is_active_is_refused(user, airflow_down):
    first = services.request_create(user=user)
    with pytest.raises(services.AlreadyActive) as excinfo:
        services.request_create(user=user)
    assert excinfo.value.request == first
    services.request_create(user=user, dag_id="twin_finetune")  # another DAG is independent


def test_unknown_dag_is_refused(user):
    with pytest.raises(ValueError):
        services.request_create(user=user, dag_id="rm_rf")


def test_pending_requests_are_retried_on_refresh_and_by_the_command(user, other_user, airflow_down, settings):
    mine = services.request_create(user=user)
    theirs = services.request_create(user=other_user, dag_id="twin_finetune")
    settings.TWIN_COLLECT_RETRY_AFTER_S = 3600
    services.request_refresh(mine)
    mine.refresh_from_db()
    assert mine.attempts == 1  # too soon to retry
    settings.TWIN_COLLECT_RETRY_AFTER_S = 0
    services.request_refresh(mine)
    mine.refresh_from_db()
    assert mine.attempts == 2 and mine.status == "pending"

    out = io.StringIO()
    call_command("retry_pending_collections", stdout=out)
    assert "2 pending request(s) tried, 2 still pending" in out.getvalue()
    theirs.refresh_from_db()
    assert theirs.attempts == 2


def test_crawl_runs_belong_to_the_request_window_and_the_user(user, other_user, airflow_down):
    older = services.request_create(user=user)
    older.status = "success"
    older.save()
    CollectionRequest.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(hours=2))
    dataplane_rows.crawl_run(
        user.pk, "https://github.com/ada", "github", started_at=timezone.now() - timedelta(hours=1)
    )
    newer = services.request_create(user=user)
    dataplane_rows.crawl_run(user.pk, "https://medium.com/@ada", "medium", new=3)
    dataplane_rows.crawl_run(user.pk, "linkedin-export", "linkedin")
    dataplane_rows.crawl_run(other_user.pk, "https://medium.com/@grace", "medium")
    older.refresh_from_db()
    assert [run.source for run in selectors.crawl_runs_for_request(older)] == ["https://github.com/ada"]
    assert [run.source for run in selectors.crawl_runs_for_request(newer)] == ["https://medium.com/@ada"]


def test_sending_a_request_twice_starts_one_run(user, airflow_down):
    from tests.webapp.sources.test_services import FakeAirflow

    request = services.request_create(user=user)  # Airflow down: pending
    airflow = FakeAirflow()
    services.request_send(request, airflow)
    services.request_send(request, airflow)  # a retry after an answer lost on the way back
    assert [run_id for _, run_id, _ in airflow.triggered] == [f"web__twin_collect__u{user.pk}__r{request.pk}"]
    assert request.dag_run_id == f"web__twin_collect__u{user.pk}__r{request.pk}" and request.attempts == 3
    assert request.status == "queued"
