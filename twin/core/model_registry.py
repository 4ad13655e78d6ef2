"""Reads of ``registry.models`` (one row per fine-tuning run): which adapter serves a user, a user's
runs. :mod:`training.registry` is the table's only writer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from twin.core.tables import models


@dataclass(frozen=True)
class ModelRecord:
    model_id: uuid.UUID
    user_id: int
    base_model: str
    adapter_uri: str | None
    dataset_snapshot: str | None
    config: dict[str, Any]
    metrics: dict[str, Any]
    status: str
    error: str | None

    @classmethod
    def from_row(cls, row) -> ModelRecord:
        return cls(
            row.model_id,
            row.user_id,
            row.base_model,
            row.adapter_uri,
            row.dataset_snapshot,
            dict(row.config),
            dict(row.metrics),
            row.status,
            row.error,
        )


def get_model(conn: sa.Connection, model_id: uuid.UUID) -> ModelRecord | None:
    row = conn.execute(sa.select(models).where(models.c.model_id == model_id)).first()
    return ModelRecord.from_row(row) if row else None


def active_model(conn: sa.Connection, user_id: int) -> ModelRecord | None:
    """The adapter serving should use for ``user_id`` (None: use the base model)."""
    row = conn.execute(sa.select(models).where(models.c.user_id == user_id, models.c.status == "active")).first()
    return ModelRecord.from_row(row) if row else None


def list_models(conn: sa.Connection, user_id: int) -> list[ModelRecord]:
    rows = conn.execute(sa.select(models).where(models.c.user_id == user_id).order_by(models.c.created_at.desc()))
    return [ModelRecord.from_row(row) for row in rows]
