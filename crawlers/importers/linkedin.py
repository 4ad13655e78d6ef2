"""LinkedIn data export: posts from ``Shares.csv`` and articles from ``Articles/Articles/*.html``.

The export (Settings & Privacy > Data privacy > Get a copy of your data) is a zip whose files may sit
under a top folder such as ``Basic_LinkedInDataExport_<date>/``; the Complete export names the posts
file ``Shares_<memberId>.csv``. A share with empty commentary is a repost of someone else's post.
"""

from __future__ import annotations

import re
from functools import partial

from crawlers.importers.archives import CorruptArchive, ExportArchive
from crawlers.importers.parsing import (
    TIMESTAMP,
    ExportFormatError,
    element_markdown,
    element_text,
    parse_html,
    parse_timestamp,
    read_csv,
)
from crawlers.importers.plan import Entry, ExportFormat, Notice, Plan, Problem, Skipped
from twin.core.raw import DocumentRecord
from twin.core.web.text import normalise_text

SHARES_FILE = re.compile(r"(^|/)Shares(_[^/]*)?\.csv$")
ARTICLE_FILE = re.compile(r"(^|/)Articles/Articles/[^/]+\.html?$")
PROFILE_FILE = re.compile(r"(^|/)Profile\.csv$")
SHARE_COLUMNS = ("Date", "ShareLink", "ShareCommentary")
EMPTY_VALUES = {"", '""', '"'}  # how LinkedIn writes an empty SharedUrl / MediaUrl
OPTIONAL_SHARE_COLUMNS = {"SharedUrl": "shared_url", "MediaUrl": "media_url", "Visibility": "visibility"}


def plan(archive: ExportArchive) -> Plan:
    author = _author(archive)
    for name in archive.find(SHARES_FILE):
        yield from _plan_shares(archive, name, author)
    for name in archive.find(ARTICLE_FILE):
        yield Entry(name, partial(_load_article, archive, name, author))


def _author(archive: ExportArchive) -> str | None:
    """The member's name from ``Profile.csv``, when the export has it."""
    for name in archive.find(PROFILE_FILE):
        try:
            rows = read_csv(archive.read(name), name, ("First Name", "Last Name")).rows
        except (ExportFormatError, CorruptArchive):
            return None
        if rows:
            full_name = f"{rows[0].values['First Name']} {rows[0].values['Last Name']}".strip()
            return full_name or None
    return None


def _plan_shares(archive: ExportArchive, name: str, author: str | None) -> Plan:
    try:
        shares = read_csv(archive.read(name), name, SHARE_COLUMNS)
    except (ExportFormatError, CorruptArchive) as exc:
        yield Problem(str(exc))
        return
    if shares.encoding not in ("utf-8", "utf-16"):
        yield Notice(f"{name} is not UTF-8: read it as {shares.encoding} (re-saved by a spreadsheet?)")
    for row in shares.rows:
        label = row.values["ShareLink"].strip() or f"{name} line {row.line}"
        yield Entry(label, partial(_share_record, row, name, author))
    if shares.error:
        yield Problem(shares.error)


def _share_record(row, file_name: str, author: str | None) -> DocumentRecord | Skipped:
    if row.error:
        raise ExportFormatError(row.error)
    values = row.values
    commentary = normalise_text(unwrap_double_quoting(values["ShareCommentary"]))
    if not commentary:
        return Skipped("repost without commentary")
    url = values["ShareLink"].strip()
    if not url:
        raise ExportFormatError(f"{file_name} line {row.line}: no ShareLink (the post's URL)")
    metadata = {
        key: values[column].strip()
        for column, key in OPTIONAL_SHARE_COLUMNS.items()
        if values.get(column, "").strip() not in EMPTY_VALUES
    }
    if author:
        metadata["author"] = author
    return DocumentRecord(
        platform="linkedin",
        kind="post",
        source_url=url,
        content=commentary,
        published_at=parse_timestamp(values["Date"], f"{file_name} line {row.line}: Date"),
        metadata=metadata,
    )


def unwrap_double_quoting(text: str) -> str:
    """Undo the second layer of quoting LinkedIn writes into ``ShareCommentary``.

    Many exports hold each post as a quoted string inside the CSV field: after CSV parsing the value
    still starts and ends with ``"``, each line break is ``"\\n"`` and each quote is ``""``. Text that
    merely starts and ends with a quotation is left alone: in the double-quoted form, every inner
    quote is doubled or part of a line break.
    """
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        return text
    inner = text[1:-1]
    if '"' in inner.replace('"\n"', "").replace('""', ""):
        return text
    return inner.replace('"\n"', "\n").replace('""', '"')


def _load_article(archive: ExportArchive, name: str, author: str | None) -> DocumentRecord | Skipped:
    """An exported article: ``<h1><a href=public URL>title</a></h1>``, created/published lines, then the body."""
    root = parse_html(archive.read(name), name)
    body = root.body
    heading = body.find(".//h1")
    link = heading.find(".//a[@href]") if heading is not None else None
    created = _dated_line(body, "created")
    published = _dated_line(body, "published")
    if published is None or not TIMESTAMP.search(element_text(published)):
        return Skipped("unpublished article draft")
    if link is None:
        raise ExportFormatError(f"{name}: no title link to the article's public URL")
    published_at = parse_timestamp(element_text(published), f"{name}: published date")
    created_at = parse_timestamp(element_text(created), f"{name}: created date") if created is not None else None
    title = element_text(heading) or element_text(root.find(".//title")) or None
    for element in (heading, created, published):
        if element is not None:
            element.drop_tree()
    metadata = {"created_at": created_at.isoformat()} if created_at else {}
    if author:
        metadata["author"] = author
    return DocumentRecord(
        platform="linkedin",
        kind="article",
        source_url=link.get("href").strip(),
        content=element_markdown(body),
        title=title,
        published_at=published_at,
        metadata=metadata,
    )


def _dated_line(body, which: str):
    """The ``<p class="created|published">Created on 2024-01-02 10:00</p>`` line, by class or by its words."""
    for paragraph in body.iter("p"):
        if which in paragraph.get("class", "").split() or element_text(paragraph).lower().startswith(f"{which} on"):
            return paragraph
    return None


FORMAT = ExportFormat(
    platform="linkedin",
    plan=plan,
    expected="Shares.csv (posts) or Articles/Articles/*.html (articles), as in LinkedIn's 'Get a copy of your data' zip",
)
