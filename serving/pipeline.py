"""Request handling as plain functions: validation, user and model resolution, retrieval, link
reading, response assembly. The Serve deployments call these; :class:`InProcessTwin` wires them
together in one process (benchmarks, tests, scripts).

Flow of ``POST /v1/posts``: validate → resolve the user and their active adapter (registry) →
retrieve the user's chunks and read the new links concurrently → generate with the user's model
(prompt assembled within its context window) → response with sources, link results, model,
timings and a trace.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from serving.config import LimitsConfig, ServingConfig
from serving.generation import BASE_MODEL_ID, GenerationRequest, ModelSpec, generate, generate_stream, load_model
from twin.core.prompting import ContextItem

logger = logging.getLogger("ray.serve.twin")
MAX_URL_CHARS = 2048


class UserNotFound(LookupError):
    pass


class ServiceUnavailable(RuntimeError):
    """A dependency (the database, the search index) is down; the message is the reason."""


# --- API schema ------------------------------------------------------------------------------------


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
    stored: str | None = Field(default=None, description="new, changed or unchanged: kept as the user's knowledge")


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


# --- database --------------------------------------------------------------------------------------


class Database:
    """The project database for a serving process: a lazily created engine with a short connect
    timeout; every failure to reach it becomes :class:`ServiceUnavailable` with the reason."""

    def __init__(self, settings, connect_timeout_s: int = 5):
        self.settings = settings
        self.connect_timeout_s = connect_timeout_s
        self._engine: sa.Engine | None = None

    @property
    def engine(self) -> sa.Engine:
        if self._engine is None:
            from twin.core.db import DatabaseUnavailable, database_url, sqlalchemy_url

            try:
                url = database_url(self.settings)
            except DatabaseUnavailable as exc:
                raise ServiceUnavailable(f"database unavailable: {exc}") from None
            self._engine = sa.create_engine(
                sqlalchemy_url(url),
                pool_pre_ping=True,
                pool_size=4,
                max_overflow=4,
                connect_args={"connect_timeout": self.connect_timeout_s},
            )
        return self._engine

    def run(self, function: Callable[[sa.Connection], Any]) -> Any:
        try:
            with self.engine.connect() as conn:
                return function(conn)
        except sa.exc.OperationalError as exc:
            raise ServiceUnavailable(f"database unavailable: {describe_db_error(exc)}") from None

    def check(self) -> None:
        self.run(lambda conn: conn.execute(sa.text("select 1")))

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def describe_db_error(exc: sa.exc.DBAPIError) -> str:
    lines = [line.strip() for line in str(exc.orig or exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def resolve_user(conn: sa.Connection, user: str | int) -> int:
    """The user id for an email or a numeric id. A numeric id is known when the web app has that
    user or the data plane holds documents or models of it; :class:`UserNotFound` otherwise."""
    from twin.core.users import UserNotFound as NoSuchEmail
    from twin.core.users import is_known_user, user_id_for_email

    text = str(user).strip()
    if "@" in text:
        try:
            return user_id_for_email(conn, text)
        except NoSuchEmail:
            raise UserNotFound(f"unknown user {text.lower()}") from None
    if not text.isdigit():
        raise UserNotFound(f"unknown user {text!r}: give the user's email or numeric id")
    user_id = int(text)
    known = is_known_user(conn, user_id)
    if not known:
        raise UserNotFound(f"unknown user {user_id}")
    return user_id


def model_spec(conn: sa.Connection, user_id: int, base_model: str, use_adapter: bool = True) -> ModelSpec:
    """The user's active adapter from the registry, or the base model alone (and why) when there is
    none or the request asked for the base model."""
    from twin.core.model_registry import active_model

    record = active_model(conn, user_id)
    if record is None or not record.adapter_uri:
        return ModelSpec(BASE_MODEL_ID, base_model, None, "no adapter yet: this user has no trained adapter")
    if not use_adapter:
        return ModelSpec(BASE_MODEL_ID, base_model, None, "the request asked for the base model (adapter: false)")
    return ModelSpec(str(record.model_id), record.base_model, record.adapter_uri)


def resolve(database: Database, user: str | int, base_model: str, use_adapter: bool = True) -> tuple[int, ModelSpec]:
    def work(conn):
        user_id = resolve_user(conn, user)
        return user_id, model_spec(conn, user_id, base_model, use_adapter)

    return database.run(work)


# --- retrieval and links ---------------------------------------------------------------------------


def retrieve(database: Database, embedding_model, model_name: str, user_id: int, query: str, k: int) -> list[dict]:
    """The ``k`` best documents of the user's own index for ``query`` (one chunk each)."""
    from twin.core.retrieval import search_documents

    try:
        hits = search_documents(database.engine, user_id, query, k=k, model=embedding_model, model_name=model_name)
    except sa.exc.OperationalError as exc:
        raise ServiceUnavailable(f"database unavailable: {describe_db_error(exc)}") from None
    except sa.exc.ProgrammingError as exc:
        raise ServiceUnavailable(
            f"search index unavailable ({describe_db_error(exc)}): run `twin transform` and `twin embed`"
        ) from None
    return [hit.as_dict() for hit in hits]


def read_links(
    urls: list[str], settings, *, database: Database | None = None, user_id: int | None = None, store: bool = True
) -> list[dict]:
    """Read each URL with the crawlers' link reader (limits, private-address guard on every hop),
    concurrently; store what was read as the user's knowledge documents (not their own writing).
    Returns one dict per URL, in order: a :class:`LinkResult` plus ``content`` when read."""
    from twin.core.web.links import LinkError, read_link
    from twin.core.web.safety import UnsafeURL

    def one(url: str) -> dict:
        try:
            document = read_link(url, settings)
        except LinkError as exc:
            status = "refused" if isinstance(exc.__cause__, UnsafeURL) or "refused" in str(exc) else "error"
            return {"url": url, "status": status, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - one bad link never fails the request
            return {"url": url, "status": "error", "error": f"{type(exc).__name__}: {exc}"}
        return {
            "url": url,
            "status": "ok",
            "error": None,
            "title": document.title,
            "source_url": document.source_url,
            "kind": document.kind,
            "content": document.content,
            "record": document.to_record(),
        }

    unique = list(dict.fromkeys(urls))
    if not unique:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(unique))) as pool:
        by_url = dict(zip(unique, pool.map(one, unique)))
    if store and database is not None and user_id is not None:
        _store_links(database, user_id, [result for result in by_url.values() if result["status"] == "ok"])
    for result in by_url.values():
        result.pop("record", None)
    return [dict(by_url[url]) for url in urls]


def _store_links(database: Database, user_id: int, results: list[dict]) -> None:
    if not results:
        return
    from twin.core.raw import CrawlRun

    try:
        with CrawlRun(database.engine, user_id, "serving-links", "web") as run:
            for result in results:
                result["stored"] = run.store(result["record"])
    except (sa.exc.OperationalError, ServiceUnavailable) as exc:
        logger.warning("links read but not stored (database unavailable): %s", exc)


# --- assembly --------------------------------------------------------------------------------------


def link_items(link_results: list[dict]) -> list[ContextItem]:
    return [
        ContextItem(
            origin="link",
            key=result["url"],
            text=result["content"],
            url=result["source_url"] or result["url"],
            title=result.get("title"),
            platform="web",
            kind=result.get("kind"),
        )
        for result in link_results
        if result["status"] == "ok" and result.get("content")
    ]


def hit_items(hits: list[dict]) -> list[ContextItem]:
    return [
        ContextItem(
            origin="retrieval",
            key=hit["chunk_id"],
            text=hit["text"],
            url=hit["url"],
            title=hit.get("title"),
            platform=hit.get("platform"),
            kind=hit.get("kind"),
            score=hit.get("score"),
            document_id=hit.get("document_id"),
        )
        for hit in hits
    ]


def snippet(text: str, size: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[:size].rsplit(" ", 1)[0] + " …"


@dataclass
class Prepared:
    request_id: str
    user_id: int
    spec: ModelSpec
    hits: list[dict]
    links: list[dict]
    generation: GenerationRequest
    timings: dict = field(default_factory=dict)
    started: float = 0.0


def build_response(prepared: Prepared, result: dict, snippet_chars: int) -> dict:
    timings = {
        **prepared.timings,
        "generate_ms": round(result["generate_ms"], 2),
        "total_ms": round((time.perf_counter() - prepared.started) * 1000, 2),
    }
    used_keys = {item["key"] for item in result["used"]}
    # snippets come from the whole source, not from the part that fitted the prompt
    originals = {
        **{hit["chunk_id"]: hit["text"] for hit in prepared.hits},
        **{link["url"]: link.get("content") or "" for link in prepared.links},
    }
    sources = [
        {
            "title": item["title"],
            "url": item["url"],
            "platform": item["platform"],
            "kind": item["kind"],
            "snippet": snippet(originals.get(item["key"]) or item["text"], snippet_chars),
            "score": item["score"],
            "origin": item["origin"],
        }
        for item in result["used"]
    ]
    links = [{key: value for key, value in link.items() if key != "content"} for link in prepared.links]
    trace = {
        "request_id": prepared.request_id,
        "user_id": prepared.user_id,
        "retrieved": [
            {
                "chunk_id": hit["chunk_id"],
                "document_id": hit["document_id"],
                "score": hit["score"],
                "vector_rank": hit["vector_rank"],
                "keyword_rank": hit["keyword_rank"],
                "used": hit["chunk_id"] in used_keys,
            }
            for hit in prepared.hits
        ],
        "links": [
            {
                "url": link["url"],
                "status": link["status"],
                "used": link["url"] in used_keys,
                "chars": len(link.get("content") or ""),
            }
            for link in prepared.links
        ],
        "prompt_tokens": result["prompt_tokens"],
        "context_tokens": result["context_tokens"],
        "generated_tokens": result["generated_tokens"],
        "prompt_truncated": result["prompt_truncated"],
        "truncated_sources": result["truncated_keys"],
        "dropped_sources": result["dropped_keys"],
        "post_chars": len(result["post"]),
        "raw_chars": result["raw_chars"],
        "model": result["model"],
        "quality": result["quality"],
        "rejected_draft_chars": len(result.get("rejected_draft") or ""),
        "timings": timings,
    }
    return {
        "post": result["post"],
        "sources": sources if result["post"] else [],
        "links": links,
        "model": result["model"],
        "quality": result["quality"],
        "timings": timings,
        "trace": trace,
    }


def log_request(
    prepared: Prepared | None,
    response: dict | None,
    *,
    status: int,
    error: str | None = None,
    request_id: str | None = None,
) -> None:
    """One structured INFO line per request: ids, counts, timings; never texts or secrets."""
    record: dict[str, Any] = {
        "event": "post_request",
        "request_id": request_id or (prepared and prepared.request_id),
        "status": status,
    }
    if prepared is not None:
        record.update(
            user_id=prepared.user_id,
            model_id=prepared.spec.model_id,
            prompt_chars=len(prepared.generation.prompt),
            links=len(prepared.links),
            links_ok=sum(link["status"] == "ok" for link in prepared.links),
            retrieved=len(prepared.hits),
        )
    if response is not None:
        record.update(
            post_chars=len(response["post"]),
            sources=len(response["sources"]),
            generated_tokens=response["trace"]["generated_tokens"],
            timings=response["timings"],
            fallback=response["model"].get("fallback"),
            quality_passed=response["quality"].get("passed"),
            attempts=response["quality"].get("attempts"),
        )
    if error:
        record["error"] = error[:300]
    logger.info(json.dumps(record, default=str))


# --- the orchestration, shared by the Serve ingress and the in-process path -------------------------


class PostService:
    """What ``POST /v1/posts`` does, over pluggable components (Serve handles or local objects)."""

    def __init__(self, config: ServingConfig, settings, database: Database):
        self.config = config
        self.settings = settings
        self.database = database
        self.base_model = config.generation.base_model or settings.base_model

    # components ---------------------------------------------------------------------------------
    async def retrieve(self, user_id: int, query: str, k: int) -> list[dict]:
        raise NotImplementedError

    async def read_links(self, user_id: int, urls: list[str]) -> list[dict]:
        raise NotImplementedError

    async def generate(self, request: GenerationRequest) -> dict:
        raise NotImplementedError

    def generate_stream(self, request: GenerationRequest) -> AsyncIterator[dict]:
        raise NotImplementedError

    # flow ---------------------------------------------------------------------------------------
    async def prepare(self, request: PostRequest, request_id: str | None = None) -> Prepared:
        started = time.perf_counter()
        request_id = request_id or uuid.uuid4().hex
        limits = self.config.limits
        user_id, spec = await asyncio.to_thread(resolve, self.database, request.user, self.base_model, request.adapter)
        k = request.k or self.config.retrieval.default_k

        async def timed(coroutine):
            begin = time.perf_counter()
            value = await coroutine
            return value, round((time.perf_counter() - begin) * 1000, 2)

        (hits, retrieve_ms), (links, links_ms) = await asyncio.gather(
            timed(self.retrieve(user_id, request.prompt, k)), timed(self.read_links(user_id, request.links))
        )
        generation = GenerationRequest(
            prompt=request.prompt,
            links=link_items(links),
            hits=hit_items(hits),
            max_new_tokens=request.max_new_tokens or limits.default_max_new_tokens,
            temperature=limits.default_temperature if request.temperature is None else request.temperature,
            spec=spec,
        )
        return Prepared(
            request_id,
            user_id,
            spec,
            hits,
            links,
            generation,
            {"retrieve_ms": retrieve_ms, "links_ms": links_ms},
            started,
        )

    async def write(self, request: PostRequest, request_id: str | None = None) -> dict:
        prepared = await self.prepare(request, request_id)
        result = await self.generate(prepared.generation)
        response = build_response(prepared, result, self.config.prompt.snippet_chars)
        log_request(prepared, response, status=200)
        return response

    async def write_stream(self, prepared: Prepared) -> AsyncIterator[dict]:
        """Events: ``{"type": "token", "text"}``..., ``{"type": "reset", "problems", "attempt"}`` when a
        draft failed the quality check and another starts, then ``{"type": "done", "response": {...}}``."""
        async for event in self.generate_stream(prepared.generation):
            if event["type"] in ("token", "reset"):
                yield event
            elif event["type"] == "result":
                response = build_response(prepared, event["result"], self.config.prompt.snippet_chars)
                log_request(prepared, response, status=200)
                yield {"type": "done", "response": response}


class InProcessTwin(PostService):
    """The whole pipeline in this process: the same functions the deployments call, no Ray."""

    def __init__(self, config: ServingConfig | None = None, settings=None):
        from twin.core.embedding import load_embedding_model
        from twin.core.settings import get_settings

        settings = settings or get_settings()
        config = config or ServingConfig()
        super().__init__(config, settings, Database(settings))
        self.embedding_name = config.retrieval.embedding_model or settings.embedding_model
        self.embedding_model = load_embedding_model(self.embedding_name)
        self.models: dict[str, Any] = {}
        api_key = getattr(settings, "openai_api_key", None)
        self.api_key = api_key.get_secret_value() if api_key else None

    def model_for(self, spec: ModelSpec):
        if spec.model_id not in self.models:
            self.models[spec.model_id] = load_model(
                spec, self.config.generation, home=self.settings.home, api_key=self.api_key
            )
        return self.models[spec.model_id]

    async def retrieve(self, user_id, query, k):
        return await asyncio.to_thread(
            retrieve, self.database, self.embedding_model, self.embedding_name, user_id, query, k
        )

    async def read_links(self, user_id, urls):
        return await asyncio.to_thread(read_links, urls, self.settings, database=self.database, user_id=user_id)

    async def generate(self, request):
        model = await asyncio.to_thread(self.model_for, request.spec)
        result = await asyncio.to_thread(generate, model, request, self.config.prompt, self.config.quality)
        return result.to_dict()

    async def generate_stream(self, request):
        model = await asyncio.to_thread(self.model_for, request.spec)
        for event in generate_stream(model, request, self.config.prompt, self.config.quality):
            yield event
