"""A stand-in for the serving app's ``POST /v1/posts`` on 127.0.0.1, speaking the same contract
(bearer token, JSON or Server-Sent Events), so the web app's client is tested over real HTTP.

The real Ray Serve app replaces it in the end-to-end test; point TWIN_SERVING_URL at either.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "test-serving-token"


def make_response(body: dict) -> dict:
    prompt = body["prompt"].split("\n\n(")[0]
    post = (f"Three things I learned about {prompt.lower().rstrip('.')}.\n\n"
            "First, keep it boring: Postgres did the job.\n\nSecond, measure before you tune.\n\n#rag #postgres")
    return {
        "post": post,
        "sources": [
            {"title": "Postgres is enough for RAG", "url": "https://www.linkedin.com/pulse/postgres-is-enough",
             "platform": "linkedin", "kind": "article", "snippet": "We kept our vectors next to the data.", "score": 0.0331},
            {"title": "Why boring technology wins", "url": "https://ada.substack.com/p/boring", "platform": "substack",
             "kind": "article", "snippet": "Boring is a feature.", "score": 0.0164},
        ],
        "links": [{"url": url, "status": "ok" if "bad" not in url else "failed",
                   "error": None if "bad" not in url else "HTTP 404"} for url in body.get("links", [])],
        "model": {"base": "tiny-local", "adapter": None},
        "timings": {"retrieve_ms": 12.5, "links_ms": 3.0, "generate_ms": 140.2},
        "trace": {"chunks": [{"chunk_id": "c1", "score": 0.0331}], "prompt_tokens": 321, "generated_tokens": 42},
    }


class StandIn(BaseHTTPRequestHandler):
    server_version = "standin-serving/1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def _json(self, status: int, data: dict) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        if self.path == "/healthz":
            return self._json(200, {"status": "ok"})
        self._json(404, {"detail": "Not Found"})

    def do_POST(self):
        if self.path != "/v1/posts":
            return self._json(404, {"detail": "Not Found"})
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        self.server.requests.append({"headers": dict(self.headers), "body": body})
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._json(401, {"detail": "missing or wrong bearer token"})
        mode = self.server.mode
        if mode == "down":
            return self._json(503, {"detail": "database unavailable: connection refused"})
        if not body.get("prompt", "").strip():
            return self._json(422, {"detail": [{"loc": ["body", "prompt"], "msg": "String should have at least 1 character"}]})
        if body.get("user") == 404:
            return self._json(404, {"detail": "unknown user 404"})
        response = make_response(body)
        if not body.get("stream"):
            return self._json(200, response)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        words = response["post"].split(" ")
        for index, word in enumerate(words):
            token = word if index == 0 else " " + word
            self.wfile.write(f"event: token\ndata: {json.dumps({'token': token})}\n\n".encode())
            self.wfile.flush()
            if self.server.token_delay:
                time.sleep(self.server.token_delay)
            if mode == "break" and index == 3:
                return  # the stream ends without a final event
        self.wfile.write(f"event: final\ndata: {json.dumps(response)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class StandInServing:
    def __init__(self, token_delay: float = 0.0):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
        self.httpd.daemon_threads = True
        self.httpd.requests = []
        self.httpd.mode = "ok"
        self.httpd.token_delay = token_delay
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def requests(self) -> list[dict]:
        return self.httpd.requests

    def set_mode(self, mode: str) -> None:
        self.httpd.mode = mode

    def __enter__(self) -> "StandInServing":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
