"""Crawl throughput: the link spider (politeness off) against a plain sequential httpx fetch, side by side.

Starts the test fixture server on 127.0.0.1 with N article pages, then
  1. crawls them all with the link spider in one crawl process (``python -m crawlers.run --dry-run``:
     fetch, trafilatura extraction, validate/normalise/hash pipelines; nothing stored),
  2. fetches them one after another with httpx (fetch only),
  3. fetches them one after another with httpx and extracts each with the same ``parse_link``.
Prints pages/s for each and the ratios. Absolute numbers are noisy on a shared machine; the ratios
measured in one run are the point.

    .venv/bin/python benchmarks/crawl_throughput.py --pages 500
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def crawl_with_scrapy(urls: list[str]) -> tuple[float, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(urls[1:]))
    env = {**os.environ, "TWIN_ALLOW_PRIVATE_URLS": "true", "TWIN_CRAWL_POLITE": "false", "TWIN_CRAWL_RETRIES": "0"}
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "crawlers.run",
            "--user-id",
            "0",
            "--platform",
            "web",
            "--dry-run",
            "--urls-file",
            handle.name,
            urls[0],
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    elapsed = time.perf_counter() - started
    os.unlink(handle.name)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    if summary["errors"]:
        print(f"  scrapy errors: {summary['errors'][:3]}", file=sys.stderr)
    return elapsed, summary["counts"].get("collected", 0)


def fetch_sequentially(urls: list[str], extract: bool) -> tuple[float, int]:
    import httpx

    from twin.core.web.links import parse_link

    done = 0
    started = time.perf_counter()
    with httpx.Client(timeout=30) as client:
        for url in urls:
            response = client.get(url)
            response.raise_for_status()
            if extract:
                parse_link(url, response.content, response.headers.get("content-type"))
            done += 1
    return time.perf_counter() - started, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=500, help="article pages to serve and crawl (default 500)")
    args = parser.parse_args()

    from testing.fixture_server import FixtureServer

    with FixtureServer(bench_pages=args.pages) as server:
        urls = [server.url(f"/bench/article-{number}.html") for number in range(args.pages)]
        print(f"{args.pages} article pages on {server.base}")
        startup_s, _ = crawl_with_scrapy(urls[:1])
        scrapy_s, scrapy_pages = crawl_with_scrapy(urls)
        fetch_s, fetch_pages = fetch_sequentially(urls, extract=False)
        extract_s, extract_pages = fetch_sequentially(urls, extract=True)
    rows = [
        ("scrapy link spider (fetch + extract + pipelines, incl. process start-up)", scrapy_pages, scrapy_s),
        (
            f"scrapy link spider, less one 1-page crawl ({startup_s:.2f} s: start-up)",
            scrapy_pages - 1,
            scrapy_s - startup_s,
        ),
        ("httpx sequential (fetch only)", fetch_pages, fetch_s),
        ("httpx sequential (fetch + the same extraction)", extract_pages, extract_s),
    ]
    for name, pages, seconds in rows:
        print(f"{name:75s} {pages:5d} pages {seconds:7.2f} s {pages / seconds:8.1f} pages/s")
    for label, rate in (
        ("", scrapy_pages / scrapy_s),
        (" (start-up excluded)", (scrapy_pages - 1) / (scrapy_s - startup_s)),
    ):
        print(f"ratio scrapy{label} / httpx fetch-only:       {rate / (fetch_pages / fetch_s):.2f}")
        print(f"ratio scrapy{label} / httpx fetch+extraction: {rate / (extract_pages / extract_s):.2f}")


if __name__ == "__main__":
    main()
