"""``registry.models``: one row per fine-tuning run.

Life of a row: ``training`` when the run starts, then ``failed`` (with the reason) or ``ready``
(with the adapter and its metrics). A ready adapter becomes the user's ``active`` one only if it
beats the current active adapter (or, with none, the base model) on held-out perplexity; the
previous active one goes back to ``ready``. At most one row per user is active (a unique index
enforces it). This module is the table's only writer; the reads (serving's
:func:`~twin.core.model_registry.active_model`) are in :mod:`twin.core.model_registry`.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import sqlalchemy as sa

from twin.core.model_registry import get_model
from twin.core.tables import models


def start_run(
    conn: sa.Connection, user_id: int, base_model: str, config: dict[str, Any], model_id: uuid.UUID | None = None
) -> uuid.UUID:
    model_id = model_id or uuid.uuid4()
    conn.execute(
        models.insert().values(
            model_id=model_id, user_id=user_id, base_model=base_model, config=config, status="training"
        )
    )
    return model_id


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (an infinite perplexity, a NaN score) as None: JSON has
    no NaN or Infinity, and Postgres refuses them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def update_run(conn: sa.Connection, model_id: uuid.UUID, **values: Any) -> None:
    if "metrics" in values:
        values["metrics"] = json_safe(values["metrics"])
    conn.execute(models.update().where(models.c.model_id == model_id).values(**values, updated_at=sa.func.now()))


def restart_run(conn: sa.Connection, model_id: uuid.UUID) -> None:
    """Back to ``training`` for a resumed run (only a failed or stuck run can be resumed)."""
    update_run(conn, model_id, status="training", error=None)


def fail_run(conn: sa.Connection, model_id: uuid.UUID, reason: str) -> None:
    """Mark the run failed; a failed run never points at an adapter."""
    update_run(conn, model_id, status="failed", error=reason, adapter_uri=None)


def fail_interrupted(conn: sa.Connection) -> list[uuid.UUID]:
    """When the local stack starts nothing can still be training: a row left ``training`` by a crash
    is marked failed with how to continue (its checkpoints are kept). Returns the ids."""
    rows = (
        conn.execute(
            models.update()
            .where(models.c.status == "training")
            .values(
                status="failed",
                adapter_uri=None,
                updated_at=sa.func.now(),
                error=sa.func.concat(
                    "interrupted: training stopped with the stack before it finished; `twin train --resume ",
                    models.c.model_id,
                    "` continues from the last checkpoint",
                ),
            )
            .returning(models.c.model_id)
        )
        .scalars()
        .all()
    )
    return list(rows)


def finish_run(
    conn: sa.Connection,
    model_id: uuid.UUID,
    *,
    adapter_uri: str,
    metrics: dict[str, Any],
    perplexity: float,
    baseline_perplexity: float,
) -> str:
    """Record a successful run and promote it if it beats the baseline; returns the final status.

    ``baseline_perplexity`` is the current active adapter's perplexity on this run's held-out
    split (or the base model's when the user has no active adapter). The user's rows are locked so
    two runs finishing together cannot both win.
    """
    record = get_model(conn, model_id)
    conn.execute(sa.select(models.c.model_id).where(models.c.user_id == record.user_id).with_for_update())
    promote = perplexity < baseline_perplexity
    compared = metrics.get("compared_with") or {}
    metrics = {
        **metrics,
        "promotion": {
            "promoted": promote,
            "perplexity": perplexity,
            "baseline": compared.get("name", "base"),
            "baseline_model_id": compared.get("model_id"),
            "baseline_perplexity": baseline_perplexity,
        },
    }
    if promote:
        conn.execute(
            models.update()
            .where(models.c.user_id == record.user_id, models.c.status == "active")
            .values(status="ready", updated_at=sa.func.now())
        )
    status = "active" if promote else "ready"
    update_run(conn, model_id, status=status, adapter_uri=adapter_uri, metrics=metrics, error=None)
    return status


USERS_WITH_NEW_SAMPLES = sa.text("""
    with samples as (
        select user_id, count(*) as sample_count from marts.sft_samples group by user_id
    ),
    last_trained as (
        select distinct on (user_id)
            user_id,
            coalesce((metrics -> 'dataset' ->> 'train_samples')::int, 0)
              + coalesce((metrics -> 'dataset' ->> 'validation_samples')::int, 0) as trained_on
        from registry.models
        where status in ('ready', 'active')
        order by user_id, created_at desc
    )
    select samples.user_id
    from samples left join last_trained using (user_id)
    where samples.sample_count - coalesce(last_trained.trained_on, 0) >= :minimum
    order by samples.user_id
""")


def users_due_for_training(conn: sa.Connection, min_new_samples: int) -> list[int]:
    """Users whose training samples grew by at least ``min_new_samples`` since their last finished run."""
    if conn.execute(sa.text("select to_regclass('marts.sft_samples')")).scalar() is None:
        return []
    return [int(row.user_id) for row in conn.execute(USERS_WITH_NEW_SAMPLES, {"minimum": min_new_samples})]
