"""Request handling, shared by the Serve ingress and the in-process path: validate → resolve the
user and their active adapter (registry) → retrieve the user's chunks and read the new links
concurrently → generate with the user's model (prompt assembled within its context window) →
response with sources, link results, model, timings and a trace. :class:`InProcessTwin` wires it
together in one process (benchmarks, tests, scripts); the API's shapes are in
:mod:`serving.schemas`, the reads in :mod:`serving.context`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from serving.config import ServingConfig
from serving.context import (
    Database,
    hit_items,
    link_items,
    read_links,
    resolve,
    retrieve,
    snippet,
)
from serving.generation import GenerationRequest, ModelSpec, generate, generate_stream, load_model
from serving.schemas import PostRequest

logger = logging.getLogger("ray.serve.twin")


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
        return await asyncio.to_thread(read_links, urls, self.settings)

    async def generate(self, request):
        model = await asyncio.to_thread(self.model_for, request.spec)
        result = await asyncio.to_thread(generate, model, request, self.config.prompt, self.config.quality)
        return result.to_dict()

    async def generate_stream(self, request):
        model = await asyncio.to_thread(self.model_for, request.spec)
        for event in generate_stream(model, request, self.config.prompt, self.config.quality):
            yield event
