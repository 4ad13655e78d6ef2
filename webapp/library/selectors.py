"""Reads of the user's collected documents (``raw.documents``, latest version per URL) and search
over their indexed chunks (``twin.core.retrieval``). Every query is filtered by the owner."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Max, QuerySet, TextField, Value
from django.db.models.functions import MD5, Cast, Concat
from django.http import Http404

from webapp.dataplane.models import RawDocument


def platform_counts(*, user) -> list[dict]:
    """Per platform: documents (distinct URLs), versions, newest publication and last collection."""
    return list(
        RawDocument.objects.filter(user_id=user.pk)
        .values("platform")
        .annotate(
            documents=Count("source_url", distinct=True),
            versions=Count("document_version_id"),
            newest=Max("published_at"),
            last_collected=Max("fetched_at"),
        )
        .order_by("platform")
    )


def document_list(*, user, platform: str | None = None) -> QuerySet[RawDocument]:
    """The latest version of each of the user's documents, newest first."""
    latest = RawDocument.objects.filter(user_id=user.pk)
    if platform:
        latest = latest.filter(platform=platform)
    latest_ids = latest.order_by("source_url", "-fetched_at").distinct("source_url").values("document_version_id")
    return (
        RawDocument.objects.filter(user_id=user.pk, document_version_id__in=latest_ids)
        .defer("content", "metadata")
        .order_by("-published_at", "-fetched_at")
    )


@dataclass
class DocumentView:
    document_id: str
    latest: RawDocument
    versions: list[RawDocument]


def document_get(*, user, doc_id: str) -> DocumentView:
    versions = list(
        RawDocument.objects.filter(user_id=user.pk)
        .annotate(doc_id=MD5(Concat(Cast("user_id", TextField()), Value("|"), "source_url", output_field=TextField())))
        .filter(doc_id=doc_id)
        .order_by("-fetched_at")
    )
    if not versions:
        raise Http404("No such document")
    return DocumentView(doc_id, versions[0], versions)


class SearchUnavailable(Exception):
    pass


def _search_index_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "select to_regclass('marts.chunks') is not null and to_regclass('vectors.chunk_embeddings') is not null"
        )
        return bool(cursor.fetchone()[0])


def search(*, user, query: str, k: int = 10) -> list:
    """The user's best documents for ``query`` (hybrid vector + keyword search)."""
    from twin.core.db import get_engine
    from twin.core.retrieval import search_documents

    query = query.strip()
    if not query:
        return []
    if not _search_index_exists():
        raise SearchUnavailable("Nothing is indexed yet: search works after your first collection has finished.")
    return search_documents(get_engine(), user.pk, query, k=k)
