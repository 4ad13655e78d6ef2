"""Any link (an article, a blog post, a paper): the same reading as ``twin.core.web.links.read_link``."""

from __future__ import annotations

import scrapy
from scrapy import signals
from scrapy.exceptions import StopDownload
from scrapy.http import TextResponse

from crawlers.loaders import TextDocumentLoader
from crawlers.spiders.base import TwinSpider
from twin.core.web.links import ACCEPTED_TYPES, LinkError, media_type, parse_link


class LinkSpider(TwinSpider):
    """``source`` is one URL; ``urls`` (newline-separated) adds more, for batch runs and the benchmark."""

    name = "web"
    platform = "web"

    def __init__(self, source: str = "", *args, urls: str = "", **kwargs):
        super().__init__(source, *args, **kwargs)
        self.urls = [self.source] + [url.strip() for url in urls.splitlines() if url.strip()]

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.refuse_unsupported_types, signal=signals.headers_received)
        return spider

    def refuse_unsupported_types(self, headers, body_length, request, spider=None) -> None:
        """Stop downloading a body we could not read anyway (images, archives, video...)."""
        kind = media_type((headers.get(b"Content-Type") or b"").decode("latin-1"))
        if (
            kind
            and kind not in ACCEPTED_TYPES
            and kind != "application/octet-stream"
            and not request.url.endswith("/robots.txt")
        ):
            raise StopDownload(fail=True)

    async def start(self):
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse, errback=self.on_link_error, meta={"item_url": url})

    def on_link_error(self, failure):
        if failure.check(StopDownload):
            kind = media_type((failure.value.response.headers.get(b"Content-Type") or b"").decode("latin-1"))
            self.report(
                failure.request.meta["item_url"],
                f"unsupported content type {kind!r} (expected HTML, PDF or plain text)",
            )
        else:
            self.on_error(failure)

    def parse(self, response):
        try:
            document = parse_link(
                response.meta["item_url"],
                response.body,
                (response.headers.get(b"Content-Type") or b"").decode("latin-1"),
                final_url=response.url,
                status=response.status,
                text=response.text if isinstance(response, TextResponse) else None,
            )
        except LinkError as exc:
            self.report(response.meta["item_url"], str(exc))
            return
        loader = TextDocumentLoader()
        loader.add_value("platform", self.platform)
        loader.add_value("kind", document.kind)
        loader.add_value("source_url", document.source_url)
        loader.add_value("title", document.title)
        loader.add_value("content", document.content)
        loader.add_value("author", document.author)
        loader.add_value("published_at", document.published_at)
        loader.add_value(
            "metadata", {**document.metadata, "fetched_from": document.final_url, "content_type": document.content_type}
        )
        yield loader.load_item()
