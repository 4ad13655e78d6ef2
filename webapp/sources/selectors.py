"""Reads of sources and uploads, always for one owner (another user's id is a 404)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from webapp.dataplane.models import CrawlRun
from webapp.sources.models import Source, Upload


def source_list(*, user) -> QuerySet[Source]:
    return Source.objects.filter(user=user).order_by("platform", "url")


def source_get(*, user, source_id: int) -> Source:
    return get_object_or_404(Source, pk=source_id, user=user)


def upload_list(*, user) -> QuerySet[Upload]:
    return Upload.objects.filter(user=user).order_by("-created_at")


def upload_get(*, user, upload_id: int) -> Upload:
    return get_object_or_404(Upload, pk=upload_id, user=user)


def sources_with_last_run(*, user) -> list[tuple[Source, CrawlRun | None]]:
    """Each source of the user with its most recent crawl (``raw.crawl_runs.source`` is the source URL)."""
    sources = list(source_list(user=user))
    runs = (
        CrawlRun.objects.filter(user_id=user.pk, source__in=[source.url for source in sources])
        .order_by("source", "-started_at")
        .distinct("source")
    )
    by_url = {run.source: run for run in runs}
    return [(source, by_url.get(source.url)) for source in sources]
