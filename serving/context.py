"""What a post is written from, read for one request: the user (checked), their active adapter,
their retrieved passages and the links pasted in the prompt (read now, kept as their knowledge).
Every read is filtered by the user; failures to reach the database become
:class:`ServiceUnavailable` with the reason."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import sqlalchemy as sa

from serving.generation import BASE_MODEL_ID, ModelSpec
from twin.core.prompting import ContextItem

logger = logging.getLogger("ray.serve.twin")


class UserNotFound(LookupError):
    pass


class ServiceUnavailable(RuntimeError):
    """A dependency (the database, the search index) is down; the message is the reason."""


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


def read_links(urls: list[str], settings) -> list[dict]:
    """Read each URL with the core's link reader (limits, private-address guard on every hop),
    concurrently, for this request only: serving stores nothing (the web app keeps pasted links as
    the user's web sources, which the pipeline collects). Returns one dict per URL, in order: a
    :class:`LinkResult` plus ``content`` when read."""
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
        }

    unique = list(dict.fromkeys(urls))
    if not unique:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(unique))) as pool:
        by_url = dict(zip(unique, pool.map(one, unique)))
    return [dict(by_url[url]) for url in urls]


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
