"""Evaluation pieces: stylometric profile, style score, perplexity, the serving loading path."""

from __future__ import annotations

import pytest

from testing.corpus import POSTS, sft_rows
from training.dataset import build_samples
from training.evaluate import perplexity, profile_similarity, style_score, stylometric_profile, vocabulary_overlap
from twin.core.model_loading import load_for_inference
from twin.core.tiny_model import TinyModelSpec, build_tiny_model


def test_profile_captures_the_authors_habits():
    profile = stylometric_profile(POSTS)
    assert profile["emoji_per_100_words"] > 1 and profile["hashtags_per_100_words"] > 3
    assert profile["line_breaks_per_100_words"] > 15 and profile["chars_per_line"] < 50
    corporate = stylometric_profile(
        [
            "We are pleased to announce our quarterly results, which exceeded the "
            "expectations of our stakeholders across all regions and segments."
        ]
    )
    assert corporate["emoji_per_100_words"] == 0 and corporate["words_per_sentence"] > 15
    assert profile_similarity(profile, profile) == 1.0
    assert profile_similarity(corporate, profile) < 0.5


def test_style_score_prefers_the_authors_voice():
    references = POSTS[:4]
    own = style_score(POSTS[4:8], references, "all-MiniLM-L6-v2")
    other = style_score(
        ["Quarterly revenue grew by four percent, driven by strong demand in EMEA."] * 4, references, "all-MiniLM-L6-v2"
    )
    assert own["score"] > other["score"]
    assert style_score(references, references, "all-MiniLM-L6-v2")["score"] == pytest.approx(1.0, abs=1e-4)
    assert vocabulary_overlap(["→ a"], ["a long post"]) < 0.5


def test_base_model_loads_through_the_serving_path(tmp_path, user_id):
    samples = build_samples(sft_rows(user_id), user_id)
    base = build_tiny_model([s.prompt + s.response for s in samples], TinyModelSpec(), tmp_path)
    assert build_tiny_model([s.prompt + s.response for s in samples], TinyModelSpec(), tmp_path) == base
    model, tokenizer = load_for_inference(None, str(base))
    assert tokenizer.pad_token and tokenizer.eos_token == "</s>"
    assert perplexity(model, tokenizer, samples[:3], 256) > 100  # random weights know nothing yet
    with pytest.raises(FileNotFoundError, match="no LoRA adapter"):
        load_for_inference(str(tmp_path / "missing"), str(base))
