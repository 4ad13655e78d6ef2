"""Check the known-item articles: python testing/known_items/check_article.py [files...] (default: all)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

FOLDER = Path(__file__).resolve().parent / "articles"


def parse(path: Path) -> tuple[dict, str]:
    text = path.read_text(encoding="utf-8")
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    if not match:
        raise ValueError("no front matter (--- ... ---) at the top")
    return yaml.safe_load(match.group(1)), match.group(2).strip()


def problems(path: Path) -> list[str]:
    try:
        meta, body = parse(path)
    except Exception as exc:  # noqa: BLE001
        return [f"unreadable: {exc}"]
    found = []
    words = len(body.split())
    if not 900 <= words <= 1700:
        found.append(f"body has {words} words (900-1700)")
    if len(re.findall(r"^## ", body, re.M)) < 4:
        found.append("fewer than 4 '## ' section headings")
    if not meta.get("title") or not meta.get("topic"):
        found.append("title and topic are required")
    queries = meta.get("paraphrases") or []
    if len(queries) != 3:
        found.append(f"{len(queries)} paraphrases (exactly 3)")
    for number, item in enumerate(queries, 1):
        passage, query = item.get("passage", ""), item.get("query", "")
        where = body.find(passage)
        if not passage or where < 0:
            found.append(f"paraphrase {number}: passage not found verbatim in the body")
            continue
        if not 0.2 <= where / len(body) <= 0.85:
            found.append(f"paraphrase {number}: passage at {where / len(body):.0%} of the body (20-85%)")
        if not 8 <= len(query.split()) <= 35:
            found.append(f"paraphrase {number}: query has {len(query.split())} words (8-35)")
        shared = set(re.findall(r"[a-z]{5,}", query.lower())) & set(re.findall(r"[a-z]{5,}", passage.lower()))
        if len(shared) > 4:
            found.append(f"paraphrase {number}: query shares {len(shared)} long words with the passage (at most 4)")
    return found


if __name__ == "__main__":
    paths = [Path(p) for p in sys.argv[1:]] or sorted(FOLDER.glob("*.md"))
    bad = 0
    for path in paths:
        for problem in problems(path):
            bad += 1
            print(f"{path.name}: {problem}")
    titles = [parse(p)[0].get("title") for p in sorted(FOLDER.glob("*.md"))]
    if len(titles) != len(set(titles)):
        bad += 1
        print("duplicate titles")
    print(f"{len(paths)} files checked, {bad} problems")
    sys.exit(1 if bad else 0)
