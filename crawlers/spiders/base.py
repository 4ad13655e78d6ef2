"""What every twin spider shares: the source it collects, error reporting, and RSS/Atom feed parsing."""

from __future__ import annotations

import io
import json
import re
import xml.sax
from datetime import UTC, datetime

import feedparser
import scrapy
from feedparser.encodings import convert_to_utf8
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectionRefusedError, DNSLookupError, TCPTimedOutError, TimeoutError
from twisted.web._newclient import ResponseNeverReceived

from crawlers import signals as twin_signals
from crawlers.items import DocumentItem
from crawlers.loaders import DocumentLoader
from crawlers.middlewares import RefusedURL, rate_limit_wait
from twin.core.dates import parse_moment
from twin.core.web.text import blocked_reason

PROLOG_END = re.compile(rb"<\w")  # the first element: what comes before it is the XML declaration and DOCTYPE
ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
MARKUP = re.compile(rb"<!\[CDATA\[|<!--|<[A-Za-z_]")
# feedparser spends ~25 µs and a few hundred bytes per element (lxml, a hundredth of that): within the byte
# limit a feed of bare tags would take minutes and gigabytes. Real feeds carry their HTML as text or CDATA
# (Medium's 10 posts: ~200 elements), so this only stops markup floods.
MAX_FEED_ELEMENTS = 100_000


class SourceError(Exception):
    """A response that cannot be used (malformed JSON, a challenge page...); the message says why."""


class TwinSpider(scrapy.Spider):
    """A spider for one source of one user. ``source`` is what the user gave (URL, handle, username)."""

    platform: str = "web"

    def __init__(self, source: str = "", *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not source:
            raise ValueError(f"{self.name}: give the source to crawl (source=...)")
        self.source = source.strip()

    def report(self, url: str | None, error: str, *, item: bool = True) -> None:
        """Record what could not be collected: one item (``item=True``) or the source as a whole."""
        self.logger.warning("%s: %s", url, error)
        self.crawler.signals.send_catch_log(signal=twin_signals.collection_error, url=url, error=error, item=item)

    def on_error(self, failure) -> None:
        """Errback: a request for an item (``meta['item_url']``) fails that item; anything else, the source."""
        request = failure.request
        item_url = request.meta.get("item_url")
        self.report(
            item_url or request.url, describe_failure(failure, self.crawler.settings), item=item_url is not None
        )

    def usable(self, response, *, item_url: str | None = None) -> bool:
        """False (and reported) when ``response`` is a bot challenge or login wall instead of content."""
        reason = blocked_reason(response.body, response.status)
        if reason:
            self.report(item_url or response.url, f"{reason}: not stored", item=item_url is not None)
        return reason is None

    def load_json(self, response):
        try:
            return json.loads(response.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SourceError(f"malformed JSON from {response.url}: {exc}") from None

    # RSS/Atom (Medium's feed, Substack's fallback), parsed by feedparser ----------------------------

    def parse_feed(self, response, *, kind: str = "article", metadata: dict | None = None):
        """Yield one item per entry; a malformed feed is reported and whatever can be recovered is kept."""
        if not self.usable(response):
            return
        try:
            feed = read_feed(response.body, response.headers.get(b"Content-Type"), self.crawler.settings)
        except SourceError as exc:
            self.report(response.url, str(exc), item=False)
            return
        if not feed.get("version") and not feed.entries:
            self.report(response.url, "not an RSS or Atom feed", item=False)
            return
        syntax_error = feed.get("bozo_exception") if feed.get("bozo") else None
        if isinstance(syntax_error, xml.sax.SAXException):  # not well-formed; encoding or media-type notes are not
            name = "Atom" if str(feed.get("version", "")).startswith("atom") else "RSS"
            if isinstance(syntax_error, xml.sax.SAXParseException):
                syntax_error = f"line {syntax_error.getLineNumber()}: {syntax_error.getMessage()}"
            self.report(
                response.url, f"malformed {name} feed ({syntax_error}); kept the items that could be read", item=False
            )
        for entry in feed.entries:
            link = (entry.get("link") or entry.get("id") or "").strip()
            try:
                yield self.load_feed_entry(entry, link, kind, metadata or {})
            except Exception as exc:  # one bad entry never drops the rest of the feed
                self.report(link or response.url, f"unreadable feed item: {type(exc).__name__}: {exc}")

    def load_feed_entry(self, entry, link: str, kind: str, metadata: dict) -> DocumentItem:
        loader = DocumentLoader()
        loader.add_value("platform", self.platform)
        loader.add_value("kind", kind)
        loader.add_value("source_url", link)
        loader.add_value("title", entry.get("title"))
        loader.add_value("content", [part.get("value") for part in entry.get("content") or []])  # content:encoded
        loader.add_value("content", entry.get("summary"))  # description
        loader.add_value("author", entry.get("author"))  # dc:creator, author
        loader.add_value("published_at", entry_published(entry))
        loader.add_value(
            "metadata",
            {
                **metadata,
                "guid": entry.get("id"),
                "tags": [term for tag in entry.get("tags") or [] if (term := (tag.get("term") or "").strip())],
                "via": "rss",
            },
        )
        return loader.load_item()


def read_feed(body: bytes, content_type: bytes | None, settings=None) -> feedparser.FeedParserDict:
    """An RSS or Atom document parsed by feedparser, within the bounds the crawler keeps for any response.

    - Size: the body is at most ``DOWNLOAD_MAXSIZE`` (Scrapy stops the download; checked again here).
    - No file or network access: the body goes in as a stream. ``feedparser.parse`` reads a ``bytes`` or
      ``str`` argument as a file path or URL first, so a body such as ``/etc/passwd`` would be opened.
    - No entity expansion: feedparser drops external entities (and never fetches them) but expands the
      "safe" internal ones a DOCTYPE declares, with no limit on the result (a 600 kB feed can grow to
      gigabytes). No real feed declares entities, so one that does is refused. The check reads the
      prolog after feedparser's own encoding conversion, so no encoding can hide a declaration.
    - At most ``MAX_FEED_ELEMENTS`` elements, counted on the same text.
    """
    limit = settings.getint("DOWNLOAD_MAXSIZE") if settings is not None else 0
    if limit and len(body) > limit:
        raise SourceError(f"feed refused: {len(body)} bytes is over the {limit}-byte limit")
    headers = {"content-type": content_type.decode("latin-1")} if content_type else {}
    text = convert_to_utf8(headers, body, {})
    prolog_end = PROLOG_END.search(text)
    if ENTITY_DECLARATION.search(text, 0, prolog_end.start() if prolog_end else len(text)):
        raise SourceError("feed refused: it declares XML entities (entity expansion is not allowed)")
    if count_elements(text, MAX_FEED_ELEMENTS) > MAX_FEED_ELEMENTS:
        raise SourceError(f"feed refused: more than {MAX_FEED_ELEMENTS} XML elements")
    return feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )


def count_elements(text: bytes, limit: int) -> int:
    """The start tags outside CDATA sections and comments, counted up to ``limit + 1`` (one linear pass)."""
    count = position = 0
    while count <= limit and (markup := MARKUP.search(text, position)):
        closing = {b"<![CDATA[": b"]]>", b"<!--": b"-->"}.get(markup.group())
        if closing is None:
            count += 1
            position = markup.end()
            continue
        end = text.find(closing, markup.end())
        if end < 0:  # unterminated: the rest is not markup to either of feedparser's parsers
            break
        position = end + len(closing)
    return count


def entry_published(entry) -> datetime | None:
    """When a feed entry was published (``pubDate``; Atom ``published``, else ``updated``), in UTC."""
    for field in ("published", "updated"):
        parsed = entry.get(f"{field}_parsed")  # feedparser's date parsers: RFC 822, W3C-DTF, ISO 8601...
        try:
            if parsed:
                return datetime(*parsed[:6], tzinfo=UTC)
            if entry.get(field):
                return parse_moment(entry[field])  # a format feedparser does not know: dateutil's parser
        except (ValueError, OverflowError):
            return None
    return None


def describe_failure(failure, settings=None) -> str:
    """One readable line for a failed request."""
    error = failure.value
    if failure.check(HttpError):
        response = error.response
        reason = blocked_reason(response.body, response.status)
        if reason:
            return reason
        message = f"HTTP {response.status}"
        if response.status == 999:
            return message + " (LinkedIn refuses automated requests)"
        wait = rate_limit_wait(response)
        if response.status in (403, 429) and wait is not None:
            reset = datetime.fromtimestamp(datetime.now(UTC).timestamp() + wait, UTC)
            return (
                f"{message}: rate limit exceeded, resets at {reset:%Y-%m-%d %H:%M:%S} UTC "
                "(for GitHub, set TWIN_GITHUB_TOKEN for a higher limit)"
            )
        return message + {
            404: " Not Found",
            410: " Gone",
            401: " Unauthorized",
            403: " Forbidden",
            500: " Internal Server Error",
            502: " Bad Gateway",
            503: " Service Unavailable",
        }.get(response.status, "")
    if failure.check(RefusedURL):
        return str(error)
    if failure.check(IgnoreRequest):
        return str(error) or "request ignored"
    if failure.check(DownloadTimeoutError, TimeoutError, TCPTimedOutError):
        timeout = settings.getfloat("DOWNLOAD_TIMEOUT") if settings is not None else None
        return f"timed out after {timeout:g}s" if timeout else "timed out"
    if failure.check(CannotResolveHostError, DNSLookupError):
        return "could not resolve the host name"
    if failure.check(DownloadConnectionRefusedError, ConnectionRefusedError):
        return "connection refused"
    if failure.check(ResponseDataLossError):
        return "the response was cut off (data loss)"
    if failure.check(ResponseNeverReceived):
        return "the server closed the connection without a response"
    return f"{failure.type.__name__}: {error}"
