"""Medium export: one ``posts/*.html`` file per story, draft or response.

Medium's export (Settings > Security and apps > Download your information) writes each story as an
h-entry: ``h1.p-name`` title, ``section[data-field=body]`` body (whose first heading repeats the
title, class ``graf--title``), ``time.dt-published``, ``a.p-author`` and ``a.p-canonical`` (the public
URL). Drafts are the ``draft_*`` files. Responses (replies to other stories) are exported as posts
too: they have no title heading and are short.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import PurePosixPath

from crawlers.importers.archives import ExportArchive
from crawlers.importers.parsing import ExportFormatError, element_markdown, element_text, parse_html, parse_timestamp
from crawlers.importers.plan import Entry, ExportFormat, Plan, Skipped
from twin.core.raw import DocumentRecord

POST_FILE = re.compile(r"(^|/)posts/[^/]+\.html?$")
MEDIUM_POST_ID = re.compile(r"-([0-9a-f]{8,16})$")
# A response is a comment under someone else's story; a real story without a title heading is longer.
RESPONSE_MAX_CHARS = 1200


def plan(archive: ExportArchive) -> Plan:
    for name in archive.find(POST_FILE):
        if PurePosixPath(name).name.startswith("draft_"):
            yield Entry(name, lambda: Skipped("draft"))
        else:
            yield Entry(name, partial(_load_story, archive, name))


def _load_story(archive: ExportArchive, name: str) -> DocumentRecord | Skipped:
    root = parse_html(archive.read(name), name)
    body = _first(root, "section[data-field=body]")
    if body is None:
        raise ExportFormatError(f"{name}: no story body (section[data-field=body]); not a Medium post file")
    title = element_text(_first(root, "h1.p-name")) or element_text(_first(root, "head title"))
    title_heading = _first(body, ".graf--title")
    if title_heading is not None:
        title = title or element_text(title_heading)
        title_heading.drop_tree()
    content = element_markdown(body)
    if title_heading is None and len(content) < RESPONSE_MAX_CHARS:
        return Skipped("response to another story")
    canonical = _first(root, "a.p-canonical")
    if canonical is None or not canonical.get("href", "").strip():
        raise ExportFormatError(f"{name}: no canonical link (a.p-canonical) to the story's public URL")
    source_url = canonical.get("href").strip()
    published = _first(root, "time.dt-published")
    metadata = {
        "author": element_text(_first(root, "a.p-author")),
        "subtitle": element_text(_first(root, "section[data-field=subtitle]")),
    }
    post_id = MEDIUM_POST_ID.search(source_url.rstrip("/")) or MEDIUM_POST_ID.search(PurePosixPath(name).stem)
    if post_id:
        metadata["medium_post_id"] = post_id.group(1)
    return DocumentRecord(
        platform="medium",
        kind="article",
        source_url=source_url,
        content=content,
        title=title or None,
        published_at=parse_timestamp(published.get("datetime") or element_text(published), f"{name}: dt-published")
        if published is not None
        else None,
        metadata={key: value for key, value in metadata.items() if value},
    )


def _first(element, selector: str):
    found = element.cssselect(selector)
    return found[0] if found else None


FORMAT = ExportFormat(
    platform="medium",
    plan=plan,
    expected="posts/*.html story files, as in Medium's 'Download your information' zip",
)
