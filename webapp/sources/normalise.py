"""Validation and normalisation of what users type as a source, per platform.

Each platform accepts the forms its crawler accepts (see crawlers/README.md) and stores one canonical
URL, so the same profile typed two ways is one source:

- medium: ``@handle``, ``medium.com/@handle``, ``handle.medium.com``, a feed URL or a publication
  -> ``https://medium.com/@handle`` / ``https://handle.medium.com`` / ``https://medium.com/<publication>``
- substack: ``name``, ``name.substack.com`` or any URL of the publication (posts, archive, feed), or a
  custom domain -> the publication's base URL
- github: ``user``, ``@user`` or any ``github.com/user/...`` URL -> ``https://github.com/user``
- linkedin: a post (``/posts/...``, ``/feed/update/...``) or article (``/pulse/...``) URL; a profile
  (``/in/<slug>``) is refused with the way in that works: the member's data export
- web: any http(s) article, blog post or PDF URL (tracking parameters and fragments dropped)
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ValidationError

from twin.core.vocabulary import detect_platform, host_matches, without_tracking_params

MEDIUM_HANDLE = re.compile(r"^@[A-Za-z0-9_.-]{1,64}$")
GITHUB_USER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
SUBSTACK_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
LINKEDIN_PATHS = ("in", "posts", "pulse", "feed")
GITHUB_RESERVED = {"orgs", "settings", "explore", "topics", "marketplace", "about", "login", "features", "search"}


def _parse_url(raw: str, *, allow_private: bool) -> tuple[str, str, str, str]:
    """(scheme, host[:port], path, query) of an http(s) URL, host lower-cased; ValidationError if not one."""
    raw = raw.strip()
    if not raw:
        raise ValidationError("Enter a URL.", code="required")
    if any(ch.isspace() for ch in raw):
        raise ValidationError("A URL cannot contain spaces.", code="invalid")
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("Only http:// and https:// URLs can be collected.", code="scheme")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host or ("." not in host and host != "localhost" and ":" not in host):
        raise ValidationError(f"{raw!r} is not a valid web address.", code="invalid")
    if parts.username or parts.password:
        raise ValidationError("URLs with a user name or password are not accepted.", code="credentials")
    if not allow_private and _is_private_host(host):
        raise ValidationError(
            "That address points to a private or local network and cannot be collected.", code="private"
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise ValidationError(f"{raw!r} has an invalid port.", code="invalid") from exc
    netloc = f"[{host}]" if ":" in host else host
    if port and not ((parts.scheme == "https" and port == 443) or (parts.scheme == "http" and port == 80)):
        netloc = f"{netloc}:{port}"
    return parts.scheme.lower(), netloc, parts.path, parts.query


def _is_private_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost") or host == "metadata.google.internal":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False  # a name: the crawler checks what it resolves to before every request
    return not address.is_global


def _segments(path: str) -> list[str]:
    return [segment for segment in path.split("/") if segment]


def normalise_medium(raw: str, *, allow_private: bool = False) -> str:
    raw = raw.strip()
    if raw.startswith("@"):
        if not MEDIUM_HANDLE.match(raw):
            raise ValidationError("A Medium handle looks like @yourname.", code="invalid")
        return f"https://medium.com/{raw.lower()}"
    scheme, netloc, path, _ = _parse_url(raw, allow_private=allow_private)
    host = netloc.split(":")[0]
    segments = _segments(path)
    if host in ("medium.com", "www.medium.com"):
        if segments and segments[0] == "feed":
            segments = segments[1:]
        if not segments:
            raise ValidationError("Give your Medium profile (medium.com/@you), not the home page.", code="invalid")
        first = segments[0]
        if first.startswith("@"):
            if not MEDIUM_HANDLE.match(first):
                raise ValidationError("A Medium handle looks like @yourname.", code="invalid")
            return f"https://medium.com/{first.lower()}"
        return f"https://medium.com/{first.lower()}"  # a publication
    if host.endswith(".medium.com"):
        return f"https://{host}"
    # A custom domain of a Medium publication: a feed URL is kept as given, else the feed is <domain>/feed.
    if "feed" in segments:
        return f"{scheme}://{netloc}{path.rstrip('/')}"
    return f"{scheme}://{netloc}"


def normalise_substack(raw: str, *, allow_private: bool = False) -> str:
    raw = raw.strip().rstrip("/")
    if SUBSTACK_NAME.match(raw.lower()) and "." not in raw:
        return f"https://{raw.lower()}.substack.com"
    scheme, netloc, path, _ = _parse_url(raw, allow_private=allow_private)
    host = netloc.split(":")[0]
    if host in ("substack.com", "www.substack.com"):
        segments = _segments(path)
        if segments and segments[0].startswith("@"):
            raise ValidationError(
                "Give your publication's address (yourname.substack.com), not your Substack profile.", code="profile"
            )
        raise ValidationError("Give your publication's address, such as https://yourname.substack.com.", code="invalid")
    prefix = re.split(r"/(?:p|archive|feed|api|about|s|podcast)(?:/|$)", path, maxsplit=1)[0].rstrip("/")
    if host.endswith(".substack.com"):
        return f"https://{host}"
    return f"{scheme}://{netloc}{prefix}"


def normalise_github(raw: str, *, allow_private: bool = False) -> str:
    raw = raw.strip()
    candidate = raw.lstrip("@")
    if "/" not in candidate and "." not in candidate:
        username = candidate
    else:
        _, netloc, path, _ = _parse_url(candidate, allow_private=allow_private)
        host = netloc.split(":")[0]
        if host not in ("github.com", "www.github.com"):
            raise ValidationError(
                "That is not a github.com address; give your GitHub username or profile URL.", code="host"
            )
        segments = _segments(path)
        if not segments:
            raise ValidationError("Add your username: https://github.com/yourname.", code="invalid")
        username = segments[0]
    if not GITHUB_USER.match(username) or username.lower() in GITHUB_RESERVED:
        raise ValidationError(f"{username!r} is not a valid GitHub username.", code="invalid")
    return f"https://github.com/{username}"


PROFILE_NEEDS_EXPORT = (
    "LinkedIn shows a profile's posts only to signed-in members, so a profile cannot be collected. Upload your "
    "LinkedIn data export instead (LinkedIn: Settings > Data privacy > Get a copy of your data; below, "
    "'Upload an export'), or add the URLs of single posts and articles."
)


def normalise_linkedin(raw: str, *, allow_private: bool = False) -> str:
    _, netloc, path, query = _parse_url(raw, allow_private=allow_private)
    host = netloc.split(":")[0]
    if host == "lnkd.in":
        return f"https://lnkd.in{path.rstrip('/')}"
    if not host_matches(host, ("linkedin.com",)):
        raise ValidationError("That is not a linkedin.com address.", code="host")
    segments = _segments(path)
    if not segments or segments[0] not in LINKEDIN_PATHS or len(segments) < 2:
        raise ValidationError("Give a LinkedIn post or article URL.", code="invalid")
    if segments[0] == "in":
        raise ValidationError(PROFILE_NEEDS_EXPORT, code="linkedin_profile")
    clean = without_tracking_params(query)
    return urlunsplit(("https", "www.linkedin.com", "/" + "/".join(segments), clean, ""))


def normalise_web(raw: str, *, allow_private: bool = False) -> str:
    scheme, netloc, path, query = _parse_url(raw, allow_private=allow_private)
    return urlunsplit((scheme, netloc, path or "/", without_tracking_params(query), ""))


NORMALISERS = {
    "medium": normalise_medium,
    "substack": normalise_substack,
    "github": normalise_github,
    "linkedin": normalise_linkedin,
    "web": normalise_web,
}


def normalise_source(platform: str, raw: str, *, allow_private: bool = False) -> tuple[str, str]:
    """(platform, canonical URL) for what the user typed; ``platform`` may be ``"auto"``."""
    raw = (raw or "").strip()
    if not raw:
        raise ValidationError("Enter a URL, handle or username.", code="required")
    if len(raw) > 2000:
        raise ValidationError("That URL is too long (2,000 characters at most).", code="max_length")
    if platform in ("", "auto", None):
        platform = detect_platform(raw)
    if platform not in NORMALISERS:
        raise ValidationError(f"Unknown platform {platform!r}.", code="platform")
    return platform, NORMALISERS[platform](raw, allow_private=allow_private)


PUBLICATION_NEEDS_CONFIRMATION = (
    "This is a publication, which can hold other people's posts: your twin learns your voice only from your "
    'own writing. Tick "Only my own writing" if every post in it is yours, or add your Medium profile '
    "(@you) instead."
)


def is_publication(platform: str, url: str) -> bool:
    """A Substack publication, or a Medium publication (not an ``@handle`` profile): may hold other authors' posts."""
    return platform == "substack" or (platform == "medium" and not url.startswith("https://medium.com/@"))
