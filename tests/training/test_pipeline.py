"""End to end on the fixture corpus: tiny model, 2 Ray Train workers on CPU, interrupted and
resumed, evaluated against the base, registered and loaded the way serving loads it. Checkpoints,
the dataset snapshot and the adapter live in shared storage given as a URI (TWIN_STORAGE_URI,
file:// through pyarrow like s3://): the resumed run and the serving side read them from there,
not from the local copies (which the test deletes)."""

from __future__ import annotations

import json
import shutil

import pytest

from training import registry
from training.config import TINY_CONFIG, load_config
from training.pipeline import TrainingFailed, fine_tune
from twin.core import model_registry
from twin.core.chat_template import render_prompt
from twin.core.model_loading import load_for_inference

pytestmark = pytest.mark.slow


def test_interrupted_run_resumes_then_becomes_active(
    engine, training_settings, local_ray, user_id, corpus_rows, tmp_path
):
    config = load_config(TINY_CONFIG)
    assert config.scaling.num_workers == 2
    shared = tmp_path / "shared"
    training_settings = training_settings.model_copy(update={"storage_uri": f"file://{shared}"})

    with pytest.raises(TrainingFailed, match="interrupted after step") as interrupted:
        fine_tune(
            user_id,
            TINY_CONFIG,
            rows=corpus_rows,
            settings=training_settings,
            engine=engine,
            interrupt_after_step=config.save_steps,
        )
    model_id = interrupted.value.model_id
    with engine.connect() as conn:
        failed = model_registry.get_model(conn, model_id)
    assert failed.status == "failed" and "interrupted after step" in failed.error
    assert failed.adapter_uri is None and failed.dataset_snapshot
    assert failed.dataset_snapshot.startswith(f"file://{shared}/datasets/{user_id}/")
    assert failed.config["run"]["storage_path"] == f"file://{shared}/ray_results"
    assert list((shared / "ray_results" / failed.config["run"]["name"]).glob("checkpoint_*"))
    shutil.rmtree(training_settings.home / "datasets")  # the resumed run finds the snapshot in storage

    steps_seen = []
    outcome = fine_tune(
        user_id,
        resume_model_id=model_id,
        settings=training_settings,
        engine=engine,
        progress=lambda message, done, total: steps_seen.append(done),
    )
    assert outcome.model_id == model_id
    training = outcome.metrics["training"]
    assert training["resumed_from_step"] == config.save_steps
    assert training["global_step"] > config.save_steps
    assert training["world_size"] == 2

    losses = training["loss_curve"]["train_loss"]
    assert losses[-1] < losses[0] * 0.85, losses
    evaluation = outcome.metrics["evaluation"]
    assert evaluation["tuned"]["perplexity"] < evaluation["base"]["perplexity"]
    assert 0 <= evaluation["tuned"]["style"]["score"] <= 1
    assert set(evaluation["tuned"]["style"]) == {
        "score",
        "profile_similarity",
        "vocabulary_overlap",
        "embedding_cosine",
    }

    with engine.connect() as conn:
        active = model_registry.active_model(conn, user_id)
    assert active.model_id == model_id and active.status == "active" and active.error is None
    assert active.adapter_uri == outcome.adapter_uri == f"file://{shared}/adapters/{user_id}/{model_id}"
    assert (shared / "adapters" / str(user_id) / str(model_id) / "adapter_config.json").is_file()
    assert active.metrics["perplexity"] == evaluation["tuned"]["perplexity"]
    assert active.metrics["compared_with"]["name"] == "base"
    assert json.loads(outcome.report_path.read_text())["model_id"] == str(model_id)
    assert outcome.plot_path.read_bytes().startswith(b"\x89PNG")
    shutil.rmtree(training_settings.home / "adapters")  # serving on another node has only the storage

    # the path serving takes: registry row -> base + adapter -> prompt from the shared template
    model, tokenizer = load_for_inference(active.adapter_uri, active.base_model)
    prompt = render_prompt("Write a LinkedIn post about shipping on Fridays")
    assert (
        tokenizer.apply_chat_template(
            [{"role": "user", "content": "Write a LinkedIn post about shipping on Fridays"}],
            tokenize=False,
            add_generation_prompt=True,
        )
        == prompt
    )
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    generated = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert generated.shape[1] > inputs["input_ids"].shape[1]
