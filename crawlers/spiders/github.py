"""GitHub: a user's own repositories through the REST API (paged by the Link header), then each
repository's README, docs and source files from its tarball. Forks and archived repositories are
skipped unless asked for; rate limits are waited out by :class:`crawlers.middlewares.RateLimitMiddleware`."""

from __future__ import annotations

import tarfile
import zlib
from urllib.parse import quote, urlencode, urlsplit

import httpx
import scrapy

from crawlers.loaders import TextDocumentLoader
from crawlers.repository_files import TarballTooLarge, read_tarball
from crawlers.spiders.base import SourceError, TwinSpider


def github_username(source: str) -> str:
    """``ada``, ``@ada`` or ``https://github.com/ada`` -> ``ada``."""
    source = source.strip().lstrip("@")
    if "/" in source:
        segments = [
            segment
            for segment in urlsplit(source if "://" in source else "https://" + source).path.split("/")
            if segment
        ]
        if not segments:
            raise ValueError(f"no GitHub username in {source!r}")
        return segments[0]
    return source


def next_link(link_header: bytes | None) -> str | None:
    """The ``rel="next"`` URL of a GitHub ``Link`` header (RFC 8288, parsed by httpx: quoted or bare
    ``rel``, relation lists, commas inside URLs); None when there is none."""
    if not link_header:
        return None
    for link in httpx.Response(200, headers=[(b"Link", link_header)]).links.values():
        if "next" in link.get("rel", "").lower().split():
            return link.get("url") or None
    return None


def truthy(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class GitHubSpider(TwinSpider):
    name = "github"
    platform = "github"
    # The REST API is governed by its rate limits, not robots.txt (api.github.com's disallows everything).
    custom_settings = {"ROBOTSTXT_OBEY": False}

    def __init__(self, source: str = "", *args, include_forks=False, include_archived=False, **kwargs):
        super().__init__(source, *args, **kwargs)
        self.username = github_username(self.source)
        self.include_forks = truthy(include_forks)
        self.include_archived = truthy(include_archived)

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.api_url = settings.get("TWIN_GITHUB_API_URL", "https://api.github.com").rstrip("/")
        spider.max_file_bytes = settings.getint("TWIN_GITHUB_MAX_FILE_BYTES", 200_000)
        spider.max_files = settings.getint("TWIN_GITHUB_MAX_FILES", 400)
        spider.max_tarball_bytes = settings.getint("DOWNLOAD_MAXSIZE")
        token = settings.get("TWIN_GITHUB_TOKEN")
        spider.api_headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            secret = token.get_secret_value() if hasattr(token, "get_secret_value") else str(token)
            spider.api_headers["Authorization"] = f"Bearer {secret}"
        return spider

    async def start(self):
        query = urlencode({"per_page": 100, "type": "owner", "sort": "pushed"})
        yield scrapy.Request(
            f"{self.api_url}/users/{quote(self.username)}/repos?{query}",
            headers=self.api_headers,
            callback=self.parse_repos,
            errback=self.on_error,
        )

    def parse_repos(self, response):
        try:
            repos = self.load_json(response)
            if not isinstance(repos, list):
                raise SourceError(f"malformed repository list from {response.url}: expected a JSON list")
        except SourceError as exc:
            self.report(response.url, str(exc), item=False)
            return
        for repo in repos:
            if not isinstance(repo, dict) or not repo.get("full_name"):
                self.report(response.url, "repository entry without a full_name")
                continue
            if (repo.get("fork") and not self.include_forks) or (repo.get("archived") and not self.include_archived):
                self.crawler.stats.inc_value("twin/repositories_skipped")
                continue
            branch = repo.get("default_branch") or "HEAD"
            yield scrapy.Request(
                f"{self.api_url}/repos/{repo['full_name']}/tarball/{quote(branch)}",
                headers=self.api_headers,
                callback=self.parse_tarball,
                errback=self.on_error,
                cb_kwargs={"repo": repo},
                meta={
                    "item_url": repo.get("html_url") or f"https://github.com/{repo['full_name']}",
                    "download_maxsize": self.max_tarball_bytes,
                },
            )
        following = next_link(response.headers.get(b"Link"))
        if following:  # a relative reference is relative to this page (RFC 8288)
            yield scrapy.Request(
                response.urljoin(following), headers=self.api_headers, callback=self.parse_repos, errback=self.on_error
            )

    def parse_tarball(self, response, repo: dict):
        repo_url = response.meta["item_url"]
        try:
            files, skipped = read_tarball(
                response.body,
                max_file_bytes=self.max_file_bytes,
                max_files=self.max_files,
                max_total_bytes=self.max_tarball_bytes * 20,
            )
        except (tarfile.TarError, OSError, EOFError, zlib.error, TarballTooLarge) as exc:
            self.report(repo_url, f"unreadable repository archive: {exc}")
            return
        for reason, count in skipped.items():
            self.crawler.stats.inc_value(f"twin/files_skipped/{reason}", count)
        branch = repo.get("default_branch") or "HEAD"
        for file in files:
            loader = TextDocumentLoader()
            loader.add_value("platform", self.platform)
            loader.add_value("kind", "repository_file")
            loader.add_value("source_url", f"{repo_url}/blob/{quote(branch)}/{quote(file.path)}")
            loader.add_value("title", f"{repo['name'] if repo.get('name') else repo['full_name']}/{file.path}")
            loader.add_value("content", file.text)
            loader.add_value("author", (repo.get("owner") or {}).get("login"))
            loader.add_value("published_at", repo.get("pushed_at"))
            loader.add_value(
                "metadata",
                {
                    "repository": repo["full_name"],
                    "path": file.path,
                    "language": file.language,
                    "repository_language": repo.get("language"),
                    "description": repo.get("description"),
                    "stars": repo.get("stargazers_count"),
                    "default_branch": branch,
                    "license": (repo.get("license") or {}).get("spdx_id"),
                    "topics": repo.get("topics"),
                },
            )
            yield loader.load_item()
