"""What every twin spider shares: the source it collects, error reporting, and RSS feed parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import scrapy
from lxml import etree
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
from twin.core.web.text import blocked_reason

NAMESPACES = {
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "atom": "http://www.w3.org/2005/Atom",
}


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

    # RSS 2.0 (Medium's feed, Substack's fallback) -------------------------------------------------

    def parse_feed(self, response, *, kind: str = "article", metadata: dict | None = None):
        """Yield one item per ``<item>``; a malformed feed is reported and whatever can be recovered is kept."""
        if not self.usable(response):
            return
        try:
            etree.fromstring(response.body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            self.report(response.url, f"malformed RSS feed ({exc}); kept the items that could be read", item=False)
        selector = scrapy.Selector(text=response.body.decode("utf-8", errors="replace"), type="xml")
        for prefix, uri in NAMESPACES.items():
            selector.register_namespace(prefix, uri)
        if not selector.xpath(
            "/rss | /rdf:RDF | /*[local-name()='rss']",
            namespaces={"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#"},
        ):
            if not selector.xpath("//item"):
                self.report(response.url, "not an RSS feed", item=False)
                return
        for entry in selector.xpath("//item"):
            link = (entry.xpath("link/text()").get() or entry.xpath("guid/text()").get() or "").strip()
            try:
                yield self.load_feed_entry(entry, link, kind, metadata or {})
            except Exception as exc:  # one bad entry never drops the rest of the feed
                self.report(link or response.url, f"unreadable feed item: {type(exc).__name__}: {exc}")

    def load_feed_entry(self, entry, link: str, kind: str, metadata: dict) -> DocumentItem:
        loader = DocumentLoader(selector=entry)
        loader.add_value("platform", self.platform)
        loader.add_value("kind", kind)
        loader.add_value("source_url", link)
        loader.add_xpath("title", "title/text()")
        loader.add_xpath("content", "content:encoded/text()")
        loader.add_xpath("content", "description/text()")
        loader.add_xpath("author", "dc:creator/text()")
        loader.add_xpath("author", "author/text()")
        loader.add_xpath("published_at", "pubDate/text()")
        loader.add_value(
            "metadata",
            {
                **metadata,
                "guid": entry.xpath("guid/text()").get(),
                "tags": [tag.strip() for tag in entry.xpath("category/text()").getall() if tag.strip()],
                "via": "rss",
            },
        )
        return loader.load_item()


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
