"""Incremental embeddings: vectors for the chunks (``marts.chunks``) that lack one for a model.

Pages of pending chunks are found by an anti-join against ``vectors.chunk_embeddings`` and read in
``chunk_id`` order (keyset pagination, so memory stays bounded by one page); each page is encoded,
copied in with binary COPY and committed on its own. A killed run therefore loses at most one
page and the next run picks up where it stopped; a run with nothing pending loads no model and
computes nothing. Every model has its own key (and HNSW index), so switching models keeps the old
vectors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from twin.core.embedding import embedding_dimension, encode, load_embedding_model, word_piece_counts
from twin.core.settings import get_settings
from twin.core.tables import hnsw_index_ddl

PAGES_PER_COMMIT = 16  # encode batches per page: one page is read, encoded and committed together

PENDING = """
    from marts.chunks as chunk
    where not exists (
        select 1 from vectors.chunk_embeddings as embedding
        where embedding.chunk_id = chunk.chunk_id and embedding.model = :model
    )
"""
COUNT_PENDING = sa.text(f"select count(*) {PENDING}")
NEXT_PAGE = sa.text(
    f"select chunk.chunk_id, chunk.user_id, chunk.text {PENDING} and chunk.chunk_id > :after "
    "order by chunk.chunk_id limit :limit"
)
STORED_DIMENSION = sa.text("select vector_dims(embedding) from vectors.chunk_embeddings where model = :model limit 1")
PRUNE_ORPHANS = sa.text("""
    delete from vectors.chunk_embeddings as embedding
    where not exists (select 1 from marts.chunks as chunk where chunk.chunk_id = embedding.chunk_id)
""")
CHUNKS_EXIST = sa.text("select to_regclass('marts.chunks') is not null")

ProgressCallback = Callable[[int, int], None]
"""Called after each committed page: (chunks embedded so far, chunks pending at the start)."""


class EmbedError(RuntimeError):
    pass


@dataclass
class EmbedReport:
    model: str
    pending: int = 0
    embedded: int = 0
    truncated: int = 0
    pruned: int = 0
    dimension: int | None = None
    max_seq_length: int | None = None
    seconds: float = 0.0


def embed_chunks(
    engine: sa.Engine,
    model_name: str | None = None,
    *,
    batch_size: int | None = None,
    model=None,
    prune: bool = True,
    on_progress: ProgressCallback | None = None,
) -> EmbedReport:
    """Embed every chunk lacking a vector for ``model_name`` (default: the configured model).

    ``model`` may be passed already loaded (it must be the one ``model_name`` names). ``prune``
    first removes vectors whose chunk no longer exists (for every model).
    """
    settings = get_settings()
    model_name = model_name or settings.embedding_model
    batch_size = batch_size or settings.embed_batch_size
    report = EmbedReport(model=model_name)
    started = time.perf_counter()

    with engine.connect() as conn:
        if not conn.execute(CHUNKS_EXIST).scalar():
            raise EmbedError("marts.chunks does not exist yet: run `twin transform` first")
        if prune:
            report.pruned = conn.execute(PRUNE_ORPHANS).rowcount
        report.pending = conn.execute(COUNT_PENDING, {"model": model_name}).scalar()
        conn.commit()
        if report.pending == 0:
            report.seconds = time.perf_counter() - started
            return report

        model = model if model is not None else load_embedding_model(model_name)
        report.dimension = embedding_dimension(model)
        report.max_seq_length = int(model.max_seq_length)
        _prepare_model_storage(conn, model_name, report.dimension)

        after = ""
        page_size = batch_size * PAGES_PER_COMMIT
        while True:
            page = conn.execute(NEXT_PAGE, {"model": model_name, "after": after, "limit": page_size}).all()
            conn.commit()
            if not page:
                break
            texts = [row.text for row in page]
            vectors = encode(model, texts, batch_size)
            report.truncated += sum(count > report.max_seq_length for count in word_piece_counts(model, texts))
            _write_page(conn, model_name, [(row.chunk_id, row.user_id) for row in page], vectors)
            conn.commit()
            report.embedded += len(page)
            after = page[-1].chunk_id
            if on_progress is not None:
                on_progress(report.embedded, report.pending)

    report.seconds = time.perf_counter() - started
    return report


def _prepare_model_storage(conn: sa.Connection, model_name: str, dimension: int) -> None:
    """Check the model key's stored dimension and make sure its HNSW index exists."""
    stored = conn.execute(STORED_DIMENSION, {"model": model_name}).scalar()
    if stored is not None and stored != dimension:
        raise EmbedError(
            f"model key {model_name!r} already holds {stored}-dimensional vectors, "
            f"but the model makes {dimension}-dimensional ones"
        )
    conn.execute(sa.text(hnsw_index_ddl(model_name, dimension)))
    conn.execute(
        sa.text(
            "create temporary table if not exists pending_embeddings "
            "(chunk_id text, model text, user_id bigint, embedding vector) on commit delete rows"
        )
    )
    conn.commit()
    from pgvector.psycopg import register_vector

    register_vector(conn.connection.driver_connection)


def _write_page(conn: sa.Connection, model_name: str, keys: list[tuple[str, int]], vectors) -> None:
    """Binary COPY into a temporary table, then insert; a concurrent run's rows win on conflict."""
    driver_connection = conn.connection.driver_connection
    with driver_connection.cursor() as cursor:
        with cursor.copy(
            "copy pending_embeddings (chunk_id, model, user_id, embedding) from stdin with (format binary)"
        ) as copy:
            copy.set_types(["text", "text", "int8", "vector"])
            for (chunk_id, user_id), vector in zip(keys, vectors):
                copy.write_row((chunk_id, model_name, user_id, vector))
    conn.execute(
        sa.text(
            "insert into vectors.chunk_embeddings (chunk_id, model, user_id, embedding) "
            "select chunk_id, model, user_id, embedding from pending_embeddings "
            "on conflict (chunk_id, model) do nothing"
        )
    )
