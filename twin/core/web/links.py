"""Reading one link (an article, a blog post, a paper) into text plus metadata.

``read_link(url)`` is the reusable entry point: the serving component calls it for "new links as
extra knowledge", and the link spider shares its parsing (:func:`parse_link`). Fetches are limited
in size, time and content type, and every hop of a redirect chain passes the private-address guard.
HTML goes through the project's converter (`html_to_text`: headings, lists and code kept) and
trafilatura for metadata (title, author, date, site); PDF through pypdf.
"""

from __future__ import annotations

import io
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin

import lxml.html
import trafilatura
from lxml import etree

from twin.core.dates import parse_optional_moment
from twin.core.raw import DocumentRecord
from twin.core.web.safety import UnsafeURL, check_peer, check_url
from twin.core.web.text import blocked_reason, html_to_text, normalise_text

HTML_TYPES = ("text/html", "application/xhtml+xml")
PDF_TYPES = ("application/pdf", "application/x-pdf")
TEXT_TYPES = ("text/plain", "text/markdown")
ACCEPTED_TYPES = HTML_TYPES + PDF_TYPES + TEXT_TYPES
ACCEPT_HEADER = "text/html,application/xhtml+xml,application/pdf;q=0.9,text/plain;q=0.8"
MAX_REDIRECTS = 5
MAX_PDF_PAGES = 300
PUBLISHED_META = ("article:published_time", "og:published_time", "datePublished", "date", "dc.date", "pubdate")


class LinkError(ValueError):
    """The link could not be read; the message says why (shown to users and stored in crawl runs)."""


@dataclass
class LinkDocument:
    url: str  # as requested
    final_url: str  # after redirects
    source_url: str  # canonical public URL: what the twin cites
    content: str
    kind: str  # "link" (a web page) or "paper" (a PDF)
    content_type: str
    title: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    metadata: dict = field(default_factory=dict)

    def to_record(self, platform: str = "web", kind: str | None = None) -> DocumentRecord:
        metadata = {
            **self.metadata,
            "author": self.author,
            "fetched_from": self.final_url,
            "content_type": self.content_type,
        }
        return DocumentRecord(
            platform=platform,
            kind=kind or self.kind,
            source_url=self.source_url,
            content=self.content,
            title=self.title,
            published_at=self.published_at,
            metadata={key: value for key, value in metadata.items() if value not in (None, "", [])},
        )


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def charset(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None


def parse_link(
    url: str,
    body: bytes,
    content_type: str | None,
    *,
    final_url: str | None = None,
    status: int = 200,
    text: str | None = None,
) -> LinkDocument:
    """Turn a fetched response into a :class:`LinkDocument`; :class:`LinkError` when it holds no usable text."""
    final_url = final_url or url
    kind = media_type(content_type)
    if kind in PDF_TYPES or body[:5] == b"%PDF-":
        return _parse_pdf(url, final_url, body)
    if kind in TEXT_TYPES:
        content = normalise_text(
            text if text is not None else body.decode(charset(content_type) or "utf-8", errors="replace")
        )
        if not content:
            raise LinkError(f"{final_url}: empty document")
        return LinkDocument(
            url=url, final_url=final_url, source_url=final_url, content=content, kind="link", content_type=kind
        )
    if kind and kind not in HTML_TYPES:
        raise LinkError(f"{final_url}: unsupported content type {kind!r} (expected HTML, PDF or plain text)")
    return _parse_html(
        url,
        final_url,
        text if text is not None else body.decode(charset(content_type) or "utf-8", errors="replace"),
        status,
    )


def _parse_html(url: str, final_url: str, html: str, status: int) -> LinkDocument:
    reason = blocked_reason(html, status)
    if reason:
        raise LinkError(f"{final_url}: {reason}, not content")
    try:
        tree = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        raise LinkError(f"{final_url}: not a readable HTML page") from None
    meta = trafilatura.extract_metadata(tree, default_url=final_url)
    content = html_to_text(html)  # keeps headings, lists and code verbatim (benchmarks/html_extraction.py)
    if not content:
        raise LinkError(f"{final_url}: no readable text on the page")
    published = _meta_content(tree, PUBLISHED_META) or meta.date
    return LinkDocument(
        url=url,
        final_url=final_url,
        source_url=canonical_url(tree, final_url),
        content=content,
        kind="link",
        content_type="text/html",
        title=meta.title or _title(tree),
        author=meta.author,
        published_at=parse_optional_moment(published),
        metadata={
            "site_name": meta.sitename,
            "description": meta.description,
            "language": meta.language,
            "tags": list(meta.tags or []) + list(meta.categories or []),
        },
    )


def canonical_url(tree, page_url: str) -> str:
    """The page's declared canonical URL (``link rel=canonical``, else ``og:url``), else where it was fetched."""
    for href in tree.xpath(
        '//link[translate(@rel, "CANONICAL", "canonical")="canonical"]/@href | //meta[@property="og:url"]/@content'
    ):
        candidate = urljoin(page_url, href.strip())
        if candidate.startswith(("http://", "https://")):
            return candidate
    return page_url


def _meta_content(tree, names: tuple[str, ...]) -> str | None:
    for name in names:
        values = tree.xpath(f'//meta[@property="{name}" or @name="{name}" or @itemprop="{name}"]/@content')
        if values and values[0].strip():
            return values[0].strip()
    return None


def _title(tree) -> str | None:
    titles = tree.xpath("//title/text()")
    return " ".join(titles[0].split()) if titles else None


def _parse_pdf(url: str, final_url: str, body: bytes) -> LinkDocument:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(body))
        if reader.is_encrypted:
            raise LinkError(f"{final_url}: the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages[:MAX_PDF_PAGES]]
        info = reader.metadata or {}
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, LinkError):
            raise
        raise LinkError(f"{final_url}: unreadable PDF ({exc})") from None
    content = normalise_text("\n\n".join(pages))
    if not content:
        raise LinkError(f"{final_url}: the PDF has no extractable text (scanned?)")
    created = getattr(info, "creation_date", None) if info else None
    return LinkDocument(
        url=url,
        final_url=final_url,
        source_url=final_url,
        content=content,
        kind="paper",
        content_type="application/pdf",
        title=(info.get("/Title") or None) if info else None,
        author=(info.get("/Author") or None) if info else None,
        published_at=created if created is None or created.tzinfo else created.replace(tzinfo=UTC),
        metadata={"pages": len(reader.pages)},
    )


def read_link(url: str, settings=None, *, client=None) -> LinkDocument:
    """Fetch ``url`` within the size, time and content-type limits and parse it.

    Raises :class:`LinkError` (or its cause, :class:`~twin.core.web.safety.UnsafeURL`) with a readable message.
    """
    import httpx

    from twin.core.settings import get_settings
    from twin.core.web.transport import guarded_transport

    settings = settings or get_settings()
    deadline = time.monotonic() + settings.crawl_timeout_s  # for the whole fetch, redirects included
    own_client = client is None
    client = client or httpx.Client(
        timeout=settings.crawl_timeout_s,
        follow_redirects=False,
        headers={"User-Agent": settings.crawl_user_agent, "Accept": ACCEPT_HEADER, "Accept-Encoding": "gzip, deflate"},
        transport=guarded_transport(deadline=deadline, allow_private=settings.allow_private_urls),
    )
    current = url
    try:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(current, allow_private=settings.allow_private_urls)
            with client.stream("GET", current) as response:
                check_peer(current, _peer_address(response), allow_private=settings.allow_private_urls)
                if response.is_redirect and "location" in response.headers:
                    current = urljoin(current, response.headers["location"])
                    continue
                body = _read_limited(response, settings.crawl_max_bytes, deadline, current)
                content_type = response.headers.get("content-type")
                if response.status_code >= 400:
                    reason = blocked_reason(body, response.status_code)
                    raise LinkError(
                        f"{current}: {reason}"
                        if reason
                        else f"{current}: HTTP {response.status_code} {response.reason_phrase}"
                    )
                return parse_link(url, body, content_type, final_url=current, status=response.status_code)
        raise LinkError(f"{url}: more than {MAX_REDIRECTS} redirects")
    except UnsafeURL as exc:
        raise LinkError(str(exc)) from exc
    except httpx.TimeoutException:
        raise LinkError(f"{current}: timed out after {settings.crawl_timeout_s:g}s") from None
    except httpx.HTTPError as exc:
        raise LinkError(f"{current}: {type(exc).__name__}: {exc}") from None
    finally:
        if own_client:
            client.close()


def _peer_address(response) -> str | None:
    stream = response.extensions.get("network_stream")
    server = stream.get_extra_info("server_addr") if stream is not None else None
    return server[0] if server else None


def _read_limited(response, max_bytes: int, deadline: float, url: str) -> bytes:
    content_type = media_type(response.headers.get("content-type"))
    if (
        response.status_code < 400
        and content_type
        and content_type not in ACCEPTED_TYPES
        and content_type != "application/octet-stream"
    ):
        raise LinkError(f"{url}: unsupported content type {content_type!r} (expected HTML, PDF or plain text)")
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise LinkError(f"{url}: too large ({int(declared)} bytes; the limit is {max_bytes})")
    chunks, size = [], 0
    for chunk in _decoded(response, max_bytes, url):
        size += len(chunk)
        if size > max_bytes:
            raise LinkError(
                f"{url}: too large (over {max_bytes} bytes{' once decompressed' if _encoding(response) else ''})"
            )
        if time.monotonic() > deadline:
            raise LinkError(f"{url}: timed out while downloading")
        chunks.append(chunk)
    return b"".join(chunks)


def _encoding(response) -> str:
    encoding = response.headers.get("content-encoding", "").strip().lower()
    return "" if encoding == "identity" else encoding


def _decoded(response, max_bytes: int, url: str):
    """The body decoded from the raw stream, never inflating more than ``max_bytes + 1`` bytes at a
    time: a small gzip bomb is cut off, not decompressed in memory. Only gzip and deflate are asked
    for (``Accept-Encoding``); anything else is refused."""
    encoding = _encoding(response)
    if not encoding:
        yield from response.iter_raw()
        return
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise LinkError(f"{url}: unsupported content encoding {encoding!r}")
    decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib, by header
    pending = b""
    try:
        for raw in response.iter_raw():
            pending += raw
            while pending:
                chunk = decoder.decompress(pending, max_bytes + 1)
                pending = decoder.unconsumed_tail
                yield chunk
                if not chunk:
                    break
        yield decoder.flush()
    except zlib.error as exc:
        raise LinkError(f"{url}: the {encoding} body is corrupt ({exc})") from None
