"""The control corpus: enough passages of the right length, by someone who is not the demo author."""

from __future__ import annotations

import re

import pytest

from training import control
from training.control import CONTROL_DIR, load_control_passages

AUTHOR_TOPICS = re.compile(r"runbook|on-call|code review|pull request", re.IGNORECASE)


def test_control_passages_shape():
    passages = load_control_passages()
    assert len(passages) >= 20
    for passage in passages:
        assert set(passage) == {"title", "text"}, passage
        words = len(passage["text"].split())
        assert 100 <= words <= 260, (passage["title"], words)
        assert not AUTHOR_TOPICS.search(passage["title"] + " " + passage["text"]), passage["title"]
    titles = [passage["title"] for passage in passages]
    assert len(set(titles)) == len(titles)
    assert (CONTROL_DIR / "README.md").is_file()


def test_limit():
    assert load_control_passages(limit=3) == load_control_passages()[:3]


def test_missing_file_says_where(tmp_path, monkeypatch):
    monkeypatch.setattr(control, "CONTROL_FILE", tmp_path / "passages.jsonl")
    with pytest.raises(FileNotFoundError, match="control corpus .*passages.jsonl is missing"):
        load_control_passages()
