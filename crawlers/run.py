"""Running crawls: one source per process (Twisted's reactor cannot restart within a process).

Python API (what ``twin crawl`` and the Airflow DAGs use)::

    from crawlers.run import crawl
    summary = crawl(user_id, "https://medium.com/@ada")        # platform detected from the URL
    summary = crawl(user_id, "http://127.0.0.1:8765/feed", platform="medium")
    summary.status, summary.crawl_run_id, summary.counts, summary.errors

Each call runs ``python -m crawlers.run`` in a subprocess, which crawls the source and prints one
JSON summary line; a crash or a timeout there comes back as a failed summary, never an exception,
so one failing source does not fail the others.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import uuid
from dataclasses import asdict, dataclass, field

from crawlers.window import parse_window_bound
from twin.core.vocabulary import PLATFORMS, detect_platform

DEFAULT_TIMEOUT_S = 3600


@dataclass
class CrawlSummary:
    source: str
    platform: str
    status: str  # succeeded, partial, failed
    crawl_run_id: str | None = None
    counts: dict = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)
    log_tail: str = ""  # the crawl process's last log lines when it could not report a summary

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "partial")


class UnknownPlatform(ValueError):
    pass


def crawl(
    user_id: int,
    url: str,
    platform: str | None = None,
    *,
    dry_run: bool = False,
    timeout: float = DEFAULT_TIMEOUT_S,
    env: dict | None = None,
    since: str | None = None,
    until: str | None = None,
) -> CrawlSummary:
    """Crawl one source for one user in a fresh process; returns its summary (never raises for crawl errors).
    ``since``/``until`` (ISO datetimes): keep only items published in ``[since, until)`` and stop paging
    archives once past ``since`` (a scheduled or backfill run's data interval)."""
    platform = platform or detect_platform(url)
    if platform not in PLATFORMS:
        raise UnknownPlatform(f"unknown platform {platform!r} (expected one of {', '.join(PLATFORMS)})")
    crawl_run_id = uuid.uuid4()
    command = [
        sys.executable,
        "-m",
        "crawlers.run",
        "--user-id",
        str(user_id),
        "--platform",
        platform,
        "--crawl-run-id",
        str(crawl_run_id),
        url,
    ]
    if dry_run:
        command.append("--dry-run")
    for flag, value in (("--since", since), ("--until", until)):
        if value:
            command += [flag, value]
    from twin.core.settings import PROJECT_ROOT

    try:
        result = subprocess.run(
            command,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
        )
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-4000:]
        error = f"the crawl took longer than {timeout:g}s and was stopped"
        return _abandoned(
            url,
            platform,
            crawl_run_id,
            error,
            dry_run,
            tail.decode(errors="replace") if isinstance(tail, bytes) else tail,
        )
    for line in reversed(result.stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                summary = CrawlSummary(**json.loads(line))
            except (json.JSONDecodeError, TypeError):
                break
            if summary.status == "failed" and summary.crawl_run_id and not dry_run:
                _close_failed_run(summary)  # the process could not (its database connection was lost)
            return summary
    tail = result.stderr.strip()[-4000:]
    last = tail.splitlines()[-1] if tail else f"exit status {result.returncode}"
    return _abandoned(url, platform, crawl_run_id, f"the crawl process failed: {last}", dry_run, tail)


def _close_run(crawl_run_id: uuid.UUID, reason: str) -> tuple[bool, str | None]:
    """Close a run its process could not close: (whether it was still running and is now failed, why the
    database could not be reached — then the next crawl of the source marks it interrupted)."""
    import sqlalchemy as sa

    from twin.core.db import DatabaseUnavailable, get_engine
    from twin.core.raw import abandon_run

    try:
        return abandon_run(get_engine(), crawl_run_id, reason), None
    except (sa.exc.SQLAlchemyError, DatabaseUnavailable) as exc:
        return False, str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def _close_failed_run(summary: CrawlSummary) -> None:
    _close_run(uuid.UUID(summary.crawl_run_id), summary.errors[0]["error"] if summary.errors else "the crawl failed")


def _abandoned(
    url: str, platform: str, crawl_run_id: uuid.UUID, error: str, dry_run: bool, log_tail: str
) -> CrawlSummary:
    """A crawl whose process could not report: its run row (if it got that far) is closed as failed."""
    recorded = False
    if not dry_run:
        recorded, unreachable = _close_run(crawl_run_id, error)
        if unreachable:
            error = (
                f"{error}; the database could not be reached ({unreachable}): the run is marked interrupted "
                "by the next crawl of this source"
            )
    return CrawlSummary(
        url,
        platform,
        "failed",
        str(crawl_run_id) if recorded else None,
        errors=[{"url": None, "error": error}],
        log_tail=log_tail,
    )


def crawl_here(
    user_id: int,
    source: str,
    platform: str,
    *,
    dry_run: bool = False,
    spider_args: dict | None = None,
    crawl_run_id: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> CrawlSummary:
    """Crawl in this process (starts the reactor: once per process). ``crawl`` runs this in a subprocess."""
    from scrapy.crawler import AsyncCrawlerProcess

    from crawlers.settings import crawl_settings
    from crawlers.spiders import SPIDERS

    process = AsyncCrawlerProcess(
        crawl_settings(
            user_id=user_id, source=source, dry_run=dry_run, crawl_run_id=crawl_run_id, since=since, until=until
        )
    )
    crawler = process.create_crawler(SPIDERS[platform])
    task = process.crawl(crawler, source=source, **(spider_args or {}))
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    startup_error = task.exception() if task.done() and not task.cancelled() else None
    if "twin/status" not in stats:
        error = (
            f"{type(startup_error).__name__}: {startup_error}"
            if startup_error
            else "the crawl stopped before it finished"
        )
        return CrawlSummary(
            source, platform, "failed", stats.get("twin/crawl_run_id"), errors=[{"url": None, "error": error}]
        )
    return CrawlSummary(
        source,
        platform,
        stats["twin/status"],
        stats.get("twin/crawl_run_id"),
        counts=stats.get("twin/counts", {}),
        errors=stats.get("twin/errors", []),
    )


def _iso(value: str) -> str:
    parse_window_bound(value)  # refuse a malformed date before anything starts
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crawlers.run", description="Crawl one source for one user and print a JSON summary."
    )
    parser.add_argument("source", help="a URL, @handle or username")
    parser.add_argument("--user-id", type=int, required=True)
    parser.add_argument("--platform", choices=PLATFORMS, help="default: detected from the source")
    parser.add_argument("--dry-run", action="store_true", help="collect and count, store nothing")
    parser.add_argument("--crawl-run-id", help="the id to record the run under (default: a new one)")
    parser.add_argument("--urls-file", help="web only: a file with more URLs, one a line (batch runs, the benchmark)")
    parser.add_argument("--since", type=_iso, help="keep only items published at or after this ISO date/time")
    parser.add_argument("--until", type=_iso, help="keep only items published before this ISO date/time")
    args = parser.parse_args(argv)
    platform = args.platform or detect_platform(args.source)
    spider_args = {}
    if args.urls_file:
        with open(args.urls_file, encoding="utf-8") as handle:
            spider_args["urls"] = handle.read()
    summary = crawl_here(
        args.user_id,
        args.source,
        platform,
        dry_run=args.dry_run,
        spider_args=spider_args,
        crawl_run_id=args.crawl_run_id,
        since=args.since,
        until=args.until,
    )
    print(json.dumps(asdict(summary)), flush=True)
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
