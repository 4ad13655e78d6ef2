"""A stand-in for the serving app's ``POST /v1/posts`` on 127.0.0.1, speaking the same contract
(a user token signed with TOKEN, JSON or Server-Sent Events), so the web app's client is tested over real HTTP.

The real Ray Serve app replaces it in the end-to-end test; point TWIN_SERVING_URL at either.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from twin.core.user_tokens import InvalidUserToken, normalise_user, verify_user_token

TOKEN = "test-serving-token"
TEST_MODEL_NOTICE = "tiny-local is a random-weight test model: this text is not meaningful"
NO_ADAPTER = "no adapter yet: this user has no trained adapter"
QUALITY_PROBLEMS = ["perplexity 912.4 is above the threshold 250.0", "the draft repeats one sentence 4 times"]

# Fields merged into a response by set_mode(...): the other shapes serving can answer with.
VARIANTS = {
    # a user with a trained adapter on a real base model
    "adapter": {
        "model": {
            "backend": "transformers",
            "base": "HuggingFaceTB/SmolLM2-135M-Instruct",
            "adapter": "/data/adapters/7/3f0c",
            "model_id": "3f0c",
            "fallback": False,
            "adapter_used": True,
            "fallback_reason": None,
            "test_model": False,
            "notice": None,
        }
    },
    # no draft passed serving's quality check: no post
    "quality_failed": {
        "post": "",
        "quality": {
            "passed": False,
            "attempts": 3,
            "problems": QUALITY_PROBLEMS,
            "perplexity": 912.4,
            "threshold": 250.0,
        },
    },
    # an older serving: no quality, adapter_used, notice or origin fields
    "legacy": {"model": {"base": "tiny-local", "adapter": None}},
}


def make_response(body: dict, mode: str = "ok") -> dict:
    prompt = body["prompt"].split("\n\n(")[0]
    post = (
        f"Three things I learned about {prompt.lower().rstrip('.')}.\n\n"
        "First, keep it boring: Postgres did the job.\n\nSecond, measure before you tune.\n\n#rag #postgres"
    )
    links = [
        {
            "url": url,
            "status": "ok" if "bad" not in url else "failed",
            "error": None if "bad" not in url else "HTTP 404",
        }
        for url in body.get("links", [])
    ]
    link_sources = [
        {
            "title": f"Read from {url}",
            "url": url,
            "platform": "web",
            "kind": "link",
            "snippet": "A page the user shared.",
            "score": None,
            "origin": "link",
        }
        for url in body.get("links", [])
        if "bad" not in url
    ]
    retrieved = [
        {
            "title": "Postgres is enough for RAG",
            "url": "https://www.linkedin.com/pulse/postgres-is-enough",
            "platform": "linkedin",
            "kind": "article",
            "snippet": "We kept our vectors next to the data.",
            "score": 0.0331,
            "origin": "retrieval",
        },
        {
            "title": "Why boring technology wins",
            "url": "https://ada.substack.com/p/boring",
            "platform": "substack",
            "kind": "article",
            "snippet": "Boring is a feature.",
            "score": 0.0164,
            "origin": "retrieval",
        },
    ]
    response = {
        "post": post,
        "sources": link_sources + ([] if mode == "links_only" else retrieved),  # serving: new links first
        "links": links,
        "model": {
            "backend": "transformers",
            "base": "tiny-local",
            "adapter": None,
            "model_id": None,
            "fallback": True,
            "adapter_used": False,
            "fallback_reason": NO_ADAPTER,
            "test_model": True,
            "notice": TEST_MODEL_NOTICE,
        },
        "quality": {"passed": True, "attempts": 1, "problems": [], "perplexity": 41.7, "threshold": 250.0},
        "timings": {"retrieve_ms": 12.5, "links_ms": 3.0, "generate_ms": 140.2},
        "trace": {"chunks": [{"chunk_id": "c1", "score": 0.0331}], "prompt_tokens": 321, "generated_tokens": 42},
    }
    response.update(VARIANTS.get(mode, {}))
    if mode == "legacy":
        del response["quality"]
        for source in response["sources"]:
            del source["origin"]
    return response


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
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        try:  # the same check as serving's: a user token signed with the shared secret
            claims = verify_user_token(TOKEN, token) if scheme.lower() == "bearer" else None
        except InvalidUserToken as exc:
            return self._json(401, {"detail": str(exc)})
        if claims is None:
            return self._json(401, {"detail": "missing bearer token"})
        if body.get("user") is not None and normalise_user(body["user"]) != claims.user:
            return self._json(403, {"detail": "the bearer token is for another user than the request names"})
        self.server.requests[-1]["token_user"] = claims.user
        mode = self.server.mode
        if mode == "down":
            return self._json(503, {"detail": "database unavailable: connection refused"})
        if not body.get("prompt", "").strip():
            return self._json(
                422, {"detail": [{"loc": ["body", "prompt"], "msg": "String should have at least 1 character"}]}
            )
        if body.get("user") == 404 or "unknown" in str(body.get("user")):
            return self._json(404, {"detail": f"unknown user {body.get('user')}"})
        response = make_response(body, mode)
        if not body.get("stream"):
            return self._json(200, response)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        if mode == "retry":  # a first draft that fails the quality check, then the one that passes
            for token in ("word", " salad", " word"):
                self.wfile.write(f"event: token\ndata: {json.dumps({'text': token})}\n\n".encode())
            reset = {"problems": QUALITY_PROBLEMS[:1], "attempt": 2}
            self.wfile.write(f"event: reset\ndata: {json.dumps(reset)}\n\n".encode())
            self.wfile.flush()
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
        """ok, down (503), break (the stream ends early), or a response variant: adapter,
        quality_failed, links_only, legacy; retry (a draft, a reset event, then the post)."""
        self.httpd.mode = mode

    def __enter__(self) -> StandInServing:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
