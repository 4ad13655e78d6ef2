"""One prompt format for training and serving: the function and the tokenizer template agree."""

from __future__ import annotations

from twin.core.chat_template import (
    CHAT_TEMPLATE,
    DEFAULT_SYSTEM_PROMPT,
    RESPONSE_MARKER,
    render_prompt,
    render_training_text,
)
from twin.core.model_loading import load_tokenizer
from twin.core.tiny_model import TinyModelSpec, build_tiny_model


def test_prompt_ends_where_the_response_starts():
    prompt = render_prompt("  Write a LinkedIn post about Postgres  ")
    assert prompt.startswith(
        f"### System:\n{DEFAULT_SYSTEM_PROMPT}\n\n### Instruction:\nWrite a LinkedIn post about Postgres\n"
    )
    assert prompt.endswith(f"{RESPONSE_MARKER}\n")
    assert render_training_text(prompt, "Hello 👋\n", "</s>") == prompt + "Hello 👋</s>"
    assert "Be brief." in render_prompt("x", system="Be brief.")


def test_tokenizer_template_renders_the_same_text(tmp_path):
    texts = [render_prompt("Write about tests"), "Tests are letters to your future self. ✅ #Testing"] * 5
    tokenizer = load_tokenizer(str(build_tiny_model(texts, TinyModelSpec(vocab_size=400), tmp_path)))
    assert tokenizer.chat_template == CHAT_TEMPLATE
    for system in (None, "Be brief."):
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": "Write about tests"}
        ]
        rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert rendered == render_prompt("Write about tests", system)
        full = tokenizer.apply_chat_template(
            messages + [{"role": "assistant", "content": "Ship it. 🚀"}], tokenize=False
        )
        assert full == render_training_text(rendered, "Ship it. 🚀", tokenizer.eos_token)
    # the section markers are single special tokens of the tiny tokenizer
    assert len(tokenizer("### Response:", add_special_tokens=False)["input_ids"]) == 1
