"""Registry rules: one active adapter per user, promoted only when it beats the baseline."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from training import registry
from twin.core import model_registry


def _ready(db_conn, user_id, perplexity, baseline):
    model_id = registry.start_run(db_conn, user_id, "tiny", {"name": "tiny"})
    status = registry.finish_run(
        db_conn,
        model_id,
        adapter_uri=f"/adapters/{model_id}",
        metrics={"perplexity": perplexity},
        perplexity=perplexity,
        baseline_perplexity=baseline,
    )
    return model_id, status


def test_better_adapter_replaces_the_active_one(db_conn, user_id):
    first, status = _ready(db_conn, user_id, perplexity=50.0, baseline=200.0)  # vs the base model
    assert status == "active"
    second, status = _ready(db_conn, user_id, perplexity=40.0, baseline=50.0)  # vs the active adapter
    assert status == "active"
    assert model_registry.active_model(db_conn, user_id).model_id == second
    assert model_registry.get_model(db_conn, first).status == "ready"


def test_worse_adapter_stays_ready(db_conn, user_id):
    first, _ = _ready(db_conn, user_id, perplexity=50.0, baseline=200.0)
    second, status = _ready(db_conn, user_id, perplexity=60.0, baseline=50.0)
    assert status == "ready"
    promotion = model_registry.get_model(db_conn, second).metrics["promotion"]
    assert promotion == {
        "promoted": False,
        "perplexity": 60.0,
        "baseline": "base",
        "baseline_model_id": None,
        "baseline_perplexity": 50.0,
    }, "both figures are recorded in the row"
    assert model_registry.active_model(db_conn, user_id).model_id == first
    assert [record.status for record in model_registry.list_models(db_conn, user_id)].count("active") == 1


def test_adapter_that_does_not_beat_the_base_is_not_activated(db_conn, user_id):
    _, status = _ready(db_conn, user_id, perplexity=300.0, baseline=200.0)
    assert status == "ready" and model_registry.active_model(db_conn, user_id) is None


def test_failed_run_keeps_its_reason_and_no_adapter(db_conn, user_id):
    model_id = registry.start_run(db_conn, user_id, "tiny", {})
    registry.update_run(db_conn, model_id, adapter_uri="/half/copied")
    registry.fail_run(db_conn, model_id, "out of disk space")
    record = model_registry.get_model(db_conn, model_id)
    assert (record.status, record.error, record.adapter_uri) == ("failed", "out of disk space", None)


def test_database_allows_one_active_per_user(db_conn, user_id):
    _ready(db_conn, user_id, perplexity=50.0, baseline=200.0)
    other = registry.start_run(db_conn, user_id, "tiny", {})
    with pytest.raises(sa.exc.IntegrityError):
        with db_conn.begin_nested():
            registry.update_run(db_conn, other, status="active")


def test_non_finite_metrics_are_stored_as_null(db_conn, user_id):
    """A random model's infinite perplexity must not fail the run at the last step (JSON has no Infinity)."""
    model_id, status = _ready(db_conn, user_id, perplexity=50.0, baseline=200.0)
    registry.update_run(
        db_conn,
        model_id,
        metrics={"control": {"perplexity": float("inf")}, "style": float("nan"), "curve": [1.0, float("-inf")]},
    )
    assert model_registry.get_model(db_conn, model_id).metrics == {
        "control": {"perplexity": None},
        "style": None,
        "curve": [1.0, None],
    }


def test_a_run_left_training_by_a_crash_is_failed_at_the_next_start(db_conn, user_id):
    stuck = registry.start_run(db_conn, user_id, "tiny", {})
    registry.update_run(db_conn, stuck, adapter_uri="/half/written")
    done, _ = _ready(db_conn, user_id, 10.0, 20.0)
    assert stuck in registry.fail_interrupted(db_conn)
    record = model_registry.get_model(db_conn, stuck)
    assert record.status == "failed" and record.adapter_uri is None
    assert record.error.startswith("interrupted:") and f"twin train --resume {stuck}" in record.error
    assert model_registry.get_model(db_conn, done).status == "active", "finished runs are left alone"
    assert registry.fail_interrupted(db_conn) == []
