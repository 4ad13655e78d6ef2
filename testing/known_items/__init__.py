"""A known-item retrieval corpus: long multi-section articles on varied topics, written for the
benchmark (not the crawler or demo fixtures), each with three mid-article passages and a paraphrase
of each (see ``check_article.py`` for the rules every article meets).

Queries per article: its title, each passage verbatim, each paraphrase. The right answer is the
article itself (``search_documents`` returns documents).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

FOLDER = Path(__file__).resolve().parent / "articles"
URL_PREFIX = "https://known-items.example.org/"


@dataclass(frozen=True)
class Article:
    slug: str
    title: str
    topic: str
    body: str
    passages: tuple[str, ...]
    paraphrases: tuple[str, ...]

    @property
    def url(self) -> str:
        return URL_PREFIX + self.slug


@dataclass(frozen=True)
class Query:
    kind: str  # title | verbatim | paraphrase
    text: str
    url: str


def parse(path: Path) -> tuple[dict, str]:
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", path.read_text(encoding="utf-8"), re.S)
    if not match:
        raise ValueError(f"{path}: no front matter")
    return yaml.safe_load(match.group(1)), match.group(2).strip()


def articles(folder: Path = FOLDER) -> list[Article]:
    found = []
    for path in sorted(folder.glob("*.md")):
        meta, body = parse(path)
        items = meta.get("paraphrases") or []
        found.append(
            Article(
                slug=path.stem,
                title=meta["title"],
                topic=meta.get("topic", ""),
                body=body,
                passages=tuple(item["passage"] for item in items),
                paraphrases=tuple(item["query"] for item in items),
            )
        )
    return found


def queries(corpus: list[Article]) -> list[Query]:
    found = []
    for article in corpus:
        found.append(Query("title", article.title, article.url))
        found += [Query("verbatim", passage, article.url) for passage in article.passages]
        found += [Query("paraphrase", text, article.url) for text in article.paraphrases]
    return found


def records(corpus: list[Article]):
    """One ``DocumentRecord`` per article (a Substack article of the benchmark's user)."""
    from twin.core.raw import DocumentRecord

    start = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
    return [
        DocumentRecord(
            platform="substack",
            kind="article",
            source_url=article.url,
            title=article.title,
            published_at=start + timedelta(days=3 * number),
            content=article.body,
        )
        for number, article in enumerate(corpus)
    ]
