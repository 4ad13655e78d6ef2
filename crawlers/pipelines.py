"""Item pipelines, one job each: validate -> normalise -> content hash -> store.

The store pipeline owns the source's :class:`twin.core.raw.CrawlRun`: it opens it when the spider opens,
records every dropped item, spider error and reported collection error, and finishes it (with
status and counts) when the spider closes. The run's summary goes into the crawl stats under
``twin/*`` for :mod:`crawlers.run` to print.
"""

from __future__ import annotations

import uuid

from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured

from crawlers import signals as twin_signals
from crawlers.items import DocumentItem
from crawlers.window import PublishedWindow
from twin.core.raw import InvalidDocument, content_hash
from twin.core.vocabulary import without_tracking
from twin.core.web.text import normalise_text


class ValidatePipeline:
    def process_item(self, item: DocumentItem) -> DocumentItem:
        try:
            item.to_record().validate()
        except InvalidDocument as exc:
            raise DropItem(f"invalid document: {exc}") from None
        return item


class NormalisePipeline:
    """Unicode and whitespace normalised; source files keep their whitespace (only line endings change)."""

    def process_item(self, item: DocumentItem) -> DocumentItem:
        item.title = " ".join(item.title.split()) if item.title else None
        if item.kind == "repository_file":
            item.content = item.content.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
        else:
            item.content = normalise_text(item.content)
        item.source_url = without_tracking(item.source_url)
        return item


class ContentHashPipeline:
    def process_item(self, item: DocumentItem) -> DocumentItem:
        item.content_hash = content_hash(item.to_record())
        return item


class _ErrorRecorder:
    """Connects the signals that carry collection errors to ``self.record_error``."""

    def _connect(self, crawler) -> None:
        crawler.signals.connect(self._item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(self._spider_error, signal=signals.spider_error)
        crawler.signals.connect(self._collection_error, signal=twin_signals.collection_error)

    def _item_dropped(self, item, response, exception, spider=None) -> None:
        self.record_error(
            getattr(item, "source_url", None) or (response.url if response else None), str(exception), item=True
        )

    def _spider_error(self, failure, response, spider=None) -> None:
        self.record_error(response.url, f"{failure.type.__name__}: {failure.value}", item=True)

    def _collection_error(self, url: str | None, error: str, item: bool = True) -> None:
        self.record_error(url, error, item=item)

    def record_error(self, url: str | None, error: str, *, item: bool) -> None:
        raise NotImplementedError


class StorePipeline(_ErrorRecorder):
    """Appends each document to ``raw.documents`` when its hash differs from that URL's latest version."""

    def __init__(self, crawler, user_id: int, source: str):
        self.crawler = crawler
        self.user_id = user_id
        self.source = source
        self.run = None

    @classmethod
    def from_crawler(cls, crawler):
        user_id = crawler.settings.getint("TWIN_USER_ID")
        if not user_id:
            raise NotConfigured("TWIN_USER_ID is not set: tell the crawl whose documents these are")
        pipeline = cls(crawler, user_id, crawler.settings.get("TWIN_SOURCE") or "")
        pipeline.window = PublishedWindow.from_settings(crawler.settings)
        pipeline._connect(crawler)
        return pipeline

    def open_spider(self) -> None:
        from twin.core.db import get_engine
        from twin.core.raw import CrawlRun

        spider = self.crawler.spider
        chosen_id = self.crawler.settings.get("TWIN_CRAWL_RUN_ID")
        self.run = CrawlRun(
            get_engine(),
            self.user_id,
            self.source or spider.source,
            spider.platform,
            crawl_run_id=uuid.UUID(chosen_id) if chosen_id else None,
        )
        self.run.__enter__()
        self.crawler.stats.set_value("twin/crawl_run_id", str(self.run.crawl_run_id))

    def process_item(self, item: DocumentItem) -> DocumentItem:
        import sqlalchemy as sa

        if not self.window.accepts(item.published_at):  # another data interval's: its own run stores it
            self.crawler.stats.inc_value("twin/outside_window")
            return item
        try:
            outcome = self.run.store(item.to_record())
        except sa.exc.SQLAlchemyError as exc:  # the database went away: this item is not stored
            reason = _database_reason(exc)
            self.run.fail(item.source_url, reason, counted_as_seen=True)
            raise DropItem(reason) from None
        self.crawler.stats.inc_value(f"twin/documents_{outcome or 'failed'}")
        return item

    def record_error(self, url: str | None, error: str, *, item: bool) -> None:
        if self.run is None:
            return
        if item:
            self.run.fail(url or self.run.source, error)
        else:
            self.run.fail(None, f"{url}: {error}" if url else error)

    def close_spider(self) -> None:
        if self.run is None:
            return
        counts = self.run.counts
        if counts.seen == 0 and not counts.errors and not self.window.bounded:
            self.run.fail(None, f"nothing found at {self.run.source} (an empty profile or feed?)")
        import sqlalchemy as sa

        try:
            self.run.__exit__(None, None, None)
        except sa.exc.SQLAlchemyError as exc:  # the run's row cannot be closed: say why; the caller closes it
            self.run.fail(None, _database_reason(exc))
            self.run.status = "failed"
        self.crawler.stats.set_value("twin/status", self.run.status)
        self.crawler.stats.set_value(
            "twin/counts", {name: getattr(counts, name) for name in ("seen", "new", "changed", "unchanged", "failed")}
        )
        self.crawler.stats.set_value("twin/errors", list(counts.errors))


class DryRunPipeline(_ErrorRecorder):
    """Stores nothing: counts documents and errors (``crawlers.run --dry-run`` and the benchmark)."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.errors: list[dict] = []
        self.seen = 0
        self.failed = 0

    @classmethod
    def from_crawler(cls, crawler):
        pipeline = cls(crawler)
        pipeline._connect(crawler)
        return pipeline

    def process_item(self, item: DocumentItem) -> DocumentItem:
        self.seen += 1
        return item

    def record_error(self, url: str | None, error: str, *, item: bool) -> None:
        self.failed += int(item)
        self.errors.append({"url": url if item else None, "error": error if item or not url else f"{url}: {error}"})

    def close_spider(self) -> None:
        status = "succeeded" if not self.errors else ("partial" if self.seen else "failed")
        self.crawler.stats.set_value("twin/status", status)
        self.crawler.stats.set_value(
            "twin/counts",
            {
                "seen": self.seen + self.failed,
                "new": 0,
                "changed": 0,
                "unchanged": 0,
                "failed": self.failed,
                "collected": self.seen,
            },
        )
        self.crawler.stats.set_value("twin/errors", self.errors)


def _database_reason(exc: Exception) -> str:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"the database connection was lost ({detail[0] if detail else type(exc).__name__})"
