"""A small threaded HTTP server on 127.0.0.1 that answers each GET or HEAD with a :class:`Reply`.

The base of the demo's sample site (:mod:`demo.site`) and of the tests' fixture server
(``testing.fixture_server``, which imports it from here: demo is packaged, testing is not). A
subclass of :class:`HTTPSite` says what a path serves in :meth:`HTTPSite.reply_for`; the handler
sleeps ``delay``, trickles the head of a slowloris reply, gzips a large text reply when the client
accepts it, and ignores clients that hang up.
"""

from __future__ import annotations

import gzip
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

HTML = "text/html; charset=utf-8"


@dataclass
class Reply:
    body: bytes = b""
    content_type: str = HTML
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0  # seconds between single bytes of the status line and headers (a slowloris reply)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that gave up on a slow reply hung up: expected here
        super().handle_error(request, client_address)


class ReplyHandler(BaseHTTPRequestHandler):
    """Serves ``site.reply_for(path)``; :class:`HTTPSite` binds ``site`` in a subclass made per server."""

    site: HTTPSite
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stalls
    compressible: tuple[str, ...] = ("text/", "application/json")  # content types gzipped when the client asks

    def do_GET(self) -> None:
        self._send(self.site.reply_for(self.path), with_body=True)

    def do_HEAD(self) -> None:
        self._send(self.site.reply_for(self.path), with_body=False)

    def _send(self, reply: Reply, *, with_body: bool) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.trickle:
            return self._trickle(reply, with_body=with_body)
        body, headers = reply.body, dict(reply.headers)
        if (
            "gzip" in self.headers.get("Accept-Encoding", "")
            and "Content-Encoding" not in headers
            and reply.content_type.startswith(self.compressible)
            and len(body) > 1024
        ):
            body = gzip.compress(body, mtime=0)
            headers["Content-Encoding"] = "gzip"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if with_body:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _trickle(self, reply: Reply, *, with_body: bool) -> None:
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: {reply.content_type}\r\n"
            + "".join(f"X-Padding-{n}: {'x' * 40}\r\n" for n in range(50))
            + f"Content-Length: {len(reply.body)}\r\n\r\n"
        ).encode()
        try:
            for byte in head:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(reply.trickle)
            if with_body:
                self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args) -> None:
        pass


class HTTPSite:
    """A :class:`QuietServer` on ``host:port`` (0: a free port) whose requests a subclass answers.

    ``routes`` and ``hits`` (a :class:`~collections.Counter` of paths) are for the subclass to fill,
    under ``_lock``; :meth:`start` serves from a daemon thread, :meth:`stop` (or leaving the
    ``with`` block) shuts the server down and closes its socket.
    """

    handler_class: type[ReplyHandler] = ReplyHandler
    thread_name: str | None = None  # None: threading's default name

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.routes: dict[str, Reply] = {}
        self.hits: Counter = Counter()
        self._lock = threading.Lock()
        handler = type("Handler", (self.handler_class,), {"site": self})
        self.httpd = QuietServer((host, port), handler)
        self.host = host
        self.port = self.httpd.server_address[1]
        self.base = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(target=self.httpd.serve_forever, name=self.thread_name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self.httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def url(self, path: str) -> str:
        return self.base + path

    def reply_for(self, raw_path: str) -> Reply:
        raise NotImplementedError
