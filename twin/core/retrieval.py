"""Hybrid retrieval over one user's chunks: pgvector HNSW (cosine) fused with Postgres full-text
ranking by reciprocal rank fusion (RRF).

Both sides run in one SQL statement, each limited to the user (and the optional platform, kind
and date filters) *inside* its own search, so other users' rows never take a candidate slot and
are never returned. The vector side orders by ``embedding::vector(dim) <=> query`` with
``model = ...`` so that the model's partial HNSW index serves it; ``hnsw.iterative_scan`` keeps
scanning the index until enough rows pass the filters. The keyword side ranks the chunks'
``search_vector`` (title weighted above text) with ``ts_rank`` against the query's words, any of
which may match. A chunk's fused score is the sum over both sides of ``1 / (60 + rank)``, the
full-text side's term scaled by ``keyword_weight * coverage ** coverage_power``, where coverage is
the fraction of the query's words the chunk contains: an exact identifier, a title or a quoted
sentence counts fully; a paraphrase that shares a few common words with some chunk barely counts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

import sqlalchemy as sa

from twin.core.embedding import embedding_dimension, encode, load_embedding_model
from twin.core.settings import get_settings

RRF_K = 60


@dataclass
class SearchFilters:
    platforms: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    published_after: datetime | None = None
    published_before: datetime | None = None

    @property
    def narrows_chunks(self) -> bool:
        return bool(self.platforms or self.kinds or self.published_after or self.published_before)


@dataclass
class SearchHit:
    chunk_id: str
    document_id: str
    text: str
    title: str | None
    url: str
    platform: str
    kind: str
    published_at: datetime | None
    position: int
    score: float
    vector_rank: int | None
    vector_similarity: float | None
    keyword_rank: int | None
    keyword_score: float | None
    keyword_coverage: float | None = None  # share of the query's words in the chunk (full-text side)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["published_at"] = self.published_at.isoformat() if self.published_at else None
        return data


def _chunk_filter_sql(filters: SearchFilters, alias: str) -> str:
    conditions = []
    if filters.platforms:
        conditions.append(f"{alias}.platform = any(:platforms)")
    if filters.kinds:
        conditions.append(f"{alias}.kind = any(:kinds)")
    if filters.published_after:
        conditions.append(f"{alias}.published_at >= :published_after")
    if filters.published_before:
        conditions.append(f"{alias}.published_at < :published_before")
    return "".join(f" and {condition}" for condition in conditions)


def hybrid_sql(dimension: int, filters: SearchFilters, *, use_keywords: bool = True) -> str:
    """The hybrid query; parameters: user_id, model, query_vector, query_text, candidates, limit
    (+ the filters' own). ``use_keywords=False`` leaves the vector side alone (RRF of one list)."""
    vector_type = f"vector({int(dimension)})"
    # The extra filters live on marts.chunks; an array of the user's matching chunk ids is computed
    # once (an InitPlan) and checked inside the index scan, which iterative scanning keeps feeding.
    chunk_subset = (
        " and embedding.chunk_id = any(array(select chunk.chunk_id from marts.chunks as chunk "
        f"where chunk.user_id = :user_id{_chunk_filter_sql(filters, 'chunk')}))"
        if filters.narrows_chunks
        else ""
    )
    keyword_side = (
        f"""
    keyword_candidates as (
        select chunk.chunk_id, ts_rank(chunk.search_vector, query.terms) as keyword_score
        from marts.chunks as chunk,
             (select replace(plainto_tsquery('english', :query_text)::text, ' & ', ' | ')::tsquery as terms) as query
        where chunk.user_id = :user_id and chunk.search_vector @@ query.terms{_chunk_filter_sql(filters, "chunk")}
        order by keyword_score desc, chunk.chunk_id
        limit :candidates
    ),
    keyword_ranked as (
        select candidate.*,
               row_number() over (order by candidate.keyword_score desc, candidate.chunk_id) as keyword_rank,
               (select count(*) from unnest(query.lexemes) as lexeme
                where lexeme = any(tsvector_to_array(chunk.search_vector)))::float8
                 / greatest(cardinality(query.lexemes), 1) as keyword_coverage
        from keyword_candidates as candidate
        join marts.chunks as chunk on chunk.chunk_id = candidate.chunk_id,
             (select tsvector_to_array(to_tsvector('english', :query_text)) as lexemes) as query
    ),"""
        if use_keywords
        else """
    keyword_ranked as (
        select null::text as chunk_id, null::real as keyword_score, null::bigint as keyword_rank,
               null::float8 as keyword_coverage
        where false
    ),"""
    )
    return f"""
    with vector_candidates as materialized (
        select embedding.chunk_id,
               embedding.embedding::{vector_type} <=> cast(:query_vector as {vector_type}) as distance
        from vectors.chunk_embeddings as embedding
        where embedding.model = :model and embedding.user_id = :user_id{chunk_subset}
        order by distance
        limit :candidates
    ),
    vector_ranked as (
        select *, row_number() over (order by distance, chunk_id) as vector_rank from vector_candidates
    ),{keyword_side}
    fused as (
        select coalesce(vector_ranked.chunk_id, keyword_ranked.chunk_id) as chunk_id,
               (coalesce(1.0 / ({RRF_K} + vector_ranked.vector_rank), 0)
                 + coalesce(cast(:keyword_weight as float8)
                            * power(keyword_ranked.keyword_coverage, cast(:coverage_power as float8))
                            / ({RRF_K} + keyword_ranked.keyword_rank), 0))::float8 as score,
               vector_ranked.vector_rank, 1 - vector_ranked.distance as vector_similarity,
               keyword_ranked.keyword_rank, keyword_ranked.keyword_score::float8 as keyword_score,
               keyword_ranked.keyword_coverage
        from vector_ranked full outer join keyword_ranked on keyword_ranked.chunk_id = vector_ranked.chunk_id
    )
    select chunk.chunk_id, chunk.document_id, chunk.text, chunk.title, chunk.source_url as url,
           chunk.platform, chunk.kind, chunk.published_at, chunk.position,
           fused.score, fused.vector_rank, fused.vector_similarity, fused.keyword_rank, fused.keyword_score,
           fused.keyword_coverage
    from fused
    join marts.chunks as chunk on chunk.chunk_id = fused.chunk_id
    where chunk.user_id = :user_id{_chunk_filter_sql(filters, "chunk")}
    order by fused.score desc, chunk.chunk_id
    limit :limit
    """


def set_search_parameters(conn: sa.Connection, ef_search: int) -> None:
    """Per-transaction pgvector settings: search breadth, and iterative scans for filtered queries."""
    conn.execute(
        sa.text(
            "select set_config('hnsw.ef_search', :ef, true), set_config('hnsw.iterative_scan', 'relaxed_order', true)"
        ),
        {"ef": str(int(ef_search))},
    )


def search_chunks(
    engine: sa.Engine,
    user_id: int,
    query: str,
    *,
    limit: int = 10,
    filters: SearchFilters | None = None,
    model_name: str | None = None,
    model=None,
    query_vector=None,
    candidates: int | None = None,
    ef_search: int | None = None,
    use_keywords: bool = True,
    keyword_weight: float | None = None,
    coverage_power: float | None = None,
    exact: bool = False,
) -> list[SearchHit]:
    """The ``limit`` best chunks of ``user_id`` for ``query`` (hybrid, best first).

    ``query_vector`` skips encoding (it must come from the same model); ``candidates`` is how many
    chunks each side contributes before fusion; ``keyword_weight`` scales the full-text side's share
    of the fused score (the vector side's is 1); ``exact`` makes the vector side an exact scan
    instead of the HNSW index (for evaluation: slow on large users).
    """
    if user_id is None:
        raise ValueError("search needs a user: every read of user content is filtered by its owner")
    settings = get_settings()
    model_name = model_name or settings.embedding_model
    filters = filters or SearchFilters()
    if query_vector is None:
        model = model if model is not None else load_embedding_model(model_name)
        query_vector = encode(model, [query], batch_size=1)[0]
    dimension = len(query_vector) if model is None else embedding_dimension(model)
    parameters = {
        "user_id": int(user_id),
        "model": model_name,
        "query_vector": "[" + ",".join(f"{float(value):.7g}" for value in query_vector) + "]",
        "query_text": query,
        "keyword_weight": float(settings.search_keyword_weight if keyword_weight is None else keyword_weight),
        "coverage_power": float(settings.search_coverage_power if coverage_power is None else coverage_power),
        "candidates": max(int(candidates or settings.search_candidates), limit),
        "limit": limit,
        "platforms": filters.platforms,
        "kinds": filters.kinds,
        "published_after": filters.published_after,
        "published_before": filters.published_before,
    }
    with engine.begin() as conn:
        set_search_parameters(conn, ef_search or settings.hnsw_ef_search)
        if exact:
            conn.execute(sa.text("set local enable_indexscan = off"))
        rows = conn.execute(sa.text(hybrid_sql(dimension, filters, use_keywords=use_keywords)), parameters).mappings()
        return [SearchHit(**row) for row in rows]


def search_documents(engine: sa.Engine, user_id: int, query: str, *, k: int = 5, **options) -> list[SearchHit]:
    """The ``k`` best documents of ``user_id`` for ``query``, each represented by its best chunk."""
    candidates = max(int(options.pop("candidates", None) or get_settings().search_candidates), k * 4)
    hits = search_chunks(engine, user_id, query, limit=candidates * 2, candidates=candidates, **options)
    best: dict[str, SearchHit] = {}
    for hit in hits:  # best first, so the first hit of a document is its best chunk
        best.setdefault(hit.document_id, hit)
    return list(best.values())[:k]
