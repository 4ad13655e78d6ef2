"""The one prompt format, shared by training and serving.

Serving must build prompts with :func:`render_prompt` (or the tokenizer's ``chat_template``, which
renders the same text) so the tuned adapter sees exactly what it was trained on. The format uses
plain-text section markers, so it works with any base model's tokenizer without new tokens; the
tiny local tokenizer registers the markers as special tokens.
"""

from __future__ import annotations

import json

DEFAULT_SYSTEM_PROMPT = (
    "You are the author's writing twin. Write in their voice: their tone, rhythm, formatting, "
    "emoji and hashtags."
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


def render_prompt(instruction: str, system: str | None = None) -> str:
    """The text a model continues to answer ``instruction`` (ends where the response starts)."""
    return (f"{SYSTEM_MARKER}\n{system or DEFAULT_SYSTEM_PROMPT}\n\n"
            f"{INSTRUCTION_MARKER}\n{instruction.strip()}\n\n"
            f"{RESPONSE_MARKER}\n")


def render_training_text(prompt: str, response: str, eos_token: str) -> str:
    """A whole training example: the prompt, the author's response, then end-of-sequence."""
    return prompt + response.strip() + eos_token
