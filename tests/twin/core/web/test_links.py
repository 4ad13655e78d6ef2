"""``read_link`` (the reusable link reader) and the private-address guard, with the guard on and off."""

import asyncio
import socket
from datetime import UTC, datetime, timezone

import httpx
import pytest
from scrapy import Request

from crawlers.middlewares import PrivateAddressGuardMiddleware, RefusedURL
from tests.crawlers.spider_fixtures import fixture_server  # noqa: F401
from twin.core.settings import load_settings
from twin.core.web.links import LinkError, read_link
from twin.core.web.safety import UnsafeURL, check_url


def settings(**overrides):
    values = {"allow_private_urls": True, "crawl_timeout_s": 2.0, **overrides}
    return load_settings(_env_file=None, **values)


def test_reads_an_article_through_a_redirect(fixture_server):
    document = read_link(fixture_server.url("/web/moved"), settings())
    assert document.url == fixture_server.url("/web/moved")
    assert document.final_url == fixture_server.url("/web/article.html")
    assert document.source_url == "https://fieldnotes.example.org/2024/02/retrieval-is-a-search-problem/"
    assert document.kind == "link" and document.content_type == "text/html"
    assert document.title == "Retrieval is a search problem" and document.author == "Lin Chen"
    assert document.published_at == datetime(2024, 2, 14, 16, 45, tzinfo=UTC)
    assert document.content.startswith("# Retrieval is a search problem\n\nTeams spend weeks")
    record = document.to_record()
    assert record.platform == "web" and record.kind == "link" and record.own_writing is False
    assert record.metadata["author"] == "Lin Chen" and record.metadata["fetched_from"] == document.final_url


def test_reads_a_pdf(fixture_server):
    document = read_link(fixture_server.url("/web/paper.pdf"), settings())
    assert document.kind == "paper" and document.title == "Hybrid Retrieval for Personal Writing Assistants"
    assert "dense and lexical retrieval" in document.content and document.metadata == {"pages": 1}


@pytest.mark.parametrize(
    ("path", "overrides", "message"),
    [
        ("/web/missing", {}, "HTTP 404 Not Found"),
        ("/web/error", {}, "HTTP 500 Internal Server Error"),
        ("/web/challenge.html", {}, "bot challenge page"),
        ("/linkedin/posts/adalovelace_walled", {}, "login wall"),
        ("/web/photo.jpg", {}, "unsupported content type 'image/jpeg'"),
        ("/web/big.html", {"crawl_max_bytes": 100_000}, "too large"),
        ("/web/slow", {"crawl_timeout_s": 0.5}, "timed out"),
    ],
)
def test_bad_links_raise_a_readable_error(fixture_server, path, overrides, message):
    with pytest.raises(LinkError, match=message):
        read_link(fixture_server.url(path), settings(**overrides))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8000/admin",
        "http://10.1.2.3/",
        "http://192.168.1.1/",
        "http://172.16.0.5/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://2130706433/",
        "http://0.0.0.0/",
        "http://100.100.100.200/",
        "http://metadata.google.internal/computeMetadata/v1/",
    ],
)
def test_private_addresses_are_refused_when_the_guard_is_on(url):
    with pytest.raises(UnsafeURL, match="refused"):
        check_url(url, allow_private=False)


def test_guard_lets_public_addresses_and_the_override_through():
    check_url("http://93.184.216.34/", allow_private=False)
    check_url("http://127.0.0.1:9/", allow_private=True)
    with pytest.raises(UnsafeURL, match="only http and https"):
        check_url("file:///etc/passwd", allow_private=True)


def test_read_link_refuses_the_fixture_server_with_the_guard_on(fixture_server):
    with pytest.raises(LinkError, match="127.0.0.1 resolves to a loopback address"):
        read_link(fixture_server.url("/web/article.html"), settings(allow_private_urls=False))


def test_every_redirect_hop_is_checked(monkeypatch):
    real_getaddrinfo = socket.getaddrinfo

    def fake_dns(host, *args, **kwargs):
        if host == "blog.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80))]
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    asked = []

    def handler(request):
        asked.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://169.254.169.254/latest/meta-data/iam/"})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    with pytest.raises(LinkError, match="169.254.169.254 resolves to a cloud metadata address"):
        read_link("http://blog.example.com/post", settings(allow_private_urls=False), client=client)
    assert asked == ["http://blog.example.com/post"]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/", "http://10.0.0.8/", "http://169.254.169.254/latest/meta-data/"]
)
def test_scrapy_guard_middleware_refuses_private_addresses(url):
    guard = PrivateAddressGuardMiddleware(allow_private=False)
    with pytest.raises(RefusedURL, match="refused"):
        asyncio.run(guard.process_request(Request(url)))
    assert asyncio.run(PrivateAddressGuardMiddleware(allow_private=True).process_request(Request(url))) is None


def test_scrapy_guard_middleware_checks_the_address_it_actually_connected_to():
    from ipaddress import ip_address

    from scrapy.http import HtmlResponse

    request = Request("http://rebind.example/post")
    rebound = HtmlResponse(request.url, body=b"<p>x</p>", ip_address=ip_address("10.0.0.8"), request=request)
    with pytest.raises(RefusedURL, match="went to a private or reserved address.*DNS answer changed"):
        PrivateAddressGuardMiddleware(allow_private=False).process_response(request, rebound)
    public = HtmlResponse(request.url, body=b"<p>x</p>", ip_address=ip_address("93.184.216.34"), request=request)
    assert PrivateAddressGuardMiddleware(allow_private=False).process_response(request, public) is public
    assert PrivateAddressGuardMiddleware(allow_private=True).process_response(request, rebound) is rebound


def test_a_host_that_rebinds_to_a_private_address_after_the_check_is_refused(fixture_server, monkeypatch):
    real_getaddrinfo = socket.getaddrinfo
    port = int(fixture_server.base.rsplit(":", 1)[1])
    answers = iter(["93.184.216.34"])  # first answer (the check) public, every later one loopback

    def rebinding_getaddrinfo(host, *args, **kwargs):
        if host != "rebind.example":
            return real_getaddrinfo(host, *args, **kwargs)
        address = next(answers, "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_getaddrinfo)
    before = fixture_server.hits["/web/article.html"]
    with pytest.raises(LinkError, match="refused rebind.example: it resolves to a loopback address"):
        read_link(f"http://rebind.example:{port}/web/article.html", settings(allow_private_urls=False))
    assert fixture_server.hits["/web/article.html"] == before, "the connection is pinned: nothing was sent"


def test_a_server_that_trickles_its_headers_is_cut_off_at_the_deadline(fixture_server):
    """The deadline covers the whole fetch: a byte of headers every 0.2 s never trips a per-read
    timeout, but the fetch still ends at crawl_timeout_s."""
    import time

    started = time.monotonic()
    with pytest.raises(LinkError, match="timed out"):
        read_link(fixture_server.url("/web/trickle"), settings(crawl_timeout_s=1.0))
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_compressed_body_that_inflates_past_the_limit_is_refused(fixture_server, encoding):
    import gzip
    import zlib

    bomb = b"<p>" + b"a" * 50_000_000 + b"</p>"  # 50 MB of HTML, ~50 kB compressed
    body = gzip.compress(bomb) if encoding == "gzip" else zlib.compress(bomb)
    assert len(body) < 100_000
    fixture_server.set(f"/web/bomb-{encoding}", body, "text/html", headers={"Content-Encoding": encoding})
    with pytest.raises(LinkError, match="too large .*once decompressed"):
        read_link(fixture_server.url(f"/web/bomb-{encoding}"), settings(crawl_max_bytes=1_000_000))
    small = (
        b"<html><body><article><h1>Zipped</h1><p>"
        + b"A compressed page that is fine. " * 40
        + b"</p></article></body></html>"
    )
    fixture_server.set(
        f"/web/small-{encoding}",
        gzip.compress(small) if encoding == "gzip" else zlib.compress(small),
        "text/html",
        headers={"Content-Encoding": encoding},
    )
    assert "compressed page that is fine" in read_link(fixture_server.url(f"/web/small-{encoding}"), settings()).content


def test_an_encoding_it_did_not_ask_for_is_refused(fixture_server):
    fixture_server.set("/web/brotli", b"\x1b\x00\x00", "text/html", headers={"Content-Encoding": "br"})
    with pytest.raises(LinkError, match="unsupported content encoding 'br'"):
        read_link(fixture_server.url("/web/brotli"), settings())
