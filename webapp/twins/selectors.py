"""Reads of the user's fine-tuned models (``registry.models``), filtered by owner."""

from __future__ import annotations

from django.db.models import QuerySet

from webapp.dataplane.models import RegistryModel


def model_list(*, user) -> QuerySet[RegistryModel]:
    return RegistryModel.objects.filter(user_id=user.pk).order_by("-created_at")


def active_model(*, user) -> RegistryModel | None:
    return model_list(user=user).filter(status=RegistryModel.Status.ACTIVE).first()


def flat_metrics(metrics: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Nested metrics as (dotted name, value) rows, numbers rounded for display."""
    rows: list[tuple[str, object]] = []
    for key, value in (metrics or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(flat_metrics(value, f"{name}."))
        elif isinstance(value, float):
            rows.append((name, round(value, 4)))
        elif isinstance(value, (int, str, bool)) or value is None:
            rows.append((name, value))
        else:
            rows.append((name, str(value)[:80]))
    return rows
