"""Medium: the author's RSS feed, whose items carry the full post HTML in ``content:encoded``. The feed
lists only the latest 10 posts: a full feed makes the run ``partial`` with that reason (the export
has the rest)."""

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


FEED_LIMIT = 10  # Medium's RSS feed never lists more


class MediumSpider(TwinSpider):
    name = "medium"
    platform = "medium"

    async def start(self):
        yield scrapy.Request(medium_feed_url(self.source), callback=self.parse, errback=self.on_error)

    def parse(self, response):
        entries = 0
        for item in self.parse_feed(response, kind="article", metadata={"feed_url": response.url}):
            entries += 1
            yield item
        if entries >= FEED_LIMIT:
            self.report(
                response.url,
                f"Medium's feed lists only the latest {FEED_LIMIT} posts, so older ones were not "
                "collected: upload your Medium export (Settings > Security and apps > Download "
                "your information) for the rest",
                item=False,
            )
