"""SQLAlchemy Core tables of the schemas ``twin`` owns: ``raw``, ``vectors`` and ``registry``.

DDL changes go through Alembic migrations in ``twin/core/migrations``; these definitions are what the
code reads and writes with, and a test checks they match the migrated database.
"""

from __future__ import annotations

import sqlalchemy as sa
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects.postgresql import JSONB, UUID

from twin.core.vocabulary import KINDS, PLATFORMS

CRAWL_STATUSES = ("running", "succeeded", "partial", "failed")
MODEL_STATUSES = ("training", "ready", "failed", "active")

EMBEDDING_DIMENSIONS = {"all-MiniLM-L6-v2": 384}

metadata = sa.MetaData()


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


crawl_runs = sa.Table(
    "crawl_runs",
    metadata,
    sa.Column("crawl_run_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("platform", sa.Text, nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("status", sa.Text, nullable=False, server_default="running"),
    sa.Column("documents_seen", sa.Integer, nullable=False, server_default="0"),
    sa.Column("documents_new", sa.Integer, nullable=False, server_default="0"),
    sa.Column("documents_changed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("documents_unchanged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("documents_failed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("errors", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("error", sa.Text),
    sa.CheckConstraint(_in("platform", PLATFORMS), name="crawl_runs_platform_valid"),
    sa.CheckConstraint(_in("status", CRAWL_STATUSES), name="crawl_runs_status_valid"),
    sa.Index("crawl_runs_user_started_idx", "user_id", sa.text("started_at desc")),
    schema="raw",
)

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("document_version_id", sa.Text, primary_key=True),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("platform", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("source_url", sa.Text, nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True)),
    sa.Column("metadata", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("is_own_writing", sa.Boolean, nullable=False),
    sa.Column("crawl_run_id", UUID(as_uuid=True), sa.ForeignKey("raw.crawl_runs.crawl_run_id"), nullable=False),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint(_in("platform", PLATFORMS), name="documents_platform_valid"),
    sa.CheckConstraint(_in("kind", KINDS), name="documents_kind_valid"),
    sa.Index("documents_user_url_fetched_idx", "user_id", "source_url", sa.text("fetched_at desc")),
    schema="raw",
)

chunk_embeddings = sa.Table(
    "chunk_embeddings",
    metadata,
    sa.Column("chunk_id", sa.Text, primary_key=True),
    sa.Column("model", sa.Text, primary_key=True),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("embedding", Vector(), nullable=False),
    sa.Column("embedded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("chunk_embeddings_model_user_idx", "model", "user_id"),
    schema="vectors",
)

models = sa.Table(
    "models",
    metadata,
    sa.Column("model_id", UUID(as_uuid=True), primary_key=True),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("base_model", sa.Text, nullable=False),
    sa.Column("adapter_uri", sa.Text),
    sa.Column("dataset_snapshot", sa.Text),
    sa.Column("config", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("metrics", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
    sa.Column("status", sa.Text, nullable=False, server_default="training"),
    sa.Column("error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint(_in("status", MODEL_STATUSES), name="models_status_valid"),
    sa.Index("models_user_created_idx", "user_id", sa.text("created_at desc")),
    sa.Index("models_one_active_per_user", "user_id", unique=True, postgresql_where=sa.text("status = 'active'")),
    schema="registry",
)


def hnsw_index_name(model: str) -> str:
    slug = "".join(ch if ch.isalnum() else "_" for ch in model.lower()).strip("_")
    return f"chunk_embeddings_hnsw_{slug}"[:63]


def hnsw_index_ddl(model: str, dimensions: int) -> str:
    """An HNSW cosine index over one model's vectors (the column has no fixed dimension, so the
    index is on a cast expression limited to that model's rows, as pgvector documents)."""
    quoted_model = model.replace("'", "''")
    return (
        f"create index if not exists {hnsw_index_name(model)} on vectors.chunk_embeddings "
        f"using hnsw ((embedding::vector({int(dimensions)})) vector_cosine_ops) "
        f"where model = '{quoted_model}'"
    )
