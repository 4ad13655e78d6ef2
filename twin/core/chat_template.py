"""The one prompt format, shared by training and serving.

A prompt is two chat messages: a system message and one user message (the request, guidelines and
the context block, see :mod:`twin.core.prompting`); the post is the assistant's reply. They are rendered
with the base model's own chat template (SmolLM2's ChatML, Qwen's, ...), so an instruct model sees
the format it was tuned on, and a LoRA adapter trained on those renderings sees exactly the same
text at serving. A tokenizer without a chat template (the tiny test model) gets :data:`CHAT_TEMPLATE`,
a plain-text format with section markers that works without new tokens.
"""

from __future__ import annotations

import json

DEFAULT_SYSTEM_PROMPT = (
    "You are the author's writing twin. Write in their voice: their tone, rhythm, formatting, emoji and hashtags."
)
SYSTEM_MARKER = "### System:"
INSTRUCTION_MARKER = "### Instruction:"
RESPONSE_MARKER = "### Response:"
MARKERS = (SYSTEM_MARKER, INSTRUCTION_MARKER, RESPONSE_MARKER)

# The same format as a Jinja chat template, set on every tokenizer the project saves
# (messages: an optional system message, then one user message; the generation prompt opens the response).
CHAT_TEMPLATE = (
    "{%- set system = namespace(text=" + json.dumps(DEFAULT_SYSTEM_PROMPT) + ") -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}{%- set system.text = message['content'] -%}{%- endif -%}"
    "{%- endfor -%}"
    "{{ " + json.dumps(SYSTEM_MARKER + "\n") + " + system.text + '\\n\\n' }}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}"
    "{{ " + json.dumps(INSTRUCTION_MARKER + "\n") + " + message['content'] | trim + '\\n\\n' }}"
    "{%- elif message['role'] == 'assistant' -%}"
    "{{ " + json.dumps(RESPONSE_MARKER + "\n") + " + message['content'] | trim + eos_token }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ " + json.dumps(RESPONSE_MARKER + "\n") + " }}{%- endif -%}"
)


def chat_messages(instruction: str, system: str | None = None) -> list[dict[str, str]]:
    """The prompt as chat messages (what trl's conversational datasets and chat APIs take)."""
    return [
        {"role": "system", "content": system or DEFAULT_SYSTEM_PROMPT},
        {"role": "user", "content": instruction.strip()},
    ]


def render_prompt(instruction: str, system: str | None = None, tokenizer=None) -> str:
    """The text a model continues to answer ``instruction`` (ends where the response starts):
    the tokenizer's chat template when it has one, else the marker format."""
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            chat_messages(instruction, system), add_generation_prompt=True, tokenize=False
        )
    return (
        f"{SYSTEM_MARKER}\n{system or DEFAULT_SYSTEM_PROMPT}\n\n"
        f"{INSTRUCTION_MARKER}\n{instruction.strip()}\n\n"
        f"{RESPONSE_MARKER}\n"
    )


def render_training_text(prompt: str, response: str, eos_token: str) -> str:
    """A whole training example: the prompt, the author's response, then end-of-sequence."""
    return prompt + response.strip() + eos_token
