"""dbt: clean documents, chunks within the model's window, training samples, tests that gate."""

from __future__ import annotations

import random
import re
import shutil

import pytest
import sqlalchemy as sa

from tests.twin import index_corpus
from twin.core.transform import DBT_PROJECT_DIR, TransformFailed, generate_docs, target_path, transform

pytestmark = pytest.mark.slow
CHUNK_CAP = 200


def _rows(engine, sql: str, **params) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def test_build_produces_clean_documents_chunks_and_samples(engine, indexed_corpus):
    result = indexed_corpus.transform_result
    assert result.failures == [] and result.skipped == []
    assert {"documents", "chunks", "sft_samples"} <= {o.name for o in result.outcomes if o.resource_type == "model"}
    assert result.count("test") > 30

    author, other = indexed_corpus.author_id, indexed_corpus.other_author_id
    counts = dict(
        _rows(
            engine,
            "select user_id, count(*) from marts.documents where user_id in (:a, :b) group by 1",
            a=author,
            b=other,
        )
    )
    assert counts == {author: index_corpus.AUTHOR_DOCUMENT_COUNT, other: index_corpus.OTHER_AUTHOR_DOCUMENT_COUNT}
    chunks = dict(
        _rows(
            engine, "select user_id, count(*) from marts.chunks where user_id in (:a, :b) group by 1", a=author, b=other
        )
    )
    # 3 articles in 6 + 6 + 3 chunks, 2 repository files in 2 + 3, the link and 4 posts whole
    assert chunks == {author: 25, other: 2}
    samples = _rows(
        engine,
        "select kind, count(*), count(distinct document_id) from marts.sft_samples "
        "where user_id = :a group by 1 order by 1",
        a=author,
    )
    assert samples == [("article", 6, 3), ("post", 4, 4)]


def test_cleaning_removes_markup_near_empty_and_duplicate_documents(engine, indexed_corpus):
    author = indexed_corpus.author_id
    texts = dict(_rows(engine, "select source_url, text from marts.documents where user_id = :a", a=author))
    keyword_article = texts["https://ada.substack.com/p/why-your-vector-index-needs-a-keyword-friend"]
    assert "<p>" not in keyword_article and "<em>" not in keyword_article
    assert "Ask about reducing cloud spend and it" in keyword_article
    chunking_article = texts["https://medium.com/@ada/chunking-for-retrieval-without-losing-the-plot-3f2a"]
    assert not chunking_article.startswith(("#", "Chunking for retrieval"))  # the heading that repeats the title
    assert "## " not in chunking_article and "\nMeasure before you tune\n" in chunking_article
    assert "https://www.linkedin.com/posts/ada-lovelace_thanks-activity-7105" not in texts  # near-empty
    shared = [url for url, text in texts.items() if text == index_corpus.SHARED_POST]
    assert shared == ["https://www.linkedin.com/posts/ada-lovelace_shipping-activity-7104"]  # cross-post collapsed
    code = texts["https://github.com/ada/tiny-rag/blob/main/tiny_rag/fusion.py"]
    assert "\n    scores = defaultdict(float)\n" in code  # indentation kept


def test_chunks_fit_the_embedding_window(engine, indexed_corpus, embedding_model):
    from twin.core.embedding import word_piece_counts

    rows = _rows(
        engine, "select kind, text, token_estimate from marts.chunks where user_id = :a", a=indexed_corpus.author_id
    )
    assert max(estimate for _, _, estimate in rows) <= CHUNK_CAP
    assert all(text.strip() for _, text, _ in rows)
    word_pieces = word_piece_counts(embedding_model, [text for _, text, _ in rows])
    assert max(word_pieces) <= embedding_model.max_seq_length
    for (_, text, estimate), pieces in zip(rows, word_pieces):
        assert estimate >= pieces - 2, f"estimate {estimate} below {pieces} word pieces: {text[:80]!r}"
    assert indexed_corpus.embed_report.truncated == 0


def test_long_prose_is_packed_with_overlap_and_short_posts_stay_whole(engine, indexed_corpus):
    author = indexed_corpus.author_id
    article = [
        text
        for (text,) in _rows(
            engine,
            "select text from marts.chunks where user_id = :a and source_url like '%keyword-friend' order by position",
            a=author,
        )
    ]
    assert len(article) > 2
    overlapping = sum(
        1 for before, after in zip(article, article[1:]) if re.split(r"(?<=[.!?])\s+", after)[0] in before
    )
    assert overlapping >= 1
    posts = _rows(
        engine,
        "select d.text, c.text from marts.documents d join marts.chunks c using (document_id) "
        "where d.user_id = :a and d.kind = 'post'",
        a=author,
    )
    assert posts and all(document_text == chunk_text for document_text, chunk_text in posts)


def test_training_samples_are_the_authors_own_writing_split_by_document(engine, indexed_corpus):
    author = indexed_corpus.author_id
    samples = _rows(
        engine,
        "select s.document_id, s.instruction, s.response, s.split, d.is_own_writing, d.kind "
        "from marts.sft_samples s join marts.documents d using (document_id) "
        "where s.user_id = :a",
        a=author,
    )
    assert all(own and kind in ("post", "article") for *_, own, kind in samples)
    assert not any("Hierarchical NSW" in response for _, _, response, *_ in samples)  # the supplied paper
    assert all(instruction.strip() and response.strip() for _, instruction, response, *_ in samples)
    assert all("LinkedIn post" in instruction for _, instruction, *_ in samples)
    splits: dict[str, set] = {}
    for document_id, _, _, split, *_ in samples:
        splits.setdefault(document_id, set()).add(split)
    assert all(len(split) == 1 for split in splits.values())
    titled = [
        instruction for _, instruction, *_ in samples if "Why your vector index needs a keyword friend" in instruction
    ]
    assert titled


def test_rebuild_is_idempotent_and_stable(engine, database_url, indexed_corpus):
    query = "select chunk_id, chunked_at from marts.chunks where user_id = :a order by chunk_id"
    samples_query = "select sample_id, instruction, split from marts.sft_samples where user_id = :a order by sample_id"
    chunks_before = _rows(engine, query, a=indexed_corpus.author_id)
    samples_before = _rows(engine, samples_query, a=indexed_corpus.author_id)
    transform(database_url)
    assert _rows(engine, query, a=indexed_corpus.author_id) == chunks_before  # nothing re-chunked
    assert _rows(engine, samples_query, a=indexed_corpus.author_id) == samples_before


def test_a_failing_dbt_test_stops_downstream_models_and_is_named(engine, database_url, indexed_corpus, tmp_path):
    """A copy of the project with one extra data test on marts.documents that this user's data fails."""
    user_id = random.randint(10**9, 2 * 10**9)
    index_corpus.load(engine, user_id, index_corpus.OTHER_AUTHOR_POSTS[1:])
    project = tmp_path / "dbt"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    (project / "tests" / "assert_no_documents_of_a_banned_user.sql").write_text(
        f"select * from {{{{ ref('documents') }}}} where user_id = {user_id}\n"
    )

    with pytest.raises(TransformFailed) as excinfo:
        transform(database_url, project_dir=project)

    assert "assert_no_documents_of_a_banned_user" in str(excinfo.value)
    skipped = {outcome.name for outcome in excinfo.value.result.skipped}
    assert {"chunks", "sft_samples"} <= skipped
    assert _rows(engine, "select count(*) from marts.chunks where user_id = :u", u=user_id) == [(0,)]


def test_docs_generate(database_url, indexed_corpus):
    import json

    target = generate_docs(database_url)
    assert (target / "index.html").exists()
    catalog = json.loads((target / "catalog.json").read_text())
    assert "model.twin.chunks" in catalog["nodes"]
    assert "search_vector" in catalog["nodes"]["model.twin.chunks"]["columns"]


def test_each_database_user_keeps_its_own_parse(database_url, indexed_corpus):
    """dbt re-parses the whole project when the profile changes: the owner (by hand) and twin_pipeline
    (Airflow) keep separate targets, so neither throws away the other's partial-parse manifest."""
    from urllib.parse import urlsplit

    from twin.core.db import with_login
    from twin.core.settings import get_settings

    settings = get_settings()
    owner_target = target_path(settings, database_url)
    pipeline_target = target_path(settings, with_login(database_url, "twin_pipeline", "secret"))
    assert owner_target.name == urlsplit(database_url).username and pipeline_target.name == "twin_pipeline"
    assert owner_target.parent == pipeline_target.parent == settings.home / "dbt" / "target"

    transform(database_url)
    manifest = owner_target / "partial_parse.msgpack"
    assert manifest.is_file()
    written = manifest.stat().st_mtime_ns
    transform(database_url)  # nothing changed: dbt reuses the parse instead of writing a new one
    assert manifest.stat().st_mtime_ns == written
