"""The words every layer shares: the platforms and kinds of documents, how a source URL is
recognised and cleaned, and the ids dbt computes (mirrored here for Python readers).

The crawlers, the web app's source forms and the CLI all use these, so one URL typed two ways
stays one source and one document.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

PLATFORMS = ("linkedin", "medium", "substack", "github", "web")
KINDS = ("post", "article", "repository_file", "paper", "link")
EXPORT_PLATFORMS = ("linkedin", "medium", "substack")  # the platforms whose data export can be imported
PLATFORM_HOSTS = {
    "medium": ("medium.com",),
    "substack": ("substack.com",),
    "github": ("github.com",),
    "linkedin": ("linkedin.com", "lnkd.in"),
}
# Query parameters that say where a click came from, not what the page is (Medium's `source`,
# Substack's `sk`, LinkedIn's `trk`/`trackingId`, the usual utm_*/click ids).
TRACKING_PARAMS = re.compile(r"^(utm_\w+|source|sk|fbclid|gclid|mc_cid|mc_eid|ref_src|trk|trackingId)$", re.IGNORECASE)


def host_matches(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == domain or host.endswith("." + domain) for domain in domains)


def detect_platform(source: str) -> str:
    """The platform a URL (or ``@handle``) belongs to; anything unrecognised is a plain web link."""
    source = source.strip()
    if source.startswith("@"):
        return "medium"
    host = (urlsplit(source if "://" in source else "https://" + source).hostname or "").lower()
    for platform, domains in PLATFORM_HOSTS.items():
        if host_matches(host, domains):
            return platform
    return "web"


def without_tracking_params(query: str) -> str:
    """A query string without its tracking parameters."""
    kept = [(key, value) for key, value in parse_qsl(query, keep_blank_values=True) if not TRACKING_PARAMS.match(key)]
    return urlencode(kept)


def without_tracking(url: str) -> str:
    """The URL without its fragment and tracking parameters."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=without_tracking_params(parts.query), fragment=""))


def document_id(user_id: int, source_url: str) -> str:
    """The stable id dbt gives a document: ``md5(user_id || '|' || source_url)`` in marts.documents."""
    return hashlib.md5(f"{user_id}|{source_url}".encode()).hexdigest()


def split_bucket(document_id: str) -> int:
    """0-99, from the document id, as marts.sft_samples computes it: the bucket decides the split."""
    return int(hashlib.md5(document_id.encode()).hexdigest()[:4], 16) % 100
