"""Reads for the collect page: the user's requests and what each crawl collected."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from webapp.collection.models import CollectionRequest
from webapp.dataplane.models import CrawlRun


def request_list(*, user, dag_id: str = "twin_collect") -> QuerySet[CollectionRequest]:
    return CollectionRequest.objects.filter(user=user, dag_id=dag_id).order_by("-created_at")


def request_latest(*, user, dag_id: str = "twin_collect") -> CollectionRequest | None:
    return request_list(user=user, dag_id=dag_id).first()


def request_get(*, user, request_id: int, dag_id: str | None = None) -> CollectionRequest:
    filters = {"pk": request_id, "user": user}
    if dag_id:
        filters["dag_id"] = dag_id
    return get_object_or_404(CollectionRequest, **filters)


def crawl_runs_for_request(request: CollectionRequest) -> QuerySet[CrawlRun]:
    """The user's crawls that started after this request and before their next one."""
    runs = CrawlRun.objects.filter(user_id=request.user_id, started_at__gte=request.created_at)
    following = (
        CollectionRequest.objects.filter(
            user_id=request.user_id, dag_id=request.dag_id, created_at__gt=request.created_at
        )
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    if following is not None:
        runs = runs.filter(started_at__lt=following)
    return runs.exclude(source__endswith="-export").order_by("platform", "source")
