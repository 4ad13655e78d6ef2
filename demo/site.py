"""The local sample site: the bundled persona served the way the real platforms serve it.

The demo cannot reach Medium, Substack, GitHub or LinkedIn, so this small threaded HTTP server on
127.0.0.1 plays them, with the same URLs shapes, payloads and paging our collectors meet for real:

=====================  =====================================================================
path                   plays
=====================  =====================================================================
``/medium/feed/@elenavarga``          Medium's RSS feed (``content:encoded`` full HTML)
``/substack/elenavarga``              a Substack publication base URL: ``/api/v1/archive``
                                      (paged, page size capped by the server),
                                      ``/api/v1/posts/<slug>`` (``body_html``), ``/feed`` (RSS)
``/github``                           the GitHub REST API base (``TWIN_GITHUB_API_URL``):
                                      ``/users/elenavarga/repos`` (``Link`` paging),
                                      ``/repos/elenavarga/runbook-lint/tarball/main`` -> 302 to
                                      ``/codeload/...`` (the tarball, built from a folder)
``/linkedin/<name>.zip``              the member's LinkedIn data export, built from a folder
``/news/<slug>``                      an article by someone else (``demo/news``): the link the demo shares
``/robots.txt``                       allows everything
=====================  =====================================================================

Canonical URLs inside the payloads stay the public ones (``https://medium.com/@elenavarga/...``,
``https://elenavarga.substack.com/p/...``, ``https://github.com/elenavarga/...``), as on the
real platforms; ``{BASE}`` inside a payload becomes this server's own URL.

Python::

    with SampleSite() as site:                      # a free port; SampleSite(port=8765) for a fixed one
        site.sources()                              # [(platform, url), ...] for the demo user
        site.crawl_env()                            # env the collectors need to reach it
        site.linkedin_export_zip()                  # bytes of the export, for import_export("linkedin", ...)

Command line: ``python -m demo.site --port 8765`` (``--help``).
"""

from __future__ import annotations

import argparse
import gzip
import html
import io
import json
import sys
import tarfile
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from demo.http_site import HTML, HTTPSite, Reply, ReplyHandler

PERSONA = Path(__file__).resolve().parent / "persona"
NEWS = Path(__file__).resolve().parent / "news"  # articles by others, for the demo's "new link"
SHARED_ARTICLE = "alert-budgets"
NAME = "Elena Varga"
HANDLE = "elenavarga"
REPOSITORY = "runbook-lint"
REPOSITORY_COMMIT = "3e9c1a7"  # the short sha GitHub puts in the tarball's top folder name
LINKEDIN_EXPORT_NAME = "Basic_LinkedInDataExport_11-25-2026"
ARCHIVE_PAGE_CAP = 3  # like Substack, the archive API caps the page size whatever `limit` asks
GITHUB_PAGE_CAP = 2  # repositories per page of /users/<u>/repos, so the Link header paging is exercised
FIXED_TIME = (2026, 11, 25, 9, 0, 0)  # archive member times: the same bytes on every build

RSS = "application/rss+xml; charset=utf-8"
JSON = "application/json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
SKIPPED_NAMES = {"__pycache__", ".pytest_cache", ".DS_Store"}


def _persona_files(folder: Path) -> list[Path]:
    """Files under ``folder`` in a stable order, without caches a local run may have left behind."""
    return [
        path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not SKIPPED_NAMES.intersection(path.relative_to(folder).parts) and path.suffix != ".pyc"
    ]


def build_linkedin_export(folder: Path = PERSONA / "linkedin", top: str = LINKEDIN_EXPORT_NAME) -> bytes:
    """The LinkedIn data export zip (``<top>/Shares.csv``, ``Profile.csv``, ``Articles/Articles/*.html``) of ``folder``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _persona_files(folder):
            info = zipfile.ZipInfo(f"{top}/{path.relative_to(folder).as_posix()}", date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def build_repository_tarball(
    folder: Path = PERSONA / "github" / "repos" / REPOSITORY, top: str = f"{HANDLE}-{REPOSITORY}-{REPOSITORY_COMMIT}"
) -> bytes:
    """A GitHub-style ``.tar.gz`` snapshot of ``folder``: everything under one top-level folder ``top``."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in _persona_files(folder):
            data = path.read_bytes()
            info = tarfile.TarInfo(f"{top}/{path.relative_to(folder).as_posix()}")
            info.size, info.mtime, info.mode = len(data), 1_791_110_400, 0o644
            archive.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


class _Handler(ReplyHandler):
    compressible = (*ReplyHandler.compressible, "application/rss+xml")
    server_version = "sample-site/1.0"


class SampleSite(HTTPSite):
    """The persona's Medium feed, Substack publication, GitHub account and LinkedIn export on one local server."""

    handler_class = _Handler
    thread_name = "sample-site"

    def __init__(self, port: int = 0, host: str = "127.0.0.1"):
        super().__init__(host=host, port=port)
        self._load()

    # --- what the demo user adds -------------------------------------------------------------
    @property
    def medium_feed_url(self) -> str:
        return self.url(f"/medium/feed/@{HANDLE}")

    @property
    def substack_url(self) -> str:
        return self.url(f"/substack/{HANDLE}")

    @property
    def github_api_url(self) -> str:
        """What ``TWIN_GITHUB_API_URL`` must be for the GitHub collector to find the persona's account here."""
        return self.url("/github")

    @property
    def github_profile_url(self) -> str:
        """The source a user adds for GitHub (the public profile; the API base comes from the env)."""
        return f"https://github.com/{HANDLE}"

    @property
    def shared_article_url(self) -> str:
        """An article by someone else that the demo shares as a new link."""
        return self.url(f"/news/{SHARED_ARTICLE}")

    @property
    def linkedin_export_url(self) -> str:
        return self.url(f"/linkedin/{LINKEDIN_EXPORT_NAME}.zip")

    def sources(self) -> list[tuple[str, str]]:
        """``(platform, url)`` of each source the demo user adds; the LinkedIn export is imported, not crawled."""
        return [("medium", self.medium_feed_url), ("substack", self.substack_url), ("github", self.github_profile_url)]

    def crawl_env(self, *, polite: bool = True) -> dict[str, str]:
        """Env the collectors need to reach this site: private addresses allowed, the GitHub API here.

        ``polite=False`` also turns off robots.txt, delays and AutoThrottle (tests); with it on, the
        whole persona takes ~15 s more to crawl because of the per-domain delay.
        """
        env = {"TWIN_ALLOW_PRIVATE_URLS": "true", "TWIN_GITHUB_API_URL": self.github_api_url}
        if not polite:
            env["TWIN_CRAWL_POLITE"] = "false"
        return env

    def linkedin_export_zip(self) -> bytes:
        return self._linkedin_zip

    # --- routes ------------------------------------------------------------------------------
    def payload(self, relative: str) -> bytes:
        return (PERSONA / relative).read_bytes().replace(b"{BASE}", self.base.encode())

    def _load(self) -> None:
        self._linkedin_zip = build_linkedin_export()
        self._repos = json.loads(self.payload("github/repos.json"))
        routes = self.routes
        routes["/robots.txt"] = Reply(b"User-agent: *\nAllow: /\n", TEXT)
        for article in sorted(NEWS.glob("*.html")):
            routes[f"/news/{article.stem}"] = Reply(article.read_bytes())
        routes["/"] = Reply(self._index_page())
        routes[f"/medium/feed/@{HANDLE}"] = Reply(self.payload("medium/feed.xml"), RSS)
        substack = f"/substack/{HANDLE}"
        routes[f"{substack}/feed"] = Reply(self.payload("substack/feed.xml"), RSS)
        self._archive = json.loads(self.payload("substack/archive.json"))
        for post in sorted((PERSONA / "substack" / "posts").glob("*.json")):
            routes[f"{substack}/api/v1/posts/{post.stem}"] = Reply(self.payload(f"substack/posts/{post.name}"), JSON)
        api = f"/github/users/{HANDLE}"
        routes[api] = Reply(self.payload("github/user.json"), JSON, headers=self._rate_headers())
        for repo in self._repos:
            routes[f"/github/repos/{repo['full_name']}"] = Reply(
                json.dumps(repo, indent=1).encode(), JSON, headers=self._rate_headers()
            )
        codeload = f"/codeload/{HANDLE}/{REPOSITORY}/legacy.tar.gz/refs/heads/main"
        routes[f"/github/repos/{HANDLE}/{REPOSITORY}/tarball/main"] = Reply(
            b"", status=302, headers={"Location": self.url(codeload), **self._rate_headers()}
        )
        routes[codeload] = Reply(
            build_repository_tarball(),
            "application/x-gzip",
            headers={"Content-Disposition": f"attachment; filename={HANDLE}-{REPOSITORY}-{REPOSITORY_COMMIT}.tar.gz"},
        )
        routes[f"/linkedin/{LINKEDIN_EXPORT_NAME}.zip"] = Reply(
            self._linkedin_zip,
            "application/zip",
            headers={"Content-Disposition": f"attachment; filename={LINKEDIN_EXPORT_NAME}.zip"},
        )

    @staticmethod
    def _rate_headers() -> dict:
        return {
            "X-RateLimit-Limit": "60",
            "X-RateLimit-Remaining": "59",
            "X-RateLimit-Used": "1",
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Resource": "core",
            "X-GitHub-Api-Version-Selected": "2022-11-28",
        }

    def reply_for(self, raw_path: str) -> Reply:
        parts = urlsplit(raw_path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        path = parts.path.rstrip("/") or "/"
        with self._lock:
            self.hits[path] += 1
        try:
            if path == f"/substack/{HANDLE}/api/v1/archive":
                return self._archive_page(query)
            if path == f"/github/users/{HANDLE}/repos":
                return self._repos_page(path, query)
        except ValueError:
            return Reply(b'{"message": "Invalid request"}', JSON, 400)
        if path == f"/substack/{HANDLE}":
            return Reply(self._publication_page())
        return self.routes.get(path) or Reply(b"<h1>Not Found</h1>", HTML, 404)

    def _archive_page(self, query: dict) -> Reply:
        offset = max(0, int(query.get("offset", "0")))
        limit = max(1, min(int(query.get("limit", "12")), ARCHIVE_PAGE_CAP))
        entries = self._archive if query.get("sort", "new") == "new" else list(reversed(self._archive))
        return Reply(json.dumps(entries[offset : offset + limit], ensure_ascii=False).encode(), JSON)

    def _repos_page(self, path: str, query: dict) -> Reply:
        page = max(1, int(query.get("page", "1")))
        per_page = max(1, min(int(query.get("per_page", "30")), GITHUB_PAGE_CAP))
        repos = self._repos
        last = max(1, -(-len(repos) // per_page))
        links = []

        def link(number: int, rel: str) -> str:
            return f'<{self.url(path)}?{urlencode({**query, "page": number})}>; rel="{rel}"'

        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        headers = {**self._rate_headers(), **({"Link": ", ".join(links)} if links else {})}
        body = json.dumps(repos[(page - 1) * per_page : page * per_page], indent=1).encode()
        return Reply(body, JSON, headers=headers)

    def _index_page(self) -> bytes:
        rows = "".join(
            f'<li>{html.escape(platform)}: <a href="{html.escape(url)}">{html.escape(url)}</a></li>'
            for platform, url in self.sources()
        )
        return (
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{NAME}: LLM Twin sample persona</title></head>'
            f"<body><h1>{NAME}</h1><p>The LLM Twin demo's sample persona, served locally the way Medium, Substack, "
            f"GitHub and LinkedIn serve it.</p><ul>{rows}"
            f'<li>GitHub API base (TWIN_GITHUB_API_URL): <a href="{self.github_api_url}/users/{HANDLE}/repos">{self.github_api_url}</a></li>'
            f'<li>LinkedIn data export: <a href="{self.linkedin_export_url}">{LINKEDIN_EXPORT_NAME}.zip</a></li>'
            f"</ul></body></html>"
        ).encode()

    def _publication_page(self) -> bytes:
        posts = "".join(
            f'<li><a href="{html.escape(entry["canonical_url"])}">{html.escape(entry["title"])}</a></li>'
            for entry in self._archive
        )
        return (
            f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Small Batches | {NAME} | Substack</title>'
            f'<link rel="alternate" type="application/rss+xml" href="{self.substack_url}/feed"></head>'
            f"<body><h1>Small Batches</h1><ul>{posts}</ul></body></html>"
        ).encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo.site",
        description="Serve the LLM Twin sample persona (Medium feed, Substack publication, GitHub account, "
        "LinkedIn export) on a local HTTP server, the way the real platforms serve it.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument(
        "--write-linkedin-export",
        metavar="PATH",
        help="write the LinkedIn export zip to PATH and exit (for `twin import linkedin PATH`)",
    )
    args = parser.parse_args(argv)
    if args.write_linkedin_export:
        Path(args.write_linkedin_export).write_bytes(build_linkedin_export())
        print(f"wrote {args.write_linkedin_export}")
        return 0
    with SampleSite(port=args.port, host=args.host) as site:
        print(f"sample persona {NAME} at {site.base} (Ctrl-C to stop)")
        for platform, url in site.sources():
            print(f"  {platform:9} {url}")
        print(f"  linkedin  {site.linkedin_export_url}  (import: twin import linkedin <file> --user ...)")
        print("collector env: " + " ".join(f"{key}={value}" for key, value in site.crawl_env().items()), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
