"""A draft is judged while it is generated: a local model stops writing as soon as the draft has a
problem no continuation can remove (a chat reply, a template slot, a loop), and the next draft
starts, instead of finishing a post that would be rejected. A model scripted to write a given text
(the tiny starter model, its tokens forced) stands in for a base model that writes those drafts."""

from __future__ import annotations

import pytest

from serving.config import PromptConfig, QualityConfig
from serving.generation import (
    BASE_MODEL_ID,
    DraftCheck,
    GenerationRequest,
    ModelSpec,
    TransformersModel,
    generate,
    generate_stream,
)

# what the shipped base model wrote for a new user under `twin up` (tests/twin/core/test_post_quality.py)
CHAT_REPLY = (
    "Your story is perfect. It brings together two stories that you've both written about things they didn't "
    "really write about themselves. Your story sounds just as compelling as someone else's. "
)
LOOP = "Ship small and sleep well. "
POST = (
    "Our pager went off 3 times last month. A year ago it was 40.\n\nWe didn't hire an SRE team and we didn't "
    "buy a tool. We did three boring things, and every alert that is not actionable gets deleted that week. "
)


class ScriptedModel(TransformersModel):
    """The tiny starter model, made to write ``script`` (repeated) whatever it is asked."""

    script = POST

    def _options(self, max_new_tokens, temperature, overrides=None, check=None, prompt_length=0):
        options = super()._options(max_new_tokens, temperature, overrides, check, prompt_length)
        tokens = self.tokenizer.encode(self.script * 20, add_special_tokens=False)
        options.update(
            prefix_allowed_tokens_fn=lambda batch, ids: [tokens[len(ids) - prompt_length]],
            min_new_tokens=max_new_tokens,
            bad_words_ids=None,
            repetition_penalty=1.0,
            no_repeat_ngram_size=0,
        )
        return options


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    return ScriptedModel(ModelSpec(BASE_MODEL_ID, "tiny-local"), home=tmp_path_factory.mktemp("home"), device="cpu")


@pytest.fixture
def text(scripted):
    return scripted.render("Write about alert budgets", None)


@pytest.mark.parametrize(("script", "problem"), [(CHAT_REPLY, "reads as a chat reply"), (LOOP, "repetition loop")])
def test_a_draft_stops_at_its_first_lasting_problem(scripted, text, monkeypatch, script, problem):
    monkeypatch.setattr(scripted, "script", script)
    finished, _, full = scripted.complete(text, 160, 0.0)
    assert full == 160, "without a check the model writes every token"

    check = DraftCheck()
    draft, _, written = scripted.complete(text, 160, 0.0, None, check)
    assert any(problem in found for found in check.problems), check.problems
    assert written < full and written % check.every_tokens == 0 and finished.startswith(draft)

    streamed = DraftCheck()
    assert "".join(scripted.stream(text, 160, 0.0, None, streamed)) == draft, "streaming stops at the same token"
    assert streamed.problems == check.problems


def test_a_post_that_stays_clean_is_written_in_full(scripted, text):
    check = DraftCheck()
    _, _, written = scripted.complete(text, 40, 0.0, None, check)  # under one repetition of the script
    assert written == 40 and check.problems == []


def test_every_draft_stopped_early_is_a_rejection_that_says_why(scripted, monkeypatch):
    """generate() and generate_stream(): each draft stopped early, the next started; none shown."""
    monkeypatch.setattr(scripted, "script", CHAT_REPLY)
    request = GenerationRequest("Write about alert budgets", [], [], 200, 0.7, scripted.spec)
    quality = QualityConfig(max_attempts=3)

    result = generate(scripted, request, PromptConfig(), quality)
    assert result.post == "" and result.rejected_draft
    assert result.quality["attempts"] == 3 and result.quality["stopped_early"] is True
    assert any("reads as a chat reply" in problem for problem in result.quality["problems"])
    assert result.generated_tokens < 200

    events = list(generate_stream(scripted, request, PromptConfig(), quality))
    assert [event["type"] for event in events if event["type"] != "token"] == ["reset", "reset", "result"]
    final = events[-1]["result"]
    assert final["post"] == "" and final["quality"]["stopped_early"] is True
