"""The fixture server's ``latency`` option: /bench/ pages (and robots.txt) answer after a seeded random delay;
``/bench-window`` times the crawl by the server's clock."""

import time

import httpx
import pytest

from testing.fixture_server import FixtureServer, latency_ms

LOW, HIGH = 0.15, 0.25


def timed_get(client: httpx.Client, url: str) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = client.get(url)
    return time.perf_counter() - started, response


def test_bench_pages_and_robots_wait_other_routes_do_not():
    with FixtureServer(bench_pages=3, latency=(LOW, HIGH)) as server, httpx.Client(timeout=10) as client:
        for path in ("/bench/article-0.html", "/bench/article-2.html", "/robots.txt"):
            elapsed, response = timed_get(client, server.url(path))
            assert response.status_code == 200
            assert LOW <= elapsed < HIGH + 0.5, (path, elapsed)  # the upper slack absorbs a busy machine
        elapsed, response = timed_get(client, server.url("/bench/article-3.html"))  # past the pages: 404, waited
        assert response.status_code == 404 and elapsed >= LOW
        for path in ("/web/article.html", "/medium/feed/@ada"):
            elapsed, response = timed_get(client, server.url(path))
            assert response.status_code == 200 and elapsed < LOW, (path, elapsed)
        window = client.get(server.url("/bench-window")).json()  # first bench request to last response
        assert window["requests"] == 4 and 4 * LOW <= window["seconds"] < 4 * HIGH + 1


def test_delays_are_drawn_within_bounds_from_a_seeded_rng():
    def delays(server: FixtureServer) -> list[float]:
        return [server.reply_for(f"/bench/article-{number % 5}.html").delay for number in range(50)]

    with FixtureServer(bench_pages=5, latency=(0.05, 0.15), latency_seed=7) as first:
        drawn = delays(first)
        assert first.reply_for("/robots.txt").delay > 0 and first.reply_for("/web/article.html").delay == 0
    assert all(0.05 <= delay <= 0.15 for delay in drawn) and len(set(drawn)) == len(drawn)
    with FixtureServer(bench_pages=5, latency=(0.05, 0.15), latency_seed=7) as again:
        assert delays(again) == drawn
    with FixtureServer(bench_pages=5, latency=(0.05, 0.15), latency_seed=8) as other:
        assert delays(other) != drawn


def test_no_latency_by_default():
    with FixtureServer(bench_pages=2) as server:
        assert server.reply_for("/bench/article-1.html").delay == 0
        assert server.reply_for("/robots.txt").delay == 0


def test_latency_option_values():
    assert latency_ms("50,150") == (0.05, 0.15)
    assert latency_ms("100") == (0.1, 0.1)
    assert latency_ms("0") is None
    for bad in ("150,50", "-1", "a,b", "1,2,3"):
        with pytest.raises(ValueError):
            latency_ms(bad)
    with pytest.raises(ValueError):
        FixtureServer(latency=(0.2, 0.1))
