"""The HTTP API's shapes (``POST /v1/posts``): the request, the response and the limits that
depend on the serving config, as FastAPI-style validation errors."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from serving.config import LimitsConfig

MAX_URL_CHARS = 2048


class PostRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "user": "ada@example.com",
                "prompt": "Why hybrid search beats pure vector search for internal docs",
                "links": ["https://example.org/blog/hybrid-retrieval"],
                "k": 5,
                "max_new_tokens": 300,
                "temperature": 0.7,
                "stream": False,
            }
        },
    )

    user: str | int | None = Field(
        default=None,
        description="the user's email or numeric id: the user the bearer "
        "token names (taken from the token when omitted)",
    )
    prompt: str = Field(description="what the post should be about")
    links: list[str] = Field(default_factory=list, description="new links (articles, posts, papers) to use")
    k: int | None = Field(default=None, ge=1, description="retrieved documents of the user's own writing")
    max_new_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    stream: bool = Field(default=False, description="stream tokens as server-sent events")
    adapter: bool = Field(
        default=True,
        description="use the user's fine-tuned adapter when they have one; false "
        "writes with the base model alone (to compare the two)",
    )


class Source(BaseModel):
    title: str | None
    url: str
    platform: str | None
    kind: str | None
    snippet: str
    score: float | None = Field(description="retrieval score (reciprocal rank fusion); null for new links")
    origin: str = Field(description="link (supplied with this request) or retrieval (the user's writing)")


class LinkResult(BaseModel):
    url: str
    status: str = Field(description="ok, refused (not a public address) or error")
    error: str | None = None
    title: str | None = None
    source_url: str | None = None
    kind: str | None = None


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    backend: str
    base: str
    adapter: str | None
    model_id: str | None
    fallback: bool = Field(description="true when the base model wrote the post (no usable adapter)")


class Timings(BaseModel):
    retrieve_ms: float
    links_ms: float
    generate_ms: float
    total_ms: float


class Quality(BaseModel):
    model_config = ConfigDict(extra="allow")
    passed: bool = Field(description="false when no draft passed the check: then `post` is empty")
    problems: list[str] = Field(description="what the last judged draft failed on (empty when it passed)")
    attempts: int = Field(description="drafts generated for this request")
    perplexity: float | None = Field(default=None, description="the post's perplexity under the pretrained base")
    threshold: float | None = Field(default=None, description="the fluency threshold it is compared with")
    checked: bool = Field(default=True, description="false when the check is disabled in the serving config")
    stopped_early: bool = Field(
        default=False,
        description="the last draft was stopped as soon as it had a problem no continuation could remove",
    )


class PostResponse(BaseModel):
    post: str = Field(description="the post; empty when no draft passed the quality check (see `quality`)")
    sources: list[Source]
    links: list[LinkResult]
    model: ModelInfo
    quality: Quality
    timings: Timings
    trace: dict[str, Any]


def request_errors(request: PostRequest, limits: LimitsConfig) -> list[dict]:
    """Limits that depend on the config, as FastAPI-style validation errors naming the field."""
    errors = []

    def add(field_name: str, message: str, value: Any = None) -> None:
        errors.append({"type": "value_error", "loc": ("body", field_name), "msg": message, "input": value})

    if not request.prompt.strip():
        add("prompt", "the prompt is empty")
    elif len(request.prompt) > limits.max_prompt_chars:
        add("prompt", f"the prompt has {len(request.prompt)} characters; at most {limits.max_prompt_chars} are allowed")
    if request.user is None or (isinstance(request.user, str) and not request.user.strip()):
        add("user", "the user is empty")
    if len(request.links) > limits.max_links:
        add("links", f"{len(request.links)} links; at most {limits.max_links} are allowed")
    for url in request.links:
        if len(url) > MAX_URL_CHARS or not url.strip():
            add("links", f"each link must be a URL of 1 to {MAX_URL_CHARS} characters")
            break
    if request.k is not None and request.k > limits.max_k:
        add("k", f"at most {limits.max_k}", request.k)
    if request.max_new_tokens is not None and request.max_new_tokens > limits.max_new_tokens:
        add("max_new_tokens", f"at most {limits.max_new_tokens}", request.max_new_tokens)
    return errors
