"""Substack export: ``posts.csv`` (one row per post) and the bodies in ``posts/<post_id>.html``.

The export (publication Settings > Exports > New export) has no public URLs; they are built from the
publication's URL and the slug in ``post_id`` (``123456789.my-post-slug`` -> ``<publication>/p/my-post-slug``).
The publication URL comes from the ``publication_url`` option, or from the subscriber list's file
name ``email_list.<subdomain>.csv`` (``https://<subdomain>.substack.com``) when the export has it.
Only published newsletters are imported; paid-only posts are the author's own writing and are
imported with their audience recorded.
"""

from __future__ import annotations

import re
from functools import partial
from urllib.parse import urlsplit

from crawlers.importers.archives import CorruptArchive, ExportArchive
from crawlers.importers.parsing import (
    CsvRow,
    ExportFormatError,
    element_markdown,
    parse_html,
    parse_timestamp,
    read_csv,
)
from crawlers.importers.plan import Entry, ExportFormat, Notice, Plan, Problem, Skipped
from twin.core.raw import DocumentRecord

POSTS_FILE = re.compile(r"(^|/)posts\.csv$")
SUBSCRIBER_LIST = re.compile(r"(^|/)email_list\.([a-z0-9][a-z0-9-]*)\.csv$")
POST_COLUMNS = ("post_id", "post_date", "is_published", "type", "title")
POST_ID = re.compile(r"^(?P<number>\d+)(?:\.(?P<slug>[^/]+))?$")


def plan(archive: ExportArchive, publication_url: str | None = None) -> Plan:
    posts_files = archive.find(POSTS_FILE)
    if not posts_files:
        return
    name = posts_files[0]
    folder = name[: -len("posts.csv")]
    publication = _publication(archive, publication_url)
    try:
        posts = read_csv(archive.read(name), name, POST_COLUMNS)
    except (ExportFormatError, CorruptArchive) as exc:
        yield Problem(str(exc))
        return
    if posts.encoding not in ("utf-8", "utf-16"):
        yield Notice(f"{name} is not UTF-8: read it as {posts.encoding}")
    for row in posts.rows:
        post_id = row.values["post_id"].strip()
        label = post_url(publication, post_id) if POST_ID.match(post_id) else f"{name} line {row.line}"
        yield Entry(label, partial(_load_post, archive, folder, publication, row, name))
    if posts.error:
        yield Problem(posts.error)


def _publication(archive: ExportArchive, publication_url: str | None) -> str:
    if publication_url:
        url = publication_url.strip().rstrip("/")
        if "://" not in url:
            url = f"https://{url}"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ExportFormatError(f"publication URL {publication_url!r} is not an http(s) URL")
        return url
    for name in archive.names():
        match = SUBSCRIBER_LIST.search(name)
        if match:
            return f"https://{match.group(2)}.substack.com"
    raise ExportFormatError(
        "the export does not name its publication: pass its URL "
        "(--publication-url https://you.substack.com, or your custom domain)"
    )


def post_url(publication: str, post_id: str) -> str:
    """The public URL of post ``123456789.my-post-slug``: ``<publication>/p/my-post-slug``."""
    match = POST_ID.match(post_id)
    if match is None:
        raise ExportFormatError(f"post_id {post_id!r} is not <number>.<slug>")
    if match.group("slug"):
        return f"{publication}/p/{match.group('slug')}"
    return f"https://substack.com/home/post/p-{match.group('number')}"


def _load_post(
    archive: ExportArchive, folder: str, publication: str, row: CsvRow, csv_name: str
) -> DocumentRecord | Skipped:
    if row.error:
        raise ExportFormatError(row.error)
    values = {key: (value or "").strip() for key, value in row.values.items()}
    if values["is_published"].lower() != "true":
        return Skipped("unpublished draft")
    if values["type"].lower() != "newsletter":
        return Skipped(f"{values['type'] or 'untyped'} post (only newsletters are imported)")
    post_id = values["post_id"]
    body_name = f"{folder}posts/{post_id}.html"
    if body_name not in archive:
        raise ExportFormatError(f"{body_name} is missing from the export (the body of {csv_name} line {row.line})")
    content = element_markdown(parse_html(archive.read(body_name), body_name))
    metadata = {
        "post_id": post_id,
        "subtitle": values.get("subtitle", ""),
        "audience": values.get("audience", ""),
        "type": values["type"],
        "email_sent_at": values.get("email_sent_at", ""),
    }
    return DocumentRecord(
        platform="substack",
        kind="article",
        source_url=post_url(publication, post_id),
        content=content,
        title=values["title"] or None,
        published_at=parse_timestamp(values["post_date"], f"{csv_name} line {row.line}: post_date"),
        metadata={key: value for key, value in metadata.items() if value},
    )


FORMAT = ExportFormat(
    platform="substack",
    plan=plan,
    expected="posts.csv and posts/<post_id>.html, as in Substack's Settings > Exports zip",
    options=("publication_url",),
)
