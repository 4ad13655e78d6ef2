"""Pipelines (one job each), the rate-limit middleware, platform detection and the Scrapy settings."""

import asyncio
import time

import pytest
from scrapy import Request
from scrapy.exceptions import DropItem
from scrapy.http import Response

from crawlers.items import DocumentItem
from crawlers.middlewares import RateLimitMiddleware, rate_limit_wait
from crawlers.pipelines import ContentHashPipeline, NormalisePipeline, ValidatePipeline
from crawlers.run import detect_platform
from crawlers.settings import crawl_settings
from twin.core.raw import content_hash
from twin.core.settings import load_settings
from twin.core.vocabulary import without_tracking


def item(**fields) -> DocumentItem:
    values = {
        "platform": "medium",
        "kind": "article",
        "source_url": "https://medium.com/@ada/post-1",
        "title": "A title",
        "content": "Some text.",
        **fields,
    }
    return DocumentItem(**values)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"content": "   "}, "empty content"),
        ({"source_url": "/relative/path"}, "source_url must be an http\\(s\\) URL"),
        ({"platform": "myspace"}, "unknown platform"),
        ({"kind": "tweet"}, "unknown kind"),
    ],
)
def test_validate_drops_invalid_items(fields, reason):
    with pytest.raises(DropItem, match=reason):
        ValidatePipeline().process_item(item(**fields))


def test_normalise_cleans_text_titles_and_urls_but_keeps_code_whitespace():
    article = NormalisePipeline().process_item(
        item(
            title="  A \n title ",
            content="Caf\u0065\u0301  ok\u200b\n\n\n\nnext",
            source_url="https://medium.com/@ada/post-1?source=rss-2f8e5a1c3b7d------2&utm_medium=email&id=3#comments",
        )
    )
    assert article.title == "A title"
    assert article.content == "Caf\u00e9 ok\n\nnext"
    assert article.source_url == "https://medium.com/@ada/post-1?id=3"
    code = NormalisePipeline().process_item(
        item(platform="github", kind="repository_file", content="\ufeffdef f():\r\n\treturn  1\r\n\r\n\r\n\r\n")
    )
    assert code.content == "def f():\n\treturn  1\n\n\n\n"


def test_without_tracking_keeps_meaningful_query():
    assert without_tracking("https://example.com/a?page=2&utm_source=x&fbclid=y") == "https://example.com/a?page=2"


def test_content_hash_matches_the_stores_hash():
    document = ContentHashPipeline().process_item(item())
    assert document.content_hash == content_hash(document.to_record())
    assert ContentHashPipeline().process_item(item(content="Other text.")).content_hash != document.content_hash


def test_author_travels_in_metadata():
    assert item(author="Ada Lovelace", metadata={"tags": ["x"]}).to_record().metadata == {
        "tags": ["x"],
        "author": "Ada Lovelace",
    }


def rate_limited(reset_in: float, status: int = 403) -> Response:
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time() + reset_in))}
    return Response("https://api.github.com/users/ada/repos", status=status, headers=headers)


def test_rate_limit_wait_reads_retry_after_and_reset():
    assert rate_limit_wait(Response("https://x.test", status=429, headers={"Retry-After": "7"})) == 7.0
    assert 59 <= rate_limit_wait(rate_limited(60)) <= 62
    assert rate_limit_wait(Response("https://x.test", status=403)) is None
    assert (
        rate_limit_wait(Response("https://x.test", headers={"X-RateLimit-Remaining": "12", "X-RateLimit-Reset": "1"}))
        is None
    )


def test_rate_limit_middleware_waits_and_retries_then_gives_up_on_long_waits():
    middleware = RateLimitMiddleware(max_wait=3, max_retries=2)
    request = Request("https://api.github.com/users/ada/repos")
    retried = asyncio.run(middleware.process_response(request, rate_limited(-5)))
    assert isinstance(retried, Request) and retried.meta["rate_limit_retries"] == 1 and retried.dont_filter
    too_long = rate_limited(3600)
    assert asyncio.run(middleware.process_response(request, too_long)) is too_long
    exhausted = request.replace(meta={"rate_limit_retries": 2})
    response = rate_limited(-5)
    assert asyncio.run(middleware.process_response(exhausted, response)) is response


@pytest.mark.parametrize(
    ("url", "platform"),
    [
        ("@ada", "medium"),
        ("https://medium.com/@ada", "medium"),
        ("https://ada.medium.com", "medium"),
        ("https://ada.substack.com", "substack"),
        ("https://github.com/ada", "github"),
        ("github.com/ada", "github"),
        ("https://www.linkedin.com/posts/ada_x-activity-1", "linkedin"),
        ("https://notes.ada.dev", "web"),
        ("https://arxiv.org/pdf/2401.00001", "web"),
        ("https://notgithub.com/ada", "web"),
    ],
)
def test_platform_detection(url, platform):
    assert detect_platform(url) == platform


def test_politeness_is_on_by_default_and_switchable():
    polite = crawl_settings(load_settings(_env_file=None))
    assert polite.getbool("ROBOTSTXT_OBEY") and polite.getbool("AUTOTHROTTLE_ENABLED")
    assert polite.getfloat("DOWNLOAD_DELAY") == 1.0 and polite.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 2
    assert polite["USER_AGENT"].startswith("LLMTwinBot/") and 429 in polite.getlist("RETRY_HTTP_CODES")
    rude = crawl_settings(load_settings(_env_file=None, crawl_polite=False))
    assert (
        not rude.getbool("ROBOTSTXT_OBEY")
        and not rude.getbool("AUTOTHROTTLE_ENABLED")
        and rude.getfloat("DOWNLOAD_DELAY") == 0
    )
    token = crawl_settings(load_settings(_env_file=None, github_token="ghp_secret"))["TWIN_GITHUB_TOKEN"]
    assert "ghp_secret" not in repr(token)
