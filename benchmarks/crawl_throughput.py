"""Crawl throughput against a site with real response times: the link spider (politeness off and on), a
sequential httpx loop and an asyncio httpx loop at the spider's concurrency, side by side in one run.

Serves N generated article pages from the test fixture server on 127.0.0.1 (in a process of its own),
each answered after a delay drawn from ``--latency-ms`` (default 50-150 ms, like a real site; 0: none,
loopback speed) by a seeded RNG, and robots.txt likewise. Then, all with the same ``parse_link``:
  1. the link spider, politeness off (``TWIN_CRAWL_POLITE=false``), in one crawl process
     (``python -m crawlers.run --dry-run``: fetch, trafilatura extraction, validate/normalise/hash
     pipelines; nothing stored),
  2. the link spider with politeness on (the default for real sites: robots.txt, AutoThrottle, the
     per-domain concurrency and download delay) on ``--polite-pages`` pages: about one page per
     download delay, by design,
  3. httpx, one page after another (fetch only, then fetch + extraction),
  4. httpx.AsyncClient at the spider's own concurrency (``min(CONCURRENT_REQUESTS,
     CONCURRENT_REQUESTS_PER_DOMAIN)`` with politeness off: one host), an asyncio.Semaphore holding it
     there (fetch only, then fetch + extraction in the event loop, as the spider extracts in its callback).
A crawl's time includes starting its process (imports, the engine, the interpreter's exit). Rates are
given three ways: by this process's clock (start-up included); less a 1-page crawl of the same kind (the
old estimate of start-up, as noisy as two process starts); and by the server's clock, from the first
request to the last response, the same measure for every variant (``/bench-window``). Each variant gets a
fresh server with the same seed, so the same response times. Absolute numbers are noisy on a shared
machine; the ratios measured in one run are the point.

    .venv/bin/python benchmarks/crawl_throughput.py --pages 300 --latency-ms 50,150
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def latency_range(text: str) -> str:
    from testing.fixture_server import latency_ms

    try:
        latency_ms(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


@contextmanager
def site(pages: int, latency: str, seed: int):
    """A fresh fixture server (same seed: the same response times): its base URL and ``pages`` article URLs.

    The server runs in its own process: in this one, its threads would take the GIL from the httpx loops
    (a crawl process has it to itself)."""
    command = [sys.executable, "-m", "testing.fixture_server", "--bench-pages", str(pages)]
    server = subprocess.Popen(
        [*command, "--latency-ms", latency, "--seed", str(seed)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        line = server.stdout.readline()
        if " at http://" not in line:
            sys.exit(f"the fixture server did not start: {line!r}")
        base = line.split(" at ", 1)[1].split()[0]
        yield base, [f"{base}/bench/article-{number}.html" for number in range(pages)]
    finally:
        server.terminate()
        server.wait(timeout=10)


def crawl_with_scrapy(urls: list[str], *, polite: bool) -> tuple[float, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(urls[1:]))
    env = {**os.environ, "TWIN_ALLOW_PRIVATE_URLS": "true", "TWIN_CRAWL_POLITE": "true" if polite else "false"}
    if not polite:
        env["TWIN_CRAWL_RETRIES"] = "0"
    command = [sys.executable, "-m", "crawlers.run", "--user-id", "0", "--platform", "web", "--dry-run"]
    started = time.perf_counter()
    result = subprocess.run(
        [*command, "--urls-file", handle.name, urls[0]], cwd=ROOT, capture_output=True, text=True, env=env
    )
    elapsed = time.perf_counter() - started
    os.unlink(handle.name)
    try:
        summary = json.loads(result.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        sys.exit(f"the crawl process failed:\n{result.stderr[-3000:]}")
    if summary["errors"]:
        print(f"  scrapy errors: {summary['errors'][:3]}", file=sys.stderr)
    return elapsed, summary["counts"].get("collected", 0)


def extractor(extract: bool) -> Callable[[str, bytes, str | None], object]:
    from twin.core.web.links import parse_link

    return parse_link if extract else (lambda url, body, content_type: None)


def fetch_sequentially(urls: list[str], extract: bool) -> tuple[float, int]:
    import httpx

    handle = extractor(extract)
    done = 0
    started = time.perf_counter()
    with httpx.Client(timeout=30) as client:
        for url in urls:
            response = client.get(url)
            response.raise_for_status()
            handle(url, response.content, response.headers.get("content-type"))
            done += 1
    return time.perf_counter() - started, done


def fetch_concurrently(urls: list[str], extract: bool, concurrency: int) -> tuple[float, int]:
    """httpx.AsyncClient, at most ``concurrency`` requests in flight; extraction runs in the event loop."""
    import httpx

    handle = extractor(extract)

    async def crawl() -> int:
        done = 0
        gate = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=30, limits=limits) as client:

            async def one(url: str) -> None:
                nonlocal done
                async with gate:
                    response = await client.get(url)
                response.raise_for_status()
                handle(url, response.content, response.headers.get("content-type"))
                done += 1

            await asyncio.gather(*(one(url) for url in urls))
        return done

    started = time.perf_counter()
    done = asyncio.run(crawl())
    return time.perf_counter() - started, done


def spider_settings(polite: bool):
    from crawlers.settings import crawl_settings
    from twin.core.settings import load_settings

    return crawl_settings(load_settings(_env_file=None, crawl_polite=polite))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=300, help="article pages to serve and crawl (default 300)")
    parser.add_argument(
        "--latency-ms",
        type=latency_range,
        default="50,150",
        metavar="LOW,HIGH",
        help="each page's response time, uniform in [LOW, HIGH] ms (default 50,150; 0: none, today's loopback)",
    )
    parser.add_argument(
        "--polite-pages",
        type=int,
        default=20,
        help="pages for the politeness-on crawl, about one per download delay (default 20; 0: skip it)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the response times (default 0)")
    args = parser.parse_args()
    if args.pages < 2:
        parser.error("--pages must be at least 2")
    from testing.fixture_server import latency_ms

    latency, seed = args.latency_ms, args.seed
    rude, courteous = spider_settings(False), spider_settings(True)
    total, per_domain = rude.getint("CONCURRENT_REQUESTS"), rude.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
    concurrency = min(total, per_domain)
    bounds = latency_ms(latency)
    shown = f"{bounds[0] * 1000:g}-{bounds[1] * 1000:g} ms" if bounds else "no"
    print(f"{args.pages} article pages on 127.0.0.1, {shown} response time (seed {seed})")
    print(
        f"politeness off: CONCURRENT_REQUESTS={total}, CONCURRENT_REQUESTS_PER_DOMAIN={per_domain}, "
        f"DOWNLOAD_DELAY={rude.getfloat('DOWNLOAD_DELAY'):g}, no robots.txt, no AutoThrottle "
        f"-> the asyncio loop runs {concurrency} at a time"
    )
    print(
        f"politeness on:  CONCURRENT_REQUESTS_PER_DOMAIN={courteous.getint('CONCURRENT_REQUESTS_PER_DOMAIN')}, "
        f"DOWNLOAD_DELAY={courteous.getfloat('DOWNLOAD_DELAY'):g} "
        f"(+/-{courteous.getfloat('DOWNLOAD_DELAY_JITTER') * 100:g}%), robots.txt, AutoThrottle"
    )

    def timed(pages: int, run: Callable[[list[str]], tuple[float, int]]) -> tuple[float, int, float]:
        """(seconds by this process's clock, pages done, seconds from first request to last response by the
        server's clock)."""
        with site(pages, latency, seed) as (base, urls):
            seconds, done = run(urls)
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(f"{base}/bench-window", timeout=10) as response:
                window = json.loads(response.read())["seconds"]
        return seconds, done, window

    rows: list[tuple[str, int, float, float | None]] = []
    rates: dict[str, float] = {}

    def add(key: str, name: str, seconds: float, pages: int, window: float | None) -> None:
        rows.append((name, pages, seconds, window))
        rates[key] = pages / seconds if seconds > 0 else float("nan")  # a start-up noisier than the crawl
        if window:
            rates[f"{key}-window"] = pages / window

    def add_crawl(key: str, label: str, pages: int, polite: bool) -> None:
        startup_s, _, _ = timed(pages, lambda urls: crawl_with_scrapy(urls[:1], polite=polite))
        crawl_s, crawled, window = timed(pages, lambda urls: crawl_with_scrapy(urls, polite=polite))
        add(key, f"{label} (incl. process start-up)", crawl_s, crawled, window)
        add(f"{key}-run", f"{label}, less a 1-page crawl ({startup_s:.2f} s)", crawl_s - startup_s, crawled - 1, None)

    add_crawl("scrapy", "scrapy, politeness off", args.pages, polite=False)
    if args.polite_pages >= 2:
        add_crawl("polite", "scrapy, politeness on", args.polite_pages, polite=True)
    for key, name, extract in (("seq-fetch", "fetch only", False), ("seq", "fetch + the same extraction", True)):
        add(key, f"httpx sequential ({name})", *timed(args.pages, lambda urls, x=extract: fetch_sequentially(urls, x)))
    for key, name, extract in (("async-fetch", "fetch only", False), ("async", "fetch + the same extraction", True)):
        run = lambda urls, x=extract: fetch_concurrently(urls, x, concurrency)  # noqa: E731
        add(key, f"httpx asyncio x{concurrency} ({name})", *timed(args.pages, run))

    print(f"\n{'':62s} {'pages':>5s} {'seconds':>8s} {'pages/s':>8s}   {'server clock: s':>15s} {'pages/s':>8s}")
    for name, pages, seconds, window in rows:
        served = f"{window:15.2f} {pages / window:8.1f}" if window else ""
        rate = pages / seconds if seconds > 0 else float("nan")
        print(f"{name:62s} {pages:5d} {seconds:8.2f} {rate:8.1f}   {served}".rstrip())
    print("(server clock: from the first request for a page, or robots.txt, to the last response)\n")
    for key, label in (
        ("scrapy", "incl. process start-up"),
        ("scrapy-run", "less a 1-page crawl"),
        ("scrapy-window", "server clock"),
    ):
        suffix = "-window" if key.endswith("-window") else ""
        print(
            f"scrapy politeness off, {label + ':':23s} {rates[key] / rates['seq' + suffix]:5.2f}x httpx sequential, "
            f"{rates[key] / rates['async' + suffix]:5.2f}x httpx asyncio x{concurrency} (all fetch + extraction)"
        )
    if "polite" in rates:
        print(
            f"scrapy politeness on, server clock: {rates['polite-window']:.2f} pages/s "
            f"({rates['polite-window'] / rates['seq-window']:.2f}x httpx sequential): the download delay sets its pace"
        )


if __name__ == "__main__":
    main()
