"""The private-address guard on every form an internal address can take, and its messages."""

from __future__ import annotations

import socket

import pytest

from twin.core.web.safety import UnsafeURL, check_peer, check_url, refusal_reason


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("64:ff9b::7f00:1", "a loopback address (inside an IPv6 address)"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a00:1", "a private or reserved address (inside an IPv6 address)"),  # NAT64 of 10.0.0.1
        (
            "64:ff9b:1::a9fe:a9fe",
            "a cloud metadata address (inside an IPv6 address)",
        ),  # local-use NAT64 of 169.254.169.254
        ("2002:7f00:1::", "a loopback address (inside an IPv6 address)"),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", "a private or reserved address (inside an IPv6 address)"),  # 6to4 of 192.168.1.1
        (
            "2001:0:4136:e378:8000:63bf:f5ff:fffe",
            "a private or reserved address (inside an IPv6 address)",
        ),  # Teredo, client 10.0.0.1
        ("::a00:1", "a private or reserved address (inside an IPv6 address)"),  # IPv4-compatible 10.0.0.1
        ("::ffff:169.254.169.254", "a cloud metadata address"),  # IPv4-mapped
        ("::1", "a loopback address"),
        ("fe80::1%eth0", "a link-local address"),
    ],
)
def test_every_ipv6_form_of_an_internal_ipv4_address_is_refused(address, expected):
    assert refusal_reason(address) == expected


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "64:ff9b::5db8:d822", "2002:5db8:d822::1"]
)
def test_public_addresses_and_their_ipv6_forms_pass(address):
    assert refusal_reason(address) is None


def test_a_host_resolving_to_an_internal_address_is_refused_without_naming_that_address(monkeypatch):
    """Users see these messages: they name the URL and the reason, never the internal address."""

    def resolve(host, *args, **kwargs):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("64:ff9b::a00:5", 80, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(UnsafeURL) as refused:
        check_url("http://intranet.example/wiki", allow_private=False)
    message = str(refused.value)
    assert message.startswith("refused http://intranet.example/wiki: intranet.example resolves to a private")
    assert "10.0.0.5" not in message and "a00:5" not in message
    with pytest.raises(UnsafeURL) as rebound:
        check_peer("http://news.example/a", "10.1.2.3", allow_private=False)
    assert "10.1.2.3" not in str(rebound.value) and "went to a private or reserved address" in str(rebound.value)


def test_scrapy_connects_only_to_an_address_its_resolver_checked(monkeypatch):
    from scrapy.resolver import CachingThreadedResolver
    from twisted.internet import defer

    from crawlers.resolver import GuardedResolver
    from crawlers.settings import crawl_settings

    assert crawl_settings()["DNS_RESOLVER"] == "crawlers.resolver.GuardedResolver"
    answers = {"rebind.example": "10.0.0.7", "news.example": "93.184.216.34"}
    monkeypatch.setattr(
        CachingThreadedResolver, "getHostByName", lambda self, name, timeout=(): defer.succeed(answers[name])
    )
    resolver = GuardedResolver.__new__(GuardedResolver)
    failures, addresses = [], []
    resolver.getHostByName("rebind.example").addCallbacks(addresses.append, failures.append)
    assert not addresses and "refused rebind.example: it resolves to a private or reserved address" in str(
        failures[0].value
    )
    assert "10.0.0.7" not in str(failures[0].value)
    resolver.getHostByName("news.example").addCallback(addresses.append)
    assert addresses == ["93.184.216.34"]
    resolver.allow_private = True
    resolver.getHostByName("rebind.example").addCallback(addresses.append)
    assert addresses[-1] == "10.0.0.7"
