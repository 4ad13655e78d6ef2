"""Control corpus for evaluation: writing by someone who is *not* the demo author.

Tuning on the author should lower perplexity on the author's held-out text a lot, and on this text
much less. ``training/control/README.md`` describes the corpus.
"""

from __future__ import annotations

import json
from pathlib import Path

CONTROL_DIR = Path(__file__).resolve().parent / "control"
CONTROL_FILE = CONTROL_DIR / "passages.jsonl"


def load_control_passages(limit: int | None = None) -> list[dict]:
    """The control passages (``{"title", "text"}`` dicts) in file order, at most ``limit`` of them."""
    try:
        lines = CONTROL_FILE.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"control corpus {CONTROL_FILE} is missing (it ships in the repository under training/control/)"
        ) from None
    passages = [json.loads(line) for line in lines if line.strip()]
    return passages if limit is None else passages[:limit]
