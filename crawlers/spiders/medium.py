"""Medium: the author's RSS feed, whose items carry the full post HTML in ``content:encoded``."""

from __future__ import annotations

from urllib.parse import urlsplit

import scrapy

from crawlers.spiders.base import TwinSpider


def medium_feed_url(source: str) -> str:
    """``@handle``, a profile URL, a ``*.medium.com`` subdomain, or a feed URL -> the feed URL."""
    source = source.strip()
    if source.startswith("@"):
        return f"https://medium.com/feed/{source}"
    if "://" not in source:
        source = "https://" + source
    parts = urlsplit(source)
    host = (parts.hostname or "").lower()
    segments = [segment for segment in parts.path.split("/") if segment]
    if "feed" in segments:
        return source
    if host in ("medium.com", "www.medium.com") and segments and segments[0].startswith("@"):
        return f"https://medium.com/feed/{segments[0]}"
    if host.endswith(".medium.com"):
        return f"https://{host}/feed"
    if host in ("medium.com", "www.medium.com") and segments:  # a publication: medium.com/<publication>
        return f"https://medium.com/feed/{segments[0]}"
    return f"{parts.scheme}://{parts.netloc}/feed"


class MediumSpider(TwinSpider):
    name = "medium"
    platform = "medium"

    async def start(self):
        yield scrapy.Request(medium_feed_url(self.source), callback=self.parse, errback=self.on_error)

    def parse(self, response):
        yield from self.parse_feed(response, kind="article", metadata={"feed_url": response.url})
