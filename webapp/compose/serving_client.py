"""A small client for the serving app's ``POST /v1/posts`` (JSON or Server-Sent Events).

Each request carries a short-lived token naming its user, signed with the secret the web app shares
with serving (:mod:`twin.core.user_tokens`): serving answers for that user only.

Errors: :class:`ServingUnavailable` when serving cannot be reached or is not ready (connection
refused, timeout, HTTP 5xx), :class:`ServingRejected` when it answered but refused the request (401,
404 unknown user, 422 invalid field). Both carry a message fit to show the user.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from django.conf import settings

from twin.core.user_tokens import authorization_header


class ServingError(RuntimeError):
    pass


class ServingUnavailable(ServingError):
    pass


class ServingRejected(ServingError):
    def __init__(self, message: str, status_code: int, field: str | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.field = field


@dataclass(frozen=True)
class StreamEvent:
    kind: str  # "token" (text is the new text), "reset" (the draft so far failed the quality check and
    # another starts: problems says why) or "final" (response is the whole response)
    text: str = ""
    response: dict | None = None
    problems: tuple[str, ...] = ()


class ServingClient:
    def __init__(self, base_url: str, secret: str, *, timeout: float = 300.0, connect_timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)

    @classmethod
    def from_settings(cls) -> ServingClient:
        return cls(settings.TWIN_SERVING_URL, settings.TWIN_SERVING_TOKEN, timeout=settings.TWIN_SERVING_TIMEOUT_S)

    @property
    def posts_url(self) -> str:
        return f"{self.base_url}/v1/posts"

    def create_post(self, payload: dict) -> dict:
        """One complete response (``stream: false``)."""
        try:
            with httpx.Client(timeout=self._timeout) as http:
                response = http.post(self.posts_url, json={**payload, "stream": False}, headers=self._headers(payload))
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        _raise_for_status(response.status_code, response.content)
        return _as_response(response.json())

    def stream_post(self, payload: dict) -> Iterator[StreamEvent]:
        """Tokens as they are generated, then one ``final`` event with the whole response."""
        try:
            with httpx.Client(timeout=self._timeout) as http:
                with http.stream(
                    "POST",
                    self.posts_url,
                    json={**payload, "stream": True},
                    headers={**self._headers(payload), "Accept": "text/event-stream"},
                ) as response:
                    if response.status_code >= 400:
                        _raise_for_status(response.status_code, response.read())
                    if "text/event-stream" not in response.headers.get("content-type", ""):
                        yield StreamEvent("final", response=_as_response(json.loads(response.read())))
                        return
                    for event in _parse_sse(response.iter_lines()):
                        yield event
                        if event.kind == "final":
                            return
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        raise ServingError("The twin stopped before finishing the post (the stream ended early). Try again.")

    def _headers(self, payload: dict) -> dict[str, str]:
        return {
            **authorization_header(self._secret, payload["user"], issuer="twin-webapp"),
            "User-Agent": "llm-twin-webapp",
        }

    def _unreachable(self, exc: Exception) -> ServingUnavailable:
        if isinstance(exc, httpx.TimeoutException):
            return ServingUnavailable(
                f"The twin did not answer in time ({exc.__class__.__name__}). Try again in a moment."
            )
        return ServingUnavailable(
            f"The twin's serving app at {self.base_url} is not reachable "
            f"({exc.__class__.__name__}). Is it running (`twin serve`)?"
        )


def _as_response(data) -> dict:
    if not isinstance(data, dict) or "post" not in data:
        raise ServingError("The serving app sent a response without a post.")
    data.setdefault("sources", [])
    data.setdefault("links", [])
    data.setdefault("model", {})
    data.setdefault("timings", {})
    data.setdefault("trace", {})
    return data


def _detail(content: bytes) -> tuple[str, str | None]:
    try:
        detail = json.loads(content).get("detail", "")
    except (ValueError, AttributeError):
        return content.decode(errors="replace")[:300], None
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):  # FastAPI validation errors
        first = detail[0]
        loc = [str(part) for part in first.get("loc", []) if part != "body"]
        return f"{'.'.join(loc) + ': ' if loc else ''}{first.get('msg', '')}", (loc[0] if loc else None)
    return str(detail)[:300], None


def _raise_for_status(status: int, content: bytes) -> None:
    if status < 400:
        return
    message, field = _detail(content)
    if status >= 500:
        raise ServingUnavailable(f"The twin's serving app is not ready (HTTP {status}): {message}")
    if status in (401, 403):
        raise ServingRejected(
            f"The serving app refused the web app's user token ({message}): check that "
            "TWIN_SERVING_TOKEN is the same for both.",
            status,
        )
    if status == 404:
        raise ServingRejected(f"The serving app does not know this user yet: {message}", status)
    raise ServingRejected(f"The serving app refused the request: {message}", status, field)


def _parse_sse(lines: Iterator[str]) -> Iterator[StreamEvent]:
    """Server-Sent Events -> StreamEvents. Accepts ``data: {"token": ...}`` (or ``text``/``delta``)
    events, a final event carrying the whole response (any event name, recognised by its ``post``
    field), ``event: error`` and a trailing ``[DONE]``."""
    name, data_lines = "message", []
    for line in lines:
        if line == "":
            if data_lines:
                event = _event(name, "\n".join(data_lines))
                if event is not None:
                    yield event
            name, data_lines = "message", []
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "event":
            name = value
        elif key == "data":
            data_lines.append(value)
    if data_lines:
        event = _event(name, "\n".join(data_lines))
        if event is not None:
            yield event


def _event(name: str, data: str) -> StreamEvent | None:
    if data.strip() == "[DONE]":
        return None
    try:
        payload = json.loads(data)
    except ValueError:
        payload = data
    if name == "error" or (isinstance(payload, dict) and "error" in payload and "post" not in payload):
        message = payload.get("error") or payload.get("detail") if isinstance(payload, dict) else payload
        raise ServingError(f"The twin failed while writing: {message}")
    if isinstance(payload, dict):
        if name == "reset":
            return StreamEvent("reset", problems=tuple(str(problem) for problem in payload.get("problems") or ()))
        if "post" in payload:
            return StreamEvent("final", response=_as_response(payload))
        for key in ("token", "text", "delta"):
            if isinstance(payload.get(key), str):
                return StreamEvent("token", text=payload[key])
        return None
    return StreamEvent("token", text=str(payload))
