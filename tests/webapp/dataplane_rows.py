"""Rows in the data-plane tables, written through the test's own Django connection (rolled back)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timezone

from django.db import connection


def crawl_run(
    user_id: int,
    source: str,
    platform: str,
    *,
    status: str = "succeeded",
    new: int = 0,
    changed: int = 0,
    failed: int = 0,
    errors: list | None = None,
    error: str | None = None,
    started_at: datetime | None = None,
) -> uuid.UUID:
    run_id = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "insert into raw.crawl_runs (crawl_run_id, user_id, source, platform, started_at, finished_at, status,"
            " documents_seen, documents_new, documents_changed, documents_failed, errors, error)"
            " values (%s, %s, %s, %s, %s, now(), %s, %s, %s, %s, %s, %s::jsonb, %s)",
            [
                run_id,
                user_id,
                source,
                platform,
                started_at or datetime.now(UTC),
                status,
                new + changed + failed,
                new,
                changed,
                failed,
                json.dumps(errors or []),
                error,
            ],
        )
    return run_id


def document(
    user_id: int,
    url: str,
    *,
    platform: str = "medium",
    kind: str = "article",
    title: str = "A post",
    content: str = "Some text.",
    published_at: datetime | None = None,
    own: bool = True,
    run_id: uuid.UUID | None = None,
    fetched_at: datetime | None = None,
) -> str:
    run_id = run_id or crawl_run(user_id, url, platform)
    version_id = hashlib.sha256(f"{user_id}|{url}|{content}|{uuid.uuid4()}".encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(
            "insert into raw.documents (document_version_id, user_id, platform, kind, source_url, title, content,"
            " published_at, metadata, content_hash, is_own_writing, crawl_run_id, fetched_at)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, '{}'::jsonb, %s, %s, %s, %s)",
            [
                version_id,
                user_id,
                platform,
                kind,
                url,
                title,
                content,
                published_at,
                hashlib.sha256(content.encode()).hexdigest(),
                own,
                run_id,
                fetched_at or datetime.now(UTC),
            ],
        )
    return version_id


def registry_model(
    user_id: int, *, status: str = "active", metrics: dict | None = None, error: str | None = None
) -> uuid.UUID:
    model_id = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "insert into registry.models (model_id, user_id, base_model, adapter_uri, metrics, status, error)"
            " values (%s, %s, 'tiny-local', %s, %s::jsonb, %s, %s)",
            [model_id, user_id, f"/adapters/{model_id}", json.dumps(metrics or {}), status, error],
        )
    return model_id
