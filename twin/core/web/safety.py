"""The private-address guard: user-supplied URLs must not reach loopback, private networks or cloud metadata.

Every fetch checks the URL before connecting (``read_link`` on each redirect hop, the Scrapy
downloader middleware on every request, redirects included). ``TWIN_ALLOW_PRIVATE_URLS=true``
lifts the guard for tests and the offline demo.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

# Cloud metadata endpoints; most are link-local or shared space already, listed so the refusal says why.
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IPv6
}
METADATA_HOSTNAMES = {"metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"}


# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64: RFC 6052 and RFC 8215).
NAT64_PREFIXES = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class UnsafeURL(ValueError):
    """The URL may not be fetched (bad scheme, or it resolves to a non-public address)."""


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped, 6to4, Teredo (the client), NAT64,
    or the deprecated IPv4-compatible ``::a.b.c.d``."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in prefix for prefix in NAT64_PREFIXES):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if 1 < int(ip) < 2**32:
        return ipaddress.IPv4Address(int(ip))
    return None


def _reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private or not ip.is_global:
        return "a private or reserved address"
    return None


def refusal_reason(address: str) -> str | None:
    """Why ``address`` (an IP literal) may not be contacted, or None for a public address. The reason
    never names the address: users see it, and an internal address is not theirs to learn."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = embedded_ipv4(ip)
        if inner is not None:
            reason = _reason(inner)
            if reason:
                return f"{reason} (inside an IPv6 address)" if ip.ipv4_mapped is None else reason
    return _reason(ip)


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise :class:`UnsafeURL` unless ``url`` is http(s) and every address its host resolves to is public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(f"refused {url}: only http and https URLs can be fetched")
    host = parts.hostname
    if not host:
        raise UnsafeURL(f"refused {url}: no host name")
    if allow_private:
        return
    if host.rstrip(".").lower() in METADATA_HOSTNAMES:
        raise UnsafeURL(f"refused {url}: {host} is a cloud metadata host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL(f"refused {url}: invalid port") from None
    public_addresses(host, port, refused=f"{url}: {host}")


PRIVATE_HINT = "(private networks are off limits; TWIN_ALLOW_PRIVATE_URLS=true allows them for tests and demos)"


def public_addresses(host: str, port: int, *, refused: str) -> list[str]:
    """Every address ``host`` resolves to, all of them public; else :class:`UnsafeURL`
    "refused {refused} resolves to <reason>"."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"cannot resolve {host}: {exc}") from None
    for info in infos:
        reason = refusal_reason(info[4][0])
        if reason:
            raise UnsafeURL(f"refused {refused} resolves to {reason} {PRIVATE_HINT}")
    return [info[4][0] for info in infos]


def check_peer(url: str, peer_address: str | None, *, allow_private: bool) -> None:
    """Raise :class:`UnsafeURL` if the connection for ``url`` actually went to a non-public address.

    The check before connecting resolves the host itself; a host whose DNS answer changes in between
    (DNS rebinding) is caught here, before anything of the response is read.
    """
    if allow_private or not peer_address:
        return
    reason = refusal_reason(peer_address)
    if reason:
        raise UnsafeURL(f"refused {url}: the connection went to {reason} (its DNS answer changed after the check)")
