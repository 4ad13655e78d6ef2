"""Fixtures of the transform → embed → retrieval tests: the embedding model (loaded once) and the
fixture corpus, collected for two authors, built with dbt and embedded once per session."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from tests.twin import index_corpus


@pytest.fixture(scope="session")
def embedding_model():
    from twin.core.embedding import load_embedding_model

    return load_embedding_model("all-MiniLM-L6-v2")


@dataclass
class IndexedCorpus:
    author_id: int
    author_email: str
    other_author_id: int
    transform_result: object
    embed_report: object


@pytest.fixture(scope="session")
def indexed_corpus(engine, database_url, embedding_model) -> IndexedCorpus:
    """Ada (a web app user, so the CLI can search as her) and Grace, through dbt and embedding."""
    import uuid

    from twin.core.embed import embed_chunks
    from twin.core.transform import transform
    from twin.core.users import create_user

    author_email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    author_id, _ = create_user(author_email, "correct horse battery staple", database_url)
    other_author_id = random.randint(10**9, 2 * 10**9)
    index_corpus.load(engine, author_id, index_corpus.AUTHOR_DOCUMENTS)
    index_corpus.load(engine, other_author_id, index_corpus.OTHER_AUTHOR_POSTS)
    result = transform(database_url)
    report = embed_chunks(engine, "all-MiniLM-L6-v2", model=embedding_model)
    return IndexedCorpus(author_id, author_email, other_author_id, result, report)
