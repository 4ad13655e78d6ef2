"""Scrapy settings for the twin's spiders.

The module holds the static part; :func:`crawl_settings` overlays what comes from the environment
(``TWIN_CRAWL_*`` in :mod:`twin.core.settings`): politeness, timeouts, limits, and whose crawl it is.
"""

from __future__ import annotations

BOT_NAME = "llm-twin"
SPIDER_MODULES = ["crawlers.spiders"]
NEWSPIDER_MODULE = "crawlers.spiders"

ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
DOWNLOAD_DELAY_JITTER = 0.5
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
# Items of one response in the pipelines at once. Every pipeline here is synchronous, run by the reactor's
# thread: nothing overlaps whatever this says. Scrapy's default (100) starts 100 asyncio tasks per response
# all the same: ~2 ms of CPU a page, a fifth of the link spider's (benchmarks/crawl_throughput.py). Raise it
# for an asynchronous pipeline.
CONCURRENT_ITEMS = 1
# A development check (a generator callback that returns a value) that reads and parses the callback's source
# (inspect + ast) whenever its cache, weakly keyed on short-lived bound methods, has lost it: on about one
# response in four of a long crawl. The spiders' tests cover what it checks.
WARN_ON_GENERATOR_RETURN_VALUE = False

RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
TWIN_RETRY_BACKOFF_S = 2.0
TWIN_MAX_WAIT_S = 300.0

DOWNLOAD_TIMEOUT = 30
DNS_RESOLVER = "crawlers.resolver.GuardedResolver"  # connects only to addresses it checked
DOWNLOAD_MAXSIZE = 20_000_000
DOWNLOAD_WARNSIZE = 0
REDIRECT_MAX_TIMES = 5
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "WARNING"
LOG_INSTALL_ROOT_HANDLER = True

DOWNLOADER_MIDDLEWARES = {
    "crawlers.middlewares.PrivateAddressGuardMiddleware": 50,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawlers.middlewares.BackoffRetryMiddleware": 550,
    "crawlers.middlewares.RateLimitMiddleware": 560,
}

ITEM_PIPELINES = {
    "crawlers.pipelines.ValidatePipeline": 100,
    "crawlers.pipelines.NormalisePipeline": 200,
    "crawlers.pipelines.ContentHashPipeline": 300,
    "crawlers.pipelines.StorePipeline": 900,
}
DRY_RUN_PIPELINES = {
    **ITEM_PIPELINES,
    "crawlers.pipelines.StorePipeline": None,
    "crawlers.pipelines.DryRunPipeline": 900,
}

TWIN_ALLOW_PRIVATE_URLS = False


def crawl_settings(
    twin_settings=None,
    *,
    user_id: int | None = None,
    source: str = "",
    dry_run: bool = False,
    crawl_run_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
):
    """Scrapy :class:`~scrapy.settings.Settings` for one source's crawl, from the twin settings."""
    from scrapy.settings import Settings

    from twin.core.settings import get_settings

    twin_settings = twin_settings or get_settings()
    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    polite = twin_settings.crawl_polite
    settings.setdict(
        {
            "USER_AGENT": twin_settings.crawl_user_agent,
            "ROBOTSTXT_OBEY": polite,
            "AUTOTHROTTLE_ENABLED": polite,
            "DOWNLOAD_DELAY": twin_settings.crawl_delay_s if polite else 0,
            "DOWNLOAD_DELAY_JITTER": 0.5 if polite else 0,
            "CONCURRENT_REQUESTS_PER_DOMAIN": twin_settings.crawl_concurrency_per_domain if polite else 16,
            "DOWNLOAD_TIMEOUT": twin_settings.crawl_timeout_s,
            "DOWNLOAD_MAXSIZE": twin_settings.crawl_max_bytes,
            "RETRY_TIMES": twin_settings.crawl_retries,
            "TWIN_RETRY_BACKOFF_S": twin_settings.crawl_backoff_s,
            "TWIN_MAX_WAIT_S": twin_settings.crawl_max_wait_s,
            "TWIN_ALLOW_PRIVATE_URLS": twin_settings.allow_private_urls,
            "TWIN_GITHUB_API_URL": str(twin_settings.github_api_url).rstrip("/"),
            "TWIN_GITHUB_TOKEN": twin_settings.github_token,  # a SecretStr: Scrapy's settings log shows it masked
            "TWIN_GITHUB_MAX_FILE_BYTES": twin_settings.crawl_github_max_file_bytes,
            "TWIN_GITHUB_MAX_FILES": twin_settings.crawl_github_max_files,
            "TWIN_USER_ID": user_id,
            "TWIN_SOURCE": source,
            "TWIN_CRAWL_RUN_ID": crawl_run_id,
            # A scheduled or backfill run's data interval (ISO datetimes): only items published in it.
            "TWIN_PUBLISHED_SINCE": since,
            "TWIN_PUBLISHED_UNTIL": until,
            "LOG_LEVEL": "DEBUG" if twin_settings.log_level == "DEBUG" else "WARNING",
            "ITEM_PIPELINES": DRY_RUN_PIPELINES if dry_run else ITEM_PIPELINES,
        },
        priority="project",
    )
    return settings
