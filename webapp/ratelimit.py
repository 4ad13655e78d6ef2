"""Rate limits on the doors an attacker knocks on: login, signup, password reset and compose.

Fixed windows counted in Django's cache, per client IP and per account (the email typed into the
form, or the signed-in user). Over a limit, a POST answers 429 with when to try again, before the
view does any work. ``RATE_LIMITS`` in settings holds ``(requests, seconds)`` per scope and key
kind. The cache (settings ``CACHES``) is files under ``$TWIN_HOME/cache/web``, shared by the worker
processes of one host; several web hosts need a cache they share (Redis, Django's database cache).
"""

from __future__ import annotations

import functools
import hashlib
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.template.loader import render_to_string


def client_ip(request) -> str:
    """The peer address. ``X-Forwarded-For`` is trusted only when TWIN_TRUSTED_PROXY_HOPS says a
    proxy in front of the app sets it (else anyone could pick their own address per request)."""
    hops = getattr(settings, "TWIN_TRUSTED_PROXY_HOPS", 0)
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "unknown")


def _hit(scope: str, kind: str, key: str, limit: int, window: int) -> int:
    """Count one request; returns the seconds until the window resets when over ``limit``, else 0."""
    now = int(time.time())
    start = now - now % window
    digest = hashlib.sha256(key.lower().encode()).hexdigest()[:32]
    name = f"twin-rate:{scope}:{kind}:{digest}:{start}"
    cache.add(name, 0, timeout=window + 5)
    try:
        count = cache.incr(name)
    except ValueError:  # evicted between add and incr
        cache.set(name, 1, timeout=window + 5)
        count = 1
    return start + window - now if count > limit else 0


def check(request, scope: str, account: str | None = None) -> int:
    """Seconds to wait when ``request`` is over a limit of ``scope``, else 0 (and it is counted)."""
    limits = settings.RATE_LIMITS.get(scope, {})
    wait = 0
    keys = {"ip": client_ip(request), "account": account}
    for kind, (limit, window) in limits.items():
        if keys.get(kind):
            wait = max(wait, _hit(scope, kind, keys[kind], limit, window))
    return wait


def too_many(request, wait: int) -> HttpResponse:
    minutes = max(1, round(wait / 60))
    message = f"Too many attempts. Please wait {minutes} minute{'s' if minutes != 1 else ''} and try again."
    body = render_to_string("rate_limited.html", {"message": message}, request=request)
    response = HttpResponse(body, status=429)
    response["Retry-After"] = str(wait)
    return response


def rate_limited(scope: str, account=None):
    """Limit POSTs to a view; ``account(request)`` names the account the request is about."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method == "POST":
                who = account(request) if account else None
                wait = check(request, scope, who)
                if wait:
                    return too_many(request, wait)
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def posted_email(request) -> str | None:
    return (request.POST.get("username") or request.POST.get("email") or "").strip() or None


def signed_in_user(request) -> str | None:
    return str(request.user.pk) if request.user.is_authenticated else None
