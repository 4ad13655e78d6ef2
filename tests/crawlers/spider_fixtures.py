"""Shared test helpers for the spider tests: saved responses, spiders wired to a crawler, the fixture
server, crawl environments, and reading back what a crawl stored. Test modules import what they use."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa
from scrapy.http import HtmlResponse, Request, Response, TextResponse, XmlResponse
from scrapy.utils.test import get_crawler

from crawlers import signals as twin_signals
from crawlers.settings import crawl_settings
from testing.fixture_server import FIXTURES, FixtureServer
from twin.core.settings import load_settings
from twin.core.tables import crawl_runs, documents

SAVED_BASE = "https://fixtures.test"


def saved(relative: str) -> bytes:
    return (FIXTURES / relative).read_bytes().replace(b"{BASE}", SAVED_BASE.encode())


def response(
    url: str, body: bytes, kind=HtmlResponse, status: int = 200, headers: dict | None = None, **meta
) -> Response:
    request = Request(url, meta=meta)
    return kind(
        url=url,
        body=body,
        status=status,
        headers=headers or {},
        request=request,
        **({"encoding": "utf-8"} if kind is not Response else {}),
    )


def xml_response(url: str, body: bytes) -> XmlResponse:
    return response(url, body, XmlResponse)


def json_response(url: str, body: bytes, **meta) -> TextResponse:
    return response(url, body, TextResponse, headers={"Content-Type": "application/json"}, **meta)


class SpiderHarness:
    """A spider built through ``from_crawler`` with the project's settings; ``errors`` collects its reports."""

    def __init__(self, spidercls, source: str, **spider_args):
        settings = crawl_settings(load_settings(allow_private_urls=True, _env_file=None), user_id=1, source=source)
        self.crawler = get_crawler(spidercls, {**settings.copy_to_dict(), "TWISTED_REACTOR_ENABLED": False})
        self.spider = spidercls.from_crawler(self.crawler, source=source, **spider_args)
        self.crawler.spider = self.spider
        self.errors: list[dict] = []
        self.crawler.signals.connect(self._record, signal=twin_signals.collection_error)

    def _record(self, url, error, item=True):
        self.errors.append({"url": url, "error": error, "item": item})


def random_user_id() -> int:
    return random.randint(10**9, 2 * 10**9)


@pytest.fixture(scope="module")
def fixture_server():
    with FixtureServer() as server:
        yield server


@pytest.fixture
def crawl_env(fixture_server):
    """Politeness off, short timeouts and backoff, the GitHub API on the fixture server."""
    return {
        "TWIN_ALLOW_PRIVATE_URLS": "true",
        "TWIN_CRAWL_POLITE": "false",
        "TWIN_CRAWL_RETRIES": "1",
        "TWIN_CRAWL_BACKOFF_S": "0.05",
        "TWIN_CRAWL_TIMEOUT_S": "2",
        "TWIN_CRAWL_MAX_WAIT_S": "5",
        "TWIN_GITHUB_API_URL": fixture_server.url("/github"),
    }


def stored(engine, user_id: int) -> list:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(documents)
            .where(documents.c.user_id == user_id)
            .order_by(documents.c.source_url, documents.c.fetched_at)
        ).all()


def run_row(engine, crawl_run_id: str):
    with engine.connect() as conn:
        return conn.execute(sa.select(crawl_runs).where(crawl_runs.c.crawl_run_id == crawl_run_id)).one()
