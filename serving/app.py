"""The Ray Serve application: a FastAPI ingress and three deployments.

- ``Ingress``: HTTP API (auth, validation, errors, SSE streaming), user and adapter resolution;
  calls the others through deployment handles.
- ``Retriever``: the embedding model + hybrid search over the user's own chunks.
- ``LinkReader``: reads new links for the request (the core's link reader, private-address guard);
  stores nothing (the web app keeps pasted links as web sources the pipeline collects).
  ``user_config``: ``allow_private_urls``, ``timeout_s``, ``max_bytes`` (changed in place, no restart).
- ``Generator``: the causal LM; each user's LoRA adapter is a multiplexed model (key: the
  registry model id, ``base`` for users without one), loaded on demand, LRU-evicted past
  ``TWIN_SERVING_MAX_MODELS_PER_REPLICA``; Serve routes a user's requests to replicas that
  already hold their adapter.

``build_app(args)`` is the application builder named by ``serving/config.yaml``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from ray import serve

from serving.config import ServingConfig, parse_args
from serving.context import Database, ServiceUnavailable, UserNotFound, read_links, retrieve
from serving.generation import GenerationRequest, ModelSpec, generate, generate_stream, load_model
from serving.pipeline import PostService, log_request
from serving.schemas import PostRequest, PostResponse, request_errors
from twin.core.settings import get_settings, require_secrets
from twin.core.user_tokens import InvalidUserToken, normalise_user, verify_user_token

logger = logging.getLogger("ray.serve.twin")
MAX_MODELS_PER_REPLICA = get_settings().serving_max_models_per_replica

api = FastAPI(
    title="LLM Twin serving",
    version="1.0",
    description="Writes LinkedIn posts in a user's voice from a prompt, their own past writing (retrieved "
    "per user) and new links, with the user's fine-tuned adapter. Every `/v1` call needs "
    "`Authorization: Bearer <user token>`: a short-lived JWT naming the user, signed with a key "
    "derived from `TWIN_SERVING_TOKEN` (`twin.core.user_tokens`); the bare secret is refused.",
)
bearer = HTTPBearer(auto_error=False, description="a user token signed with TWIN_SERVING_TOKEN (twin.core.user_tokens)")


async def _iterate_in_thread(iterator):
    """Consume a blocking iterator from async code, one item per thread hop."""
    done = object()
    while True:
        item = await asyncio.to_thread(next, iterator, done)
        if item is done:
            return
        yield item


@serve.deployment(name="Retriever")
class Retriever:
    def __init__(self, args: dict | None = None):
        from twin.core.embedding import load_embedding_model

        self.config = parse_args(args)
        self.settings = get_settings()
        self.database = Database(self.settings)
        self.model_name = self.config.retrieval.embedding_model or self.settings.embedding_model
        self.model = load_embedding_model(self.model_name)

    async def search(self, user_id: int, query: str, k: int) -> list[dict]:
        return await asyncio.to_thread(retrieve, self.database, self.model, self.model_name, user_id, query, k)


@serve.deployment(name="LinkReader")
class LinkReader:
    def __init__(self):
        self.base_settings = get_settings()
        self.reconfigure({})

    def reconfigure(self, user_config: dict | None) -> None:
        user_config = dict(user_config or {})
        overrides = {}
        if user_config.get("allow_private_urls") is not None:
            overrides["allow_private_urls"] = bool(user_config["allow_private_urls"])
        if user_config.get("timeout_s"):
            overrides["crawl_timeout_s"] = float(user_config["timeout_s"])
        if user_config.get("max_bytes"):
            overrides["crawl_max_bytes"] = int(user_config["max_bytes"])
        self.settings = self.base_settings.model_copy(update=overrides)
        logger.info(
            json.dumps(
                {
                    "event": "link_reader_config",
                    "allow_private_urls": self.settings.allow_private_urls,
                    "timeout_s": self.settings.crawl_timeout_s,
                    "max_bytes": self.settings.crawl_max_bytes,
                }
            )
        )

    async def read(self, user_id: int, urls: list[str]) -> list[dict]:
        return await asyncio.to_thread(read_links, urls, self.settings)


@serve.deployment(name="Generator")
class Generator:
    def __init__(self, args: dict | None = None):
        self.config = parse_args(args)
        self.settings = get_settings()
        if self.config.generation.torch_threads:
            import torch

            torch.set_num_threads(self.config.generation.torch_threads)
        api_key = self.settings.openai_api_key
        self.api_key = api_key.get_secret_value() if api_key else None
        self._specs: dict[str, ModelSpec] = {}
        self.loaded: dict[str, float] = {}

    @serve.multiplexed(max_num_models_per_replica=MAX_MODELS_PER_REPLICA)
    async def get_model(self, model_id: str):
        spec = self._specs[model_id]
        started = time.perf_counter()
        model = await asyncio.to_thread(
            load_model, spec, self.config.generation, home=self.settings.home, api_key=self.api_key
        )
        logger.info(
            json.dumps(
                {
                    "event": "model_loaded",
                    "model_id": model_id,
                    "base": spec.base_model,
                    "adapter": spec.adapter_uri,
                    "fallback_reason": model.fallback_reason,
                    "load_ms": round((time.perf_counter() - started) * 1000, 1),
                }
            )
        )
        self.loaded[model_id] = time.time()
        return model

    async def _model(self, spec: ModelSpec):
        routed = serve.get_multiplexed_model_id()
        if routed and routed != spec.model_id:
            raise ValueError(f"request routed for model {routed!r} but carries {spec.model_id!r}")
        self._specs[spec.model_id] = spec  # the loader reads it: a model id alone cannot say where the adapter is
        return await self.get_model(spec.model_id)

    async def generate(self, request: GenerationRequest) -> dict:
        model = await self._model(request.spec)
        result = await asyncio.to_thread(generate, model, request, self.config.prompt, self.config.quality)
        answer = result.to_dict()
        answer["model"] = {**answer["model"], "served_by": _replica()}
        return answer

    async def generate_stream(self, request: GenerationRequest):
        model = await self._model(request.spec)
        async for event in _iterate_in_thread(
            iter(generate_stream(model, request, self.config.prompt, self.config.quality))
        ):
            yield event

    async def health(self) -> dict:
        backend = self.config.generation.backend
        return {
            "backend": backend,
            "base_model": self.config.generation.base_model or self.settings.base_model,
            "loaded_models": sorted(self.loaded),
            "served_by": _replica(),
        }


def _replica() -> dict[str, str]:
    """The Serve replica that answered and the Ray node it runs on (for operators scaling out)."""
    import ray

    return {
        "replica": serve.get_replica_context().replica_id.unique_id,
        "node_id": ray.get_runtime_context().get_node_id(),
    }


class ServePostService(PostService):
    def __init__(self, config, settings, database, retriever, link_reader, generator):
        super().__init__(config, settings, database)
        self.retriever, self.link_reader, self.generator = retriever, link_reader, generator

    async def retrieve(self, user_id, query, k):
        return await self.retriever.search.remote(user_id, query, k)

    async def read_links(self, user_id, urls):
        return await self.link_reader.read.remote(user_id, urls) if urls else []

    async def generate(self, request):
        return await self.generator.options(multiplexed_model_id=request.spec.model_id).generate.remote(request)

    async def generate_stream(self, request):
        handle = self.generator.options(multiplexed_model_id=request.spec.model_id, stream=True)
        async for event in handle.generate_stream.remote(request):
            yield event


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


def _unwrap(exc: BaseException) -> BaseException:
    """Ray wraps a deployment's exception; the original class is kept as a base, its cause may be set."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


@serve.deployment(name="Ingress")
@serve.ingress(api)
class Ingress:
    def __init__(self, retriever, link_reader, generator, args: dict | None = None):
        self.config: ServingConfig = parse_args(args)
        self.settings = get_settings()
        self.database = Database(self.settings)
        self.service = ServePostService(self.config, self.settings, self.database, retriever, link_reader, generator)
        self.generator = generator
        self._token = self.settings.serving_token.get_secret_value()

    def _authorize(self, credentials: HTTPAuthorizationCredentials | None, body: PostRequest) -> PostRequest:
        """The request for the user the bearer token names: 401 without a valid token, 403 when the
        body names someone else."""
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                401,
                "missing bearer token: send a user token signed with TWIN_SERVING_TOKEN",
                headers={"WWW-Authenticate": "Bearer"},
            )
        try:
            claims = verify_user_token(self._token, credentials.credentials)
        except InvalidUserToken as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
        if body.user is not None and normalise_user(body.user) != claims.user:
            raise HTTPException(403, "the bearer token is for another user than the request names")
        return body.model_copy(update={"user": claims.user})

    @api.get("/healthz", summary="Database and model status (no auth)")
    async def healthz(self) -> JSONResponse:
        body: dict[str, Any] = {"status": "ok"}
        try:
            await asyncio.to_thread(self.database.check)
            body["database"] = "ok"
        except ServiceUnavailable as exc:
            body.update(status="unavailable", database=str(exc))
        try:
            body["model"] = await asyncio.wait_for(self.generator.health.remote(), timeout=10)
        except Exception as exc:  # noqa: BLE001
            body.update(status="unavailable", model=f"error: {type(exc).__name__}")
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    @api.post(
        "/v1/posts",
        response_model=PostResponse,
        summary="Write a LinkedIn post in the user's voice",
        responses={
            401: {"description": "missing, forged or expired user token"},
            403: {"description": "the token names another user than the body"},
            404: {"description": "unknown user"},
            422: {"description": "invalid request (names the field)"},
            503: {"description": "database or search index unavailable (with the reason)"},
        },
    )
    async def posts(
        self,
        body: PostRequest,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ):
        body = self._authorize(credentials, body)
        errors = request_errors(body, self.config.limits)
        if errors:
            raise RequestValidationError(errors)
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        try:
            if not body.stream:
                return JSONResponse(await self.service.write(body, request_id))
            prepared = await self.service.prepare(body, request_id)
        except Exception as exc:  # noqa: BLE001
            raise self._http_error(exc, request_id) from None
        return StreamingResponse(
            self._events(prepared),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Request-Id": request_id},
        )

    async def _events(self, prepared):
        try:
            async for event in self.service.write_stream(prepared):
                if event["type"] == "token":
                    yield _sse("token", {"text": event["text"]})
                elif event["type"] == "reset":  # the draft streamed so far failed the quality check
                    yield _sse("reset", {"problems": event["problems"], "attempt": event["attempt"]})
                else:
                    yield _sse("done", event["response"])
        except Exception as exc:  # noqa: BLE001 - headers are sent: report in the stream
            error = _unwrap(exc)
            log_request(prepared, None, status=500, error=f"{type(error).__name__}: {error}")
            yield _sse("error", {"detail": f"generation failed: {type(error).__name__}"})

    def _http_error(self, exc: BaseException, request_id: str) -> HTTPException:
        error = _unwrap(exc)
        if isinstance(error, UserNotFound):
            status, detail = 404, str(error)
        elif isinstance(error, ServiceUnavailable):
            status, detail = 503, str(error)
        else:
            logger.exception("request %s failed", request_id, exc_info=exc)
            status, detail = 500, f"internal error ({type(error).__name__}); request id {request_id}"
        log_request(None, None, status=status, error=detail, request_id=request_id)
        return HTTPException(status, detail)


def build_app(args: dict | None = None):
    """The application builder (``import_path: serving.app:build_app``); ``args`` are validated by
    :class:`serving.config.ServingConfig`."""
    args = dict(args or {})
    parse_args(args)  # fail at build time with every bad field named
    require_secrets(get_settings(), "serving_token", "database_url", component="The serving app")
    return Ingress.bind(Retriever.bind(args), LinkReader.bind(), Generator.bind(args), args)
