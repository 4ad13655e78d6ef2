"""A local HTTP server on 127.0.0.1 that plays Medium, Substack, GitHub, LinkedIn and an ordinary blog.

Payloads come from ``site/`` next to this file (``{BASE}`` inside them becomes the server's own URL);
the GitHub tarball and the PDF are built when the server starts. Tests change what a path serves with
:meth:`FixtureServer.set` and see what was asked for in :attr:`FixtureServer.hits`.

``bench_pages=N`` serves N generated articles at ``/bench/article-{0..N-1}.html`` (the crawl benchmark);
``latency=(low, high)`` makes those pages and ``/robots.txt`` answer like a real site, each after a delay
drawn uniformly from ``[low, high]`` seconds by a seeded RNG (``latency_seed``): the same sequence each run.
``/bench-window`` answers how long the crawl took by the server's clock, from the first request for a bench
page or robots.txt to the last response (JSON: ``seconds``, ``requests``), whatever its client's start-up.
"""

from __future__ import annotations

import dataclasses
import io
import json
import random
import tarfile
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from demo.http_site import HTML, HTTPSite, Reply

FIXTURES = Path(__file__).parent / "site"
RSS = "application/rss+xml; charset=utf-8"
JSON = "application/json; charset=utf-8"
ARCHIVE_PAGE_CAP = 2  # like Substack, the server caps the archive page size whatever `limit` asks


def make_pdf(lines: list[str], title: str, author: str) -> bytes:
    """A one-page PDF with real text (Helvetica), title, author and creation date."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    stream = "BT /F1 11 Tf 72 720 Td 15 TL " + " ".join(f"({escape(line)}) Tj T*" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        f"<< /Title ({escape(title)}) /Author ({escape(author)}) /CreationDate (D:20240115090000Z) >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1"))
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 6 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


PAPER_LINES = [
    "Hybrid Retrieval for Personal Writing Assistants",
    "Lin Chen, Ada Lovelace",
    "Abstract. We show that combining dense and lexical retrieval",
    "improves answer quality for assistants that write in a user's voice.",
]


def make_repository_tarball(folder: Path, top: str) -> bytes:
    """A GitHub-style tarball (one top-level folder) of ``folder``, plus a binary and an oversized file."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.add(path, arcname=f"{top}/{path.relative_to(folder).as_posix()}")
        extras = {
            "docs/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(range(256)),
            "src/cachenotes/huge_table.py": b"TABLE = [\n" + b"    0,\n" * 60_000 + b"]\n",
            "src/cachenotes/latin1.txt": "caf\u00e9 cr\u00e8me".encode("latin-1"),
        }
        for name, data in extras.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            info.mtime = 1_700_000_000
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def article_page(number: int) -> bytes:
    paragraphs = "".join(
        f"<p>Paragraph {p} of article {number}: caches, queues and the people who run them, written out at length "
        f"so the page has the size of a real blog post with enough words for the extractor to keep.</p>"
        for p in range(1, 7)
    )
    return (
        f"<!DOCTYPE html><html><head><title>Field note {number}</title>"
        f'<link rel="canonical" href="https://fieldnotes.example.org/notes/{number}/"></head><body>'
        f'<nav><a href="/">Home</a></nav><article><h1>Field note {number}</h1>{paragraphs}</article>'
        f"<footer>&copy; 2024</footer></body></html>"
    ).encode()


class FixtureServer(HTTPSite):
    def __init__(
        self, bench_pages: int = 0, latency: tuple[float, float] | None = None, latency_seed: int = 0, port: int = 0
    ):
        if latency is not None and not 0 <= latency[0] <= latency[1]:
            raise ValueError(f"latency must be (low, high) seconds with 0 <= low <= high, not {latency!r}")
        super().__init__(port=port)
        # socketserver's accept backlog (5) drops connections when a crawler opens its 16 at once: each of
        # those waits out a SYN retransmission (a second) before its first request. A real site's is larger.
        self.httpd.socket.listen(128)
        self.bench_pages = bench_pages
        self.latency = latency if latency and latency[1] > 0 else None
        self._latency_rng = random.Random(latency_seed)
        self._window: list[float] = []  # monotonic time of the first bench request, of the last response
        self._window_requests = 0
        self._flaky: dict[str, int] = {}
        self._load()

    def payload(self, relative: str) -> bytes:
        return (FIXTURES / relative).read_bytes().replace(b"{BASE}", self.base.encode())

    def set(self, path: str, body: bytes | str, content_type: str = HTML, status: int = 200, **kwargs) -> None:
        with self._lock:
            self.routes[path] = Reply(body.encode() if isinstance(body, str) else body, content_type, status, **kwargs)

    def fail_first(self, path: str, times: int, reply: Reply) -> None:
        """Serve ``reply`` for the first ``times`` requests of ``path``, then its normal payload."""
        with self._lock:
            self._flaky[path] = times
            self.routes[f"flaky:{path}"] = reply

    def _load(self) -> None:
        self.set("/robots.txt", "User-agent: *\nDisallow: /private/\n", "text/plain")
        self.set("/medium/feed/@ada", self.payload("medium/feed.xml"), RSS)
        self.set("/medium/feed/@grace", self.payload("medium/feed_malformed.xml"), RSS)
        self.set("/medium/feed/@newcomer", self.payload("medium/feed_empty.xml"), RSS)
        self.set("/medium/feed/@walled", self.payload("web/challenge.html"), HTML, 403)
        self.set("/substack/ada/api/v1/archive", self.payload("substack/archive.json"), JSON)
        for post in (FIXTURES / "substack" / "posts").glob("*.json"):
            self.set(f"/substack/ada/api/v1/posts/{post.stem}", self.payload(f"substack/posts/{post.name}"), JSON)
        self.set("/substack/rss-only/feed", self.payload("substack/feed.xml"), RSS)
        self.set("/substack/broken/api/v1/archive", b'[{"id": 1, "slug": "x", ', JSON)
        self.set("/substack/broken/feed", b"<html><body>Internal error</body></html>", HTML, 500)
        page2 = self.url("/github/users/ada/repos?per_page=100&type=owner&sort=pushed&page=2")
        last = f'<{page2}>; rel="next", <{page2}>; rel="last"'
        self.set("/github/users/ada/repos", self.payload("github/repos_page1.json"), JSON, headers={"Link": last})
        self.set(
            "/github/users/ada/repos?page=2",
            self.payload("github/repos_page2.json"),
            JSON,
            headers={"Link": f'<{self.url("/github/users/ada/repos?page=1")}>; rel="prev"'},
        )
        tarball = make_repository_tarball(FIXTURES / "github" / "repos" / "ada-cache-notes", "ada-cache-notes-5f3e2a1")
        self.set(
            "/github/repos/ada/cache-notes/tarball/main",
            b"",
            status=302,
            headers={"Location": self.url("/codeload/ada/cache-notes/legacy.tar.gz/refs/heads/main")},
        )
        self.set(
            "/codeload/ada/cache-notes/legacy.tar.gz/refs/heads/main",
            tarball,
            "application/x-gzip",
            headers={"Content-Disposition": "attachment; filename=ada-cache-notes-5f3e2a1.tar.gz"},
        )
        self.set("/github/users/nobody/repos", b"[]", JSON)
        self.set(
            "/github/users/limited/repos",
            b'{"message": "API rate limit exceeded for 203.0.113.7.", '
            b'"documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"}',
            JSON,
            403,
            headers={
                "X-RateLimit-Limit": "60",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Used": "60",
                "X-RateLimit-Reset": str(int(time.time()) + 3600),
                "X-RateLimit-Resource": "core",
            },
        )
        self.set("/web/article.html", self.payload("web/article.html"))
        self.set(
            "/web/paper.pdf",
            make_pdf(PAPER_LINES, "Hybrid Retrieval for Personal Writing Assistants", "Lin Chen"),
            "application/pdf",
        )
        self.set("/web/challenge.html", self.payload("web/challenge.html"), HTML, 403)
        self.set("/web/moved", b"", status=301, headers={"Location": "/web/article.html"})
        self.set("/web/missing", b"<h1>Not Found</h1>", HTML, 404)
        self.set("/web/error", b"<h1>Internal Server Error</h1>", HTML, 500)
        self.set("/web/slow", b"<p>too late</p>", HTML, delay=5.0)
        self.set("/web/trickle", b"<p>never reached</p>", HTML, trickle=0.2)
        self.set("/web/photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 4096, "image/jpeg")
        self.set("/web/big.html", b"<p>" + b"word " * 400_000 + b"</p>")
        self.set("/private/notes.html", self.payload("web/article.html"))
        self.set("/linkedin/posts/adalovelace_shipping-small", self.payload("linkedin/post.html"))
        self.set(
            "/linkedin/posts/adalovelace_walled",
            b"",
            status=302,
            headers={"Location": "/linkedin/authwall?trk=public_post&sessionRedirect=%2Fposts%2Fadalovelace_walled"},
        )
        self.set("/linkedin/authwall", self.payload("linkedin/authwall.html"))

    def reply_for(self, raw_path: str) -> Reply:
        parts = urlsplit(raw_path)
        query = parse_qs(parts.query)
        with self._lock:
            self.hits[parts.path] += 1
            if self._flaky.get(parts.path, 0) > 0:
                self._flaky[parts.path] -= 1
                return self.routes[f"flaky:{parts.path}"]
            if parts.path == "/bench-window":
                return Reply(json.dumps(self.bench_window()).encode(), JSON)
            if parts.path.startswith("/bench/") and self.bench_pages:
                number = int(parts.path.rsplit("-", 1)[-1].split(".")[0])
                if number >= self.bench_pages:
                    return Reply(b"not found", status=404, delay=self._delay())
                return Reply(article_page(number), delay=self._delay())
            if parts.path == "/robots.txt" and self.bench_pages and parts.path in self.routes:
                return dataclasses.replace(self.routes[parts.path], delay=self._delay())
            if parts.path.endswith("/api/v1/archive") and parts.path in self.routes:
                return self._archive_page(self.routes[parts.path], query)
            if "page" in query and f"{parts.path}?page={query['page'][0]}" in self.routes:
                return self.routes[f"{parts.path}?page={query['page'][0]}"]
            return self.routes.get(parts.path) or Reply(b"<h1>Not Found</h1>", HTML, 404)

    def _delay(self) -> float:
        """A bench page's or robots.txt's response time (0 without ``latency``), noted in the window; under ``_lock``."""
        delay = self._latency_rng.uniform(*self.latency) if self.latency else 0.0
        now = time.monotonic()
        if not self._window:
            self._window = [now, now]
        self._window[1] = max(self._window[1], now + delay)
        self._window_requests += 1
        return delay

    def bench_window(self) -> dict:
        """Seconds from the first request for a bench page or robots.txt to the last response, and how many."""
        seconds = self._window[1] - self._window[0] if self._window else 0.0
        return {"seconds": seconds, "requests": self._window_requests}

    @staticmethod
    def _archive_page(reply: Reply, query: dict) -> Reply:
        try:
            entries = json.loads(reply.body)
        except json.JSONDecodeError:
            return reply
        offset = int(query.get("offset", ["0"])[0])
        limit = min(int(query.get("limit", ["12"])[0]), ARCHIVE_PAGE_CAP)
        page = entries[offset : offset + limit]
        if offset and page:  # a post published between two page requests shifts the newest one onto this page
            page = [entries[offset - 1]] + page
        return Reply(json.dumps(page).encode(), JSON)


def latency_ms(text: str) -> tuple[float, float] | None:
    """``"50,150"`` (milliseconds) -> ``(0.05, 0.15)`` seconds; ``"100"`` -> ``(0.1, 0.1)``; ``"0"`` -> None."""
    try:
        parts = [float(part) / 1000 for part in text.split(",")]
    except ValueError:
        raise ValueError(f"expected LOW,HIGH milliseconds, not {text!r}") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or not 0 <= parts[0] <= parts[1]:
        raise ValueError(f"expected LOW,HIGH milliseconds with 0 <= LOW <= HIGH, not {text!r}")
    return (parts[0], parts[1]) if parts[1] > 0 else None


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Serve the fixture sites (and generated /bench/ articles).")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    parser.add_argument("--bench-pages", type=int, default=500, help="articles at /bench/article-N.html (500)")
    parser.add_argument(
        "--latency-ms", default="0", metavar="LOW,HIGH", help="response time of /bench/ pages and robots.txt (0)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the response times")
    args = parser.parse_args()
    try:
        latency = latency_ms(args.latency_ms)
    except ValueError as exc:
        parser.error(str(exc))
    server = FixtureServer(bench_pages=args.bench_pages, latency=latency, latency_seed=args.seed, port=args.port)
    with server:
        print(f"serving fixtures at {server.base} (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
