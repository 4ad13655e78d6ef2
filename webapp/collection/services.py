"""Writes for collection and training requests: trigger Airflow DAG runs and follow their state.

A request is saved first, then sent. When Airflow cannot be reached it stays ``pending`` with the
reason and is sent again later (``retry_pending_collections``, or when its page is viewed), so a
click on "Collect now" is never lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from twin.orchestration.airflow_client import (
    AirflowClient,
    AirflowRejected,
    AirflowUnavailable,
    TaskState,
    trigger_once,
)
from webapp.airflow import airflow_client
from webapp.collection.models import CollectionRequest

log = logging.getLogger(__name__)
Status = CollectionRequest.Status
ACTIVE = (Status.PENDING, Status.QUEUED, Status.RUNNING)
DAG_IDS = ("twin_collect", "twin_finetune")
AIRFLOW_STATES = {
    "queued": Status.QUEUED,
    "running": Status.RUNNING,
    "success": Status.SUCCESS,
    "failed": Status.FAILED,
}


class AlreadyActive(Exception):
    def __init__(self, request: CollectionRequest):
        super().__init__(f"{request.dag_id} is already {request.status} for this user")
        self.request = request


def request_create(*, user, dag_id: str = "twin_collect") -> CollectionRequest:
    """Save a request and send it to Airflow now; raises :class:`AlreadyActive` if one is in flight."""
    if dag_id not in DAG_IDS:
        raise ValueError(f"unknown DAG {dag_id!r}")
    with transaction.atomic():
        active = (
            CollectionRequest.objects.select_for_update()
            .filter(user=user, dag_id=dag_id, status__in=ACTIVE)
            .order_by("-created_at")
            .first()
        )
        if active is not None:
            raise AlreadyActive(active)
        request = CollectionRequest.objects.create(user=user, dag_id=dag_id, status=Status.PENDING)
    return request_send(request)


def request_send(request: CollectionRequest, client: AirflowClient | None = None) -> CollectionRequest:
    """Trigger the DAG run for a pending request; on failure keep it pending (or failed if refused)."""
    request.attempts += 1
    own_client = client is None
    client = client or airflow_client()
    try:
        run = trigger_once(
            client,
            request.dag_id,
            {"user_id": request.user_id},
            f"web__{request.dag_id}__u{request.user_id}__r{request.pk}",
        )
    except AirflowUnavailable as exc:
        request.status, request.reason = Status.PENDING, str(exc)
        log.warning("collection request %s kept pending: %s", request.pk, exc)
    except AirflowRejected as exc:
        request.status, request.reason = Status.FAILED, str(exc)
    else:
        request.dag_run_id = run.dag_run_id
        request.status = AIRFLOW_STATES.get(run.state, Status.QUEUED)
        request.reason = ""
    finally:
        if own_client:
            client.close()
    request.save()
    return request


@dataclass
class RunProgress:
    """What the collect page shows about a run beyond the stored status."""

    tasks: list[TaskState] = field(default_factory=list)
    note: str = ""

    @property
    def task_summary(self) -> list[tuple[str, dict[str, int]]]:
        summary: dict[str, dict[str, int]] = {}
        for task in self.tasks:
            states = summary.setdefault(task.task_id, {})
            state = task.state or "waiting"
            states[state] = states.get(state, 0) + 1
        return list(summary.items())


def request_refresh(request: CollectionRequest, *, with_tasks: bool = True) -> RunProgress:
    """Bring a request up to date: retry it if pending (at most every TWIN_COLLECT_RETRY_AFTER_S), or
    read its run's state (and task states) from Airflow. Never raises for Airflow being down."""
    progress = RunProgress()
    if request.status == Status.PENDING:
        if timezone.now() - request.updated_at >= timedelta(seconds=settings.TWIN_COLLECT_RETRY_AFTER_S):
            request_send(request)
        return progress
    if request.status not in ACTIVE and not with_tasks:
        return progress
    if not request.dag_run_id:
        return progress
    try:
        with airflow_client() as client:
            if request.status in ACTIVE:
                run = client.get_run(request.dag_id, request.dag_run_id)
                new_status = AIRFLOW_STATES.get(run.state, request.status)
                if new_status != request.status:
                    request.status = new_status
                    request.save(update_fields=["status", "updated_at"])
            if with_tasks:
                progress.tasks = client.task_states(request.dag_id, request.dag_run_id)
    except AirflowUnavailable as exc:
        progress.note = f"Airflow is not reachable right now ({exc.__class__.__name__}); showing the last known state."
    except AirflowRejected as exc:
        progress.note = f"Airflow did not return this run: {exc}"
    return progress


def retry_pending(*, older_than_s: float = 0) -> list[CollectionRequest]:
    """Send every pending request again (the ``retry_pending_collections`` command)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    pending = CollectionRequest.objects.filter(status=Status.PENDING, updated_at__lte=cutoff).order_by("created_at")
    sent = []
    with airflow_client() as client:
        for request in pending:
            sent.append(request_send(request, client))
    return sent
