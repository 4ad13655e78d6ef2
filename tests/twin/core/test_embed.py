"""Incremental, resumable embedding; a second model keeps the first one's vectors."""

from __future__ import annotations

import random
import shutil

import pytest
import sqlalchemy as sa

from tests.twin import index_corpus
from twin.core.embed import embed_chunks
from twin.core.raw import DocumentRecord
from twin.core.tables import hnsw_index_name
from twin.core.transform import transform

pytestmark = pytest.mark.slow
MODEL = "all-MiniLM-L6-v2"


def _embedded_chunk_ids(engine, model: str = MODEL) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.text("select chunk_id from vectors.chunk_embeddings where model = :m"), {"m": model}
            ).scalars()
        )


def _chunk_ids(engine, user_id: int, url_like: str = "%") -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.text("select chunk_id from marts.chunks where user_id = :u and source_url like :url"),
                {"u": user_id, "url": url_like},
            ).scalars()
        )


def test_every_chunk_gets_one_unit_vector(engine, indexed_corpus):
    author = indexed_corpus.author_id
    assert indexed_corpus.embed_report.embedded >= 25
    assert indexed_corpus.embed_report.truncated == 0
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select e.user_id = c.user_id, vector_dims(e.embedding), round(vector_norm(e.embedding)::numeric, 3) "
                "from marts.chunks c join vectors.chunk_embeddings e on e.chunk_id = c.chunk_id and e.model = :m "
                "where c.user_id = :u"
            ),
            {"m": MODEL, "u": author},
        ).all()
    assert len(rows) == len(_chunk_ids(engine, author))
    assert set(rows) == {(True, 384, 1)}


def test_rerun_with_nothing_new_computes_nothing(engine, indexed_corpus):
    report = embed_chunks(engine, MODEL)  # no model passed: nothing pending means none is even loaded
    assert (report.pending, report.embedded, report.dimension) == (0, 0, None)


def test_new_and_changed_documents_embed_only_their_new_chunks(engine, database_url, indexed_corpus, embedding_model):
    # An author of its own: the shared corpus stays as the other tests expect it.
    author = random.randint(10**9, 2 * 10**9)
    index_corpus.load(engine, author, index_corpus.AUTHOR_DOCUMENTS)
    transform(database_url)
    embed_chunks(engine, MODEL, model=embedding_model)  # this author's chunks, and whatever other tests left pending
    lessons_url = "https://www.linkedin.com/pulse/lessons-from-fine-tuning-small-models-ada-lovelace"
    lessons_before = _chunk_ids(engine, author, lessons_url)
    embedded_before = _embedded_chunk_ids(engine)
    others_before = _chunk_ids(engine, author) - lessons_before

    lessons = next(record for record in index_corpus.ARTICLES if record.source_url == lessons_url)
    changed_lessons = DocumentRecord(
        **{
            **lessons.__dict__,
            "content": lessons.content
            + (
                "\n\nA postscript, since several readers asked: the adapters are a few megabytes each, so keeping "
                "every version of every person's adapter is cheap, and rolling back a bad training run takes seconds."
            ),
        }
    )
    new_post = DocumentRecord(
        platform="linkedin",
        kind="post",
        source_url="https://www.linkedin.com/posts/ada-lovelace_evals-activity-7199",
        content="Your evaluation set is a product. Version it, review changes to it, and never let it leak into training.",
    )
    index_corpus.load(engine, author, [changed_lessons, new_post])
    transform(database_url)

    lessons_after = _chunk_ids(engine, author, lessons_url)
    new_post_chunks = _chunk_ids(engine, author, new_post.source_url)
    assert len(new_post_chunks) == 1
    assert lessons_before & lessons_after, "chunks whose text did not change keep their ids"
    assert lessons_after - lessons_before, "the appended paragraph makes at least one new chunk"
    assert _chunk_ids(engine, author) - lessons_after - new_post_chunks == others_before

    report = embed_chunks(engine, MODEL, model=embedding_model)
    newly_embedded = _embedded_chunk_ids(engine) - embedded_before
    assert {chunk for chunk in newly_embedded if chunk in _chunk_ids(engine, author)} == (
        lessons_after - lessons_before
    ) | new_post_chunks
    assert report.embedded == len(newly_embedded)
    assert report.pruned >= len(lessons_before - lessons_after)  # vectors of the replaced chunks
    assert not (lessons_before - lessons_after) & _embedded_chunk_ids(engine)


@pytest.fixture(scope="module")
def tiny_model_path(tmp_path_factory, embedding_model):
    """A second, different model built locally: a 1-layer BERT with random weights, 32 dimensions."""
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel

    from twin.core.embedding import model_location

    transformer_dir = tmp_path_factory.mktemp("tiny-bert")
    config = BertConfig(
        vocab_size=embedding_model.tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(transformer_dir)
    source = model_location(MODEL)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(f"{source}/{name}", transformer_dir / name)
    model_dir = tmp_path_factory.mktemp("tiny-st")
    SentenceTransformer(str(transformer_dir), device="cpu").save(str(model_dir))
    return str(model_dir)


def test_model_switch_is_resumable_and_keeps_the_old_vectors(engine, indexed_corpus, tiny_model_path):
    from twin.core.embedding import load_embedding_model

    old_vectors = _embedded_chunk_ids(engine)
    tiny = load_embedding_model(tiny_model_path)
    with engine.connect() as conn:
        all_chunks = conn.execute(sa.text("select count(*) from marts.chunks")).scalar()

    class Killed(Exception):
        pass

    def kill_after_first_page(done, total):
        raise Killed

    with pytest.raises(Killed):  # a crash after the first committed page (batch 1 x 16 per page)
        embed_chunks(engine, tiny_model_path, model=tiny, batch_size=1, on_progress=kill_after_first_page)
    assert len(_embedded_chunk_ids(engine, tiny_model_path)) == 16

    resumed = embed_chunks(engine, tiny_model_path, model=tiny, batch_size=8)
    assert resumed.pending == resumed.embedded == all_chunks - 16
    assert resumed.dimension == 32
    assert len(_embedded_chunk_ids(engine, tiny_model_path)) == all_chunks
    assert _embedded_chunk_ids(engine) == old_vectors  # the first model's vectors are untouched

    with engine.begin() as conn:
        indexdef = conn.execute(
            sa.text("select indexdef from pg_indexes where indexname = :n"), {"n": hnsw_index_name(tiny_model_path)}
        ).scalar()
        assert "vector(32)" in indexdef and "hnsw" in indexdef
        conn.execute(sa.text("delete from vectors.chunk_embeddings where model = :m"), {"m": tiny_model_path})
        conn.execute(sa.text(f'drop index vectors."{hnsw_index_name(tiny_model_path)}"'))


def test_the_database_dying_mid_embed_fails_with_the_reason_and_a_rerun_loses_and_duplicates_nothing(
    engine, database_url, indexed_corpus, embedding_model
):
    from tests.serving.conftest import TcpProxy
    from twin.core.db import connection_parts, sqlalchemy_url

    key = f"fault-test-{random.randint(1000, 9999)}"  # a model key of its own: every chunk is pending for it
    parts = connection_parts(database_url)
    proxy = TcpProxy((parts["host"], int(parts["port"])))
    proxy.start()
    proxied = sa.create_engine(
        sqlalchemy_url(f"postgresql://{parts['user']}:{parts['password']}@127.0.0.1:{proxy.port}/{parts['dbname']}")
    )
    try:
        with pytest.raises(sa.exc.OperationalError) as excinfo:  # the DAG task fails with this, and is retried
            embed_chunks(
                proxied,
                key,
                model=embedding_model,
                batch_size=1,
                prune=False,  # pages of 16 chunks
                on_progress=lambda done, pending: proxy.stop(),
            )  # the server "dies" after the first page
        assert "connection" in str(excinfo.value).lower() or "server" in str(excinfo.value).lower()
    finally:
        proxy.stop()
        proxied.dispose()
    first_page = _embedded_chunk_ids(engine, key)
    with engine.connect() as conn:
        total = conn.execute(sa.text("select count(*) from marts.chunks")).scalar()
    assert 0 < len(first_page) < total, "the committed page stays"
    report = embed_chunks(engine, key, model=embedding_model, batch_size=2, prune=False)
    assert report.embedded == total - len(first_page), "the re-run embeds only what is missing"
    with engine.connect() as conn:
        rows, distinct = conn.execute(
            sa.text("select count(*), count(distinct chunk_id) from vectors.chunk_embeddings where model = :m"),
            {"m": key},
        ).one()
    assert rows == distinct == total, "every chunk once: none lost, none duplicated"
    with engine.begin() as conn:
        conn.execute(sa.text("delete from vectors.chunk_embeddings where model = :m"), {"m": key})
        conn.execute(sa.text(f'drop index if exists vectors."{hnsw_index_name(key)}"'))
