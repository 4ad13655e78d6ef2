"""Substack: the publication's archive API (paged, deduplicated by id), each post's JSON for its body,
and the publication's RSS feed when the API is unavailable. Paid-only posts are skipped and reported."""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

import scrapy

from crawlers.loaders import DocumentLoader
from crawlers.spiders.base import SourceError, TwinSpider, describe_failure
from crawlers.window import PublishedWindow

PAGE_SIZE = 50
PAID_AUDIENCES = ("only_paid", "founding")


def substack_base_url(source: str) -> str:
    """The publication's base URL (subdomain, custom domain, or a path prefix), without post or archive paths."""
    source = source.strip()
    if "://" not in source:
        source = "https://" + source
    parts = urlsplit(source)
    path = re.split(r"/(?:p|archive|feed|api)(?:/|$)", parts.path, maxsplit=1)[0].rstrip("/")
    return f"{parts.scheme}://{parts.netloc}{path}"


class SubstackSpider(TwinSpider):
    name = "substack"
    platform = "substack"

    def __init__(self, source: str = "", *args, **kwargs):
        super().__init__(source, *args, **kwargs)
        self.base_url = substack_base_url(self.source)
        self.seen_ids: set = set()

    def archive_request(self, offset: int) -> scrapy.Request:
        query = urlencode({"sort": "new", "offset": offset, "limit": PAGE_SIZE})
        return scrapy.Request(
            f"{self.base_url}/api/v1/archive?{query}",
            callback=self.parse_archive,
            errback=self.archive_failed,
            cb_kwargs={"offset": offset},
        )

    async def start(self):
        yield self.archive_request(0)

    def parse_archive(self, response, offset: int):
        try:
            entries = self.load_json(response)
            if not isinstance(entries, list):
                raise SourceError(f"malformed archive page from {response.url}: expected a JSON list")
        except SourceError as exc:
            if offset == 0:
                yield from self.fall_back_to_feed(str(exc))
            else:
                self.report(response.url, f"{exc}; stopped paging the archive", item=False)
            return
        fresh = [entry for entry in entries if isinstance(entry, dict) and entry.get("id") not in self.seen_ids]
        window = PublishedWindow.from_settings(self.crawler.settings)
        for entry in fresh:
            self.seen_ids.add(entry.get("id"))
            if not window.accepts(entry.get("post_date")):
                continue  # another data interval's post: not even fetched
            slug = entry.get("slug")
            canonical = entry.get("canonical_url") or f"{self.base_url}/p/{slug}"
            if not slug:
                self.report(canonical, "archive entry without a slug")
                continue
            yield scrapy.Request(
                f"{self.base_url}/api/v1/posts/{slug}",
                callback=self.parse_post,
                errback=self.on_error,
                cb_kwargs={"entry": entry},
                meta={"item_url": canonical},
            )
        reached_older = any(window.is_before(entry.get("post_date")) for entry in fresh)  # the archive is newest first
        if fresh and not reached_older:  # the server caps the page size, so the next offset is what came back
            yield self.archive_request(offset + len(entries))

    def archive_failed(self, failure):
        if failure.request.cb_kwargs.get("offset", 0) == 0:
            yield from self.fall_back_to_feed(f"archive API: {describe_failure(failure, self.crawler.settings)}")
        else:
            self.on_error(failure)

    def fall_back_to_feed(self, why: str):
        self.logger.warning("%s: %s; falling back to the RSS feed", self.base_url, why)
        yield scrapy.Request(
            f"{self.base_url}/feed", callback=self.parse_fallback_feed, errback=self.feed_failed, cb_kwargs={"why": why}
        )

    def feed_failed(self, failure):
        why = failure.request.cb_kwargs["why"]
        self.report(
            failure.request.url, f"{describe_failure(failure, self.crawler.settings)} (after {why})", item=False
        )

    def parse_fallback_feed(self, response, why: str):
        yield from self.parse_feed(response, kind="article", metadata={"publication": self.base_url})
        self.report(
            self.base_url,
            f"{why}: collected from the RSS feed instead, which lists only recent posts "
            "(upload your Substack export for the rest)",
            item=False,
        )

    def parse_post(self, response, entry: dict):
        canonical = response.meta["item_url"]
        try:
            post = self.load_json(response)
            if not isinstance(post, dict):
                raise SourceError(f"malformed post JSON from {response.url}: expected an object")
        except SourceError as exc:
            self.report(canonical, str(exc))
            return
        audience = post.get("audience") or entry.get("audience")
        body = post.get("body_html")
        if audience in PAID_AUDIENCES and (not body or post.get("truncated_body_text") or 'class="paywall' in body):
            self.report(post.get("canonical_url") or canonical, "paid-only post skipped: no access to its full text")
            return
        if not body:
            self.report(canonical, f"post has no body ({post.get('type') or 'unknown type'})")
            return
        bylines = post.get("publishedBylines") or []
        loader = DocumentLoader()
        loader.add_value("platform", self.platform)
        loader.add_value("kind", "article")
        loader.add_value("source_url", post.get("canonical_url") or canonical)
        loader.add_value("title", post.get("title") or entry.get("title"))
        loader.add_value("content", body)
        loader.add_value("author", bylines[0].get("name") if bylines and isinstance(bylines[0], dict) else None)
        loader.add_value("published_at", post.get("post_date") or entry.get("post_date"))
        loader.add_value(
            "metadata",
            {
                "substack_id": post.get("id") or entry.get("id"),
                "slug": post.get("slug"),
                "subtitle": post.get("subtitle"),
                "audience": audience,
                "type": post.get("type"),
                "publication": self.base_url,
                "word_count": post.get("wordcount"),
                "via": "api",
            },
        )
        yield loader.load_item()
