"""LinkedIn: a public post or article URL, fetched best-effort.

Logged-out pages carry the post in JSON-LD (``SocialMediaPosting`` / ``Article``); LinkedIn often
answers with a login wall (or HTTP 999) instead, which is recorded as an error and never stored.
The member's own data export (``twin import linkedin``) is the dependable source.
"""

from __future__ import annotations

import json

import lxml.html
import scrapy

from crawlers.loaders import TextDocumentLoader
from crawlers.spiders.base import TwinSpider
from twin.core.web.links import canonical_url
from twin.core.web.text import html_to_text

POST_TYPES = {"SocialMediaPosting", "Article", "NewsArticle", "BlogPosting", "DiscussionForumPosting"}
COMMENTARY = (
    '[data-test-id="main-feed-activity-card__commentary"]',
    ".attributed-text-segment-list__content",
    ".share-update-card__update-text",
    ".article-main__content",
)


def json_ld_post(response) -> dict | None:
    """The first JSON-LD object on the page that describes a post or an article."""
    for raw in response.xpath('//script[@type="application/ld+json"]/text()').getall():
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            continue
        candidates = data if isinstance(data, list) else data.get("@graph", [data]) if isinstance(data, dict) else []
        for candidate in candidates:
            kinds = candidate.get("@type") if isinstance(candidate, dict) else None
            if set([kinds] if isinstance(kinds, str) else kinds or []) & POST_TYPES:
                return candidate
    return None


def person_name(author) -> str | None:
    if isinstance(author, list):
        author = author[0] if author else None
    return author.get("name") if isinstance(author, dict) else author if isinstance(author, str) else None


class LinkedInSpider(TwinSpider):
    name = "linkedin"
    platform = "linkedin"

    async def start(self):
        yield scrapy.Request(self.source, callback=self.parse, errback=self.on_error, meta={"item_url": self.source})

    def parse(self, response):
        if not self.usable(response, item_url=self.source):
            return
        post = json_ld_post(response) or {}
        body = post.get("articleBody") or post.get("text")
        if not body:
            fragments = [html for selector in COMMENTARY for html in response.css(selector).getall()]
            body = html_to_text("\n".join(fragments[:1])) if fragments else None
        if not body:
            self.report(self.source, "no post text on the page (LinkedIn may have served a login wall or a redirect)")
            return
        loader = TextDocumentLoader()
        loader.add_value("platform", self.platform)
        loader.add_value("kind", "article" if "/pulse/" in response.url else "post")
        loader.add_value(
            "source_url", canonical_url(lxml.html.fromstring(response.text), post.get("url") or response.url)
        )
        loader.add_value("title", post.get("headline") or response.xpath('//meta[@property="og:title"]/@content').get())
        loader.add_value("content", body)
        loader.add_value("author", person_name(post.get("author")))
        loader.add_value("published_at", post.get("datePublished"))
        loader.add_value("metadata", {"requested_url": self.source, "via": "public page"})
        yield loader.load_item()
