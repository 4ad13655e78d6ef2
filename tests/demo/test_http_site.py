"""The HTTP server base shared by the demo's sample site and the tests' fixture server."""

from __future__ import annotations

import gzip
import http.client
import time

import pytest

from demo.http_site import HTTPSite, Reply, ReplyHandler

BIG = b"<p>" + b"word " * 400 + b"</p>"  # over the 1024 bytes below which nothing is compressed


class _Site(HTTPSite):
    def __init__(self):
        super().__init__()
        self.routes.update(
            {
                "/page": Reply(BIG),
                "/small": Reply(b"<p>short</p>"),
                "/feed": Reply(BIG, "application/rss+xml; charset=utf-8"),
                "/image": Reply(BIG, "image/jpeg"),
                "/encoded": Reply(gzip.compress(BIG), headers={"Content-Encoding": "gzip"}),
                "/slow": Reply(b"late", delay=0.3),
                "/trickle": Reply(b"body", trickle=1e-5),
            }
        )

    def reply_for(self, raw_path: str) -> Reply:
        with self._lock:
            self.hits[raw_path] += 1
        return self.routes.get(raw_path) or Reply(b"missing", status=404)


class _RssHandler(ReplyHandler):
    compressible = (*ReplyHandler.compressible, "application/rss+xml")
    server_version = "test-site/1.0"


class _RssSite(_Site):
    handler_class = _RssHandler


def fetch(site: HTTPSite, path: str, method: str = "GET", gzip_ok: bool = True):
    connection = http.client.HTTPConnection(site.host, site.port, timeout=10)
    try:
        connection.request(method, path, headers={"Accept-Encoding": "gzip"} if gzip_ok else {})
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def site():
    with _Site() as running:
        yield running


def test_a_site_knows_its_address_and_counts_hits(site):
    assert site.base == f"http://127.0.0.1:{site.port}" and site.url("/page") == site.base + "/page"
    before = site.hits["/small"]
    response, body = fetch(site, "/small")
    assert (response.status, body, site.hits["/small"]) == (200, b"<p>short</p>", before + 1)
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert fetch(site, "/nowhere")[0].status == 404


@pytest.mark.parametrize(
    "path, gzip_ok, compressed",
    [
        ("/page", True, True),
        ("/page", False, False),
        ("/small", True, False),
        ("/feed", True, False),  # not among the base's compressible types
        ("/image", True, False),
    ],
)
def test_large_text_replies_are_gzipped_when_the_client_accepts_it(site, path, gzip_ok, compressed):
    response, body = fetch(site, path, gzip_ok=gzip_ok)
    assert (response.getheader("Content-Encoding") == "gzip") is compressed
    assert (gzip.decompress(body) if compressed else body) == site.routes[path].body


def test_a_reply_that_is_already_encoded_is_sent_as_it_is(site):
    response, body = fetch(site, "/encoded")
    assert response.getheader("Content-Encoding") == "gzip" and gzip.decompress(body) == BIG


def test_a_subclass_handler_adds_compressible_types_and_a_server_name():
    with _RssSite() as rss_site:
        response, body = fetch(rss_site, "/feed")
    assert response.getheader("Content-Encoding") == "gzip" and gzip.decompress(body) == BIG
    assert response.getheader("Server").startswith("test-site/1.0")


def test_head_sends_the_get_headers_without_a_body(site):
    get, _ = fetch(site, "/page")
    head, body = fetch(site, "/page", method="HEAD")
    assert body == b"" and head.status == 200
    assert head.getheader("Content-Length") == get.getheader("Content-Length")
    assert head.getheader("Content-Encoding") == "gzip"


def test_delay_and_trickle(site):
    started = time.monotonic()
    response, body = fetch(site, "/slow")
    assert body == b"late" and time.monotonic() - started >= 0.3
    response, body = fetch(site, "/trickle")
    assert body == b"body" and response.getheader("X-Padding-49") == "x" * 40


def test_start_is_idempotent_and_stop_without_start_closes_the_socket():
    idle = _Site()
    idle.stop()  # never started: nothing to shut down, the socket is closed
    running = _Site()
    assert running.start() is running.start() is running
    assert fetch(running, "/small")[0].status == 200
    running.stop()
    with pytest.raises(OSError):
        fetch(running, "/small")
