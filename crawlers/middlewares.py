"""Downloader middlewares: the private-address guard, rate-limit waits, and retries with backoff."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response

from twin.core.web.safety import UnsafeURL, check_peer, check_url


class RefusedURL(IgnoreRequest):
    """The private-address guard refused a request (the message says why)."""


class PrivateAddressGuardMiddleware:
    """Refuses every request (redirects and robots.txt included) whose host resolves to a non-public address."""

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getbool("TWIN_ALLOW_PRIVATE_URLS"))

    async def process_request(self, request: Request) -> None:
        try:
            if self.allow_private or is_ip_literal(urlsplit(request.url).hostname):
                check_url(request.url, allow_private=self.allow_private)  # nothing to resolve
            else:
                await asyncio.to_thread(check_url, request.url, allow_private=self.allow_private)
        except UnsafeURL as exc:
            raise RefusedURL(str(exc)) from None

    def process_response(self, request: Request, response: Response) -> Response:
        """The address actually connected to must be public too (a host can rebind after the check)."""
        peer = str(response.ip_address) if response.ip_address is not None else None
        try:
            check_peer(request.url, peer, allow_private=self.allow_private)
        except UnsafeURL as exc:
            raise RefusedURL(str(exc)) from None
        return response


def is_ip_literal(host: str | None) -> bool:
    try:
        ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return True


def rate_limit_wait(response: Response, now: float | None = None) -> float | None:
    """Seconds the server asks us to wait (``Retry-After``, or ``X-RateLimit-Reset`` with nothing remaining)."""
    now = time.time() if now is None else now
    retry_after = response.headers.get(b"Retry-After")
    if retry_after:
        value = retry_after.decode("latin-1").strip()
        if value.isdigit():
            return float(value)
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            return None
    remaining = response.headers.get(b"X-RateLimit-Remaining")
    reset = response.headers.get(b"X-RateLimit-Reset")
    if remaining is not None and remaining.strip() == b"0" and reset and reset.strip().isdigit():
        return max(0.0, int(reset) - now) + 1.0
    return None


class RateLimitMiddleware:
    """Honours rate limits: waits out ``Retry-After``/``X-RateLimit-Reset`` on 403/429 and retries, and
    holds further requests to a host whose ``X-RateLimit-Remaining`` reached 0. Waits longer than
    ``TWIN_MAX_WAIT_S`` are not taken: the response goes on as an error naming the reset time."""

    def __init__(self, max_wait: float, max_retries: int):
        self.max_wait = max_wait
        self.max_retries = max_retries
        self.resume_at: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getfloat("TWIN_MAX_WAIT_S"), max(1, crawler.settings.getint("RETRY_TIMES")))

    async def process_request(self, request: Request) -> None:
        wait = self.resume_at.get(urlsplit(request.url).netloc, 0.0) - time.time()
        if 0 < wait <= self.max_wait:
            await asyncio.sleep(wait)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        wait = rate_limit_wait(response)
        if wait is None:
            return response
        host = urlsplit(request.url).netloc
        if response.status < 400:
            self.resume_at[host] = time.time() + wait
            return response
        if response.status not in (403, 429):
            return response
        attempts = request.meta.get("rate_limit_retries", 0)
        if wait > self.max_wait or attempts >= self.max_retries:
            return response
        await asyncio.sleep(wait)
        return request.replace(dont_filter=True, meta={**request.meta, "rate_limit_retries": attempts + 1})


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries (429/5xx/timeouts), each after an exponentially growing pause."""

    def __init__(self, settings):
        super().__init__(settings)
        self.backoff = settings.getfloat("TWIN_RETRY_BACKOFF_S")
        self.max_wait = settings.getfloat("TWIN_MAX_WAIT_S")

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        return await self._after_backoff(super().process_response(request, response))

    async def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:
        return await self._after_backoff(super().process_exception(request, exception))

    async def _after_backoff(self, result):
        if isinstance(result, Request) and self.backoff > 0:
            attempt = result.meta.get("retry_times", 1)
            await asyncio.sleep(min(self.backoff * 2 ** (attempt - 1), self.max_wait))
        return result
