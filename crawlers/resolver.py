"""Scrapy's DNS resolver with the private-address guard: the address a crawl connects to is the
address that was checked, so a host that rebinds to an internal address after the downloader
middleware's check is refused before any request is sent (``DNS_RESOLVER`` in crawlers/settings.py).
IP literals are not resolved; the middleware's check covers them."""

from __future__ import annotations

from scrapy.resolver import CachingThreadedResolver
from twisted.internet.error import DNSLookupError

from twin.core.web.safety import PRIVATE_HINT, refusal_reason


class GuardedResolver(CachingThreadedResolver):
    allow_private = False

    @classmethod
    def from_crawler(cls, crawler, reactor):
        resolver = super().from_crawler(crawler, reactor)
        resolver.allow_private = crawler.settings.getbool("TWIN_ALLOW_PRIVATE_URLS")
        return resolver

    def getHostByName(self, name: str, timeout=()):
        resolved = super().getHostByName(name, timeout)
        if not self.allow_private:
            resolved.addCallback(self._refuse_internal, name)
        return resolved

    @staticmethod
    def _refuse_internal(address: str, name: str) -> str:
        reason = refusal_reason(address)
        if reason:
            raise DNSLookupError(f"refused {name}: it resolves to {reason} {PRIVATE_HINT}")
        return address
