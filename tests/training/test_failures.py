"""Bad input: a clear reason and a `failed` registry row, before any Ray work starts."""

from __future__ import annotations

import pytest
import yaml

from training import registry
from training.config import TINY_CONFIG, load_config
from training.pipeline import TrainingFailed, fine_tune
from twin.core import model_registry


def _failed_run(engine, settings, user_id, config, rows, match):
    with pytest.raises(TrainingFailed, match=match) as failure:
        fine_tune(user_id, config, rows=rows, settings=settings, engine=engine)
    with engine.connect() as conn:
        record = model_registry.get_model(conn, failure.value.model_id)
    assert record.user_id == user_id and record.status == "failed"
    assert record.error == str(failure.value) and record.adapter_uri is None
    assert not (settings.home / "adapters" / str(user_id) / str(record.model_id)).exists()
    return record


def test_too_few_samples(engine, training_settings, user_id, corpus_rows):
    record = _failed_run(
        engine,
        training_settings,
        user_id,
        TINY_CONFIG,
        corpus_rows[:5],
        r"too few samples .* at least 16 train and 2 validation are needed",
    )
    assert record.dataset_snapshot is None and record.config["training"]["name"] == "tiny"


def test_empty_dataset(engine, training_settings, user_id):
    _failed_run(engine, training_settings, user_id, TINY_CONFIG, [], "has no training samples")


def test_invalid_config(engine, training_settings, user_id, corpus_rows, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nbase_model: some/model\nlora: {r: -1}\n")
    record = _failed_run(engine, training_settings, user_id, path, corpus_rows, r"lora\.r: Input should be greater")
    assert record.base_model == "some/model" and record.config["raw"]["lora"] == {"r": -1}


def test_missing_base_model(engine, training_settings, user_id, corpus_rows):
    config = load_config(TINY_CONFIG, base_model=str(training_settings.home / "no-such-model"))
    _failed_run(engine, training_settings, user_id, config, corpus_rows, "no-such-model does not exist")


def test_out_of_disk(engine, training_settings, user_id, corpus_rows):
    config = load_config(TINY_CONFIG, min_free_disk_gb=10**9)
    record = _failed_run(
        engine, training_settings, user_id, config, corpus_rows, r"out of disk space: .* GB free under .*needs at least"
    )
    assert record.dataset_snapshot  # the failure came after the export


def test_resuming_someone_elses_run_is_refused(engine, training_settings, user_id, corpus_rows):
    record = _failed_run(engine, training_settings, user_id, TINY_CONFIG, corpus_rows[:3], "too few")
    with pytest.raises(TrainingFailed, match="no training run"):
        fine_tune(user_id + 1, resume_model_id=record.model_id, settings=training_settings, engine=engine)


def test_real_model_config_keeps_the_hub_path(tmp_path):
    """The GPU config names a hub id; loading it offline fails with advice instead of a traceback."""
    from twin.core.model_loading import BaseModelNotFound, check_base_model

    gpu_config = next(p for p in TINY_CONFIG.parent.glob("*.yaml") if p != TINY_CONFIG)
    base_model = yaml.safe_load(gpu_config.read_text())["base_model"]
    with pytest.raises(BaseModelNotFound, match="hf download"):
        check_base_model(base_model)
