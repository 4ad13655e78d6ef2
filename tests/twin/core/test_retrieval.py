"""Hybrid retrieval: known items are found, filters apply, other users' content never comes back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timezone

import pytest
import sqlalchemy as sa

from tests.twin import index_corpus
from twin.core.retrieval import SearchFilters, hybrid_sql, search_chunks, search_documents, set_search_parameters
from twin.core.settings import PROJECT_ROOT
from twin.core.tables import hnsw_index_name

pytestmark = pytest.mark.slow
MODEL = "all-MiniLM-L6-v2"
AUTHOR_URLS = {record.source_url for record in index_corpus.AUTHOR_DOCUMENTS}
OTHER_AUTHOR_URLS = {record.source_url for record in index_corpus.OTHER_AUTHOR_POSTS}


@pytest.mark.parametrize("article", index_corpus.ARTICLES, ids=lambda record: record.source_url.rsplit("/", 1)[-1][:30])
def test_known_item_search_finds_each_article_by_title_and_by_a_middle_sentence(
    engine, indexed_corpus, embedding_model, article
):
    for query in (article.title, index_corpus.middle_sentence(article)):
        hits = search_documents(engine, indexed_corpus.author_id, query, k=5, model=embedding_model)
        assert article.source_url in [hit.url for hit in hits[:5]], query


def test_results_carry_text_document_fields_and_scores(engine, indexed_corpus, embedding_model):
    hits = search_documents(
        engine,
        indexed_corpus.author_id,
        "reciprocal rank fusion of keyword and vector search",
        k=3,
        model=embedding_model,
    )
    assert len(hits) == 3
    assert len({hit.document_id for hit in hits}) == 3  # one best chunk per document
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    best = hits[0]
    assert best.text and best.url in AUTHOR_URLS and best.platform in ("substack", "github")
    assert best.vector_rank is not None and best.keyword_rank is not None and 0 < best.vector_similarity <= 1


def test_the_full_text_share_is_scaled_by_the_square_of_the_query_words_a_chunk_contains(
    engine, indexed_corpus, embedding_model
):
    query = "teams that fuse keyword ranking with vectors find error codes like ERR_CONN_RESET"
    hits = search_chunks(engine, indexed_corpus.author_id, query, limit=10, model=embedding_model)
    assert any(hit.keyword_rank for hit in hits) and any(0 < (hit.keyword_coverage or 0) < 1 for hit in hits)
    for hit in hits:
        expected = (1 / (60 + hit.vector_rank) if hit.vector_rank else 0) + (
            hit.keyword_coverage**2 / (60 + hit.keyword_rank) if hit.keyword_rank else 0
        )
        assert hit.score == pytest.approx(expected)
    plain = search_chunks(engine, indexed_corpus.author_id, query, limit=10, model=embedding_model, coverage_power=0)
    for hit in plain:
        expected = (1 / (60 + hit.vector_rank) if hit.vector_rank else 0) + (
            1 / (60 + hit.keyword_rank) if hit.keyword_rank else 0
        )
        assert hit.score == pytest.approx(expected)


def test_keyword_side_finds_exact_identifiers(engine, indexed_corpus, embedding_model):
    hits = search_chunks(engine, indexed_corpus.author_id, "ERR_CONN_RESET", limit=3, model=embedding_model)
    assert hits[0].url.endswith("why-your-vector-index-needs-a-keyword-friend")
    assert hits[0].keyword_rank == 1


def test_another_users_identical_text_is_never_returned(engine, indexed_corpus, embedding_model):
    for user_id, other_urls in (
        (indexed_corpus.author_id, OTHER_AUTHOR_URLS),
        (indexed_corpus.other_author_id, AUTHOR_URLS),
    ):
        hits = search_chunks(engine, user_id, index_corpus.SHARED_POST, limit=50, model=embedding_model)
        assert hits and hits[0].text == index_corpus.SHARED_POST
        assert not {hit.url for hit in hits} & other_urls
        with engine.connect() as conn:
            owners = (
                conn.execute(
                    sa.text("select distinct user_id from marts.chunks where chunk_id = any(:ids)"),
                    {"ids": [hit.chunk_id for hit in hits]},
                )
                .scalars()
                .all()
            )
        assert owners == [user_id]
    with engine.connect() as conn:
        owners = conn.execute(
            sa.text(
                "select count(distinct user_id), count(distinct chunk_id) from marts.chunks "
                "where text = :t and user_id in (:a, :b)"
            ),
            {"t": index_corpus.SHARED_POST, "a": indexed_corpus.author_id, "b": indexed_corpus.other_author_id},
        ).one()
    assert owners == (2, 2)  # the same text is two chunks, one per user
    with pytest.raises(ValueError):
        search_chunks(engine, None, "anything", model=embedding_model)


def test_filters_by_platform_kind_and_date(engine, indexed_corpus, embedding_model):
    author = indexed_corpus.author_id
    posts = search_documents(
        engine,
        author,
        "postgres",
        k=10,
        model=embedding_model,
        filters=SearchFilters(platforms=["linkedin"], kinds=["post"]),
    )
    assert posts and {(hit.platform, hit.kind) for hit in posts} == {("linkedin", "post")}
    march_tenth = datetime(2025, 3, 10, tzinfo=UTC)
    recent = search_documents(
        engine, author, "postgres", k=10, model=embedding_model, filters=SearchFilters(published_after=march_tenth)
    )
    assert recent and all(hit.published_at >= march_tenth for hit in recent)
    early = search_documents(
        engine, author, "postgres", k=10, model=embedding_model, filters=SearchFilters(published_before=march_tenth)
    )
    assert early and all(hit.published_at < march_tenth for hit in early)


def test_vector_side_uses_the_models_hnsw_index(engine, indexed_corpus):
    with engine.begin() as conn:
        set_search_parameters(conn, 40)
        assert conn.execute(sa.text("show hnsw.iterative_scan")).scalar() == "relaxed_order"
        assert conn.execute(sa.text("show hnsw.ef_search")).scalar() == "40"
        # On a tiny table the planner rightly sorts the user's few rows exactly; without sorting,
        # the only way to order the vector side is the model's HNSW index.
        conn.execute(sa.text("set local enable_seqscan = off"))
        conn.execute(sa.text("set local enable_sort = off"))
        plan = "\n".join(
            conn.execute(
                sa.text("explain " + hybrid_sql(384, SearchFilters())),
                {
                    "user_id": indexed_corpus.author_id,
                    "model": MODEL,
                    "query_vector": str([0.05] * 384),
                    "query_text": "postgres",
                    "keyword_weight": 1.0,
                    "coverage_power": 2.0,
                    "candidates": 10,
                    "limit": 5,
                },
            ).scalars()
        )
    assert hnsw_index_name(MODEL) in plan


def test_cli_search_prints_json_documents_of_that_user_only(indexed_corpus):
    env = {**os.environ, "TWIN_LOG_LEVEL": "WARNING"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "twin",
            "search",
            index_corpus.SHARED_POST,
            "--user",
            indexed_corpus.author_email,
            "-k",
            "4",
            "--json",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert 1 <= len(hits) <= 4
    assert all({"url", "title", "platform", "text", "score"} <= set(hit) for hit in hits)
    assert not {hit["url"] for hit in hits} & OTHER_AUTHOR_URLS
    assert hits[0]["text"] == index_corpus.SHARED_POST

    unknown = subprocess.run(
        [sys.executable, "-m", "twin", "search", "x", "--user", "nobody@example.com"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert unknown.returncode == 1 and "no user with email" in unknown.stderr and "Traceback" not in unknown.stderr
