"""raw, vectors and registry schemas with pgvector

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMAS = ("raw", "vectors", "registry")
PLATFORMS = "platform in ('linkedin', 'medium', 'substack', 'github', 'web')"


def _timestamp(name: str, **kwargs) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), **kwargs)


def _counter(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=False, server_default="0")


def _jsonb(name: str, empty: str) -> sa.Column:
    return sa.Column(name, JSONB, nullable=False, server_default=sa.text(f"'{empty}'::jsonb"))


def upgrade() -> None:
    op.execute("create extension if not exists vector")
    for schema in SCHEMAS:
        op.execute(f"create schema if not exists {schema}")

    op.create_table(
        "crawl_runs",
        sa.Column("crawl_run_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("platform", sa.Text, nullable=False),
        _timestamp("started_at", nullable=False, server_default=sa.func.now()),
        _timestamp("finished_at"),
        sa.Column("status", sa.Text, nullable=False, server_default="running"),
        *(_counter(f"documents_{n}") for n in ("seen", "new", "changed", "unchanged", "failed")),
        _jsonb("errors", "[]"),
        sa.Column("error", sa.Text),
        sa.CheckConstraint(PLATFORMS, name="crawl_runs_platform_valid"),
        sa.CheckConstraint("status in ('running', 'succeeded', 'partial', 'failed')", name="crawl_runs_status_valid"),
        schema="raw",
    )
    op.create_index("crawl_runs_user_started_idx", "crawl_runs", ["user_id", sa.text("started_at desc")], schema="raw")

    op.create_table(
        "documents",
        sa.Column("document_version_id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("platform", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("source_url", sa.Text, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("content", sa.Text, nullable=False),
        _timestamp("published_at"),
        _jsonb("metadata", "{}"),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("is_own_writing", sa.Boolean, nullable=False),
        sa.Column("crawl_run_id", UUID(as_uuid=True), sa.ForeignKey("raw.crawl_runs.crawl_run_id"), nullable=False),
        _timestamp("fetched_at", nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(PLATFORMS, name="documents_platform_valid"),
        sa.CheckConstraint(
            "kind in ('post', 'article', 'repository_file', 'paper', 'link')", name="documents_kind_valid"
        ),
        schema="raw",
    )
    op.create_index(
        "documents_user_url_fetched_idx",
        "documents",
        ["user_id", "source_url", sa.text("fetched_at desc")],
        schema="raw",
    )

    op.create_table(
        "chunk_embeddings",
        sa.Column("chunk_id", sa.Text, primary_key=True),
        sa.Column("model", sa.Text, primary_key=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("embedding", Vector(), nullable=False),
        _timestamp("embedded_at", nullable=False, server_default=sa.func.now()),
        schema="vectors",
    )
    op.create_index("chunk_embeddings_model_user_idx", "chunk_embeddings", ["model", "user_id"], schema="vectors")
    op.execute(
        "create index chunk_embeddings_hnsw_all_minilm_l6_v2 on vectors.chunk_embeddings "
        "using hnsw ((embedding::vector(384)) vector_cosine_ops) where model = 'all-MiniLM-L6-v2'"
    )

    op.create_table(
        "models",
        sa.Column("model_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", sa.BigInteger, nullable=False),
        sa.Column("base_model", sa.Text, nullable=False),
        sa.Column("adapter_uri", sa.Text),
        sa.Column("dataset_snapshot", sa.Text),
        _jsonb("config", "{}"),
        _jsonb("metrics", "{}"),
        sa.Column("status", sa.Text, nullable=False, server_default="training"),
        sa.Column("error", sa.Text),
        _timestamp("created_at", nullable=False, server_default=sa.func.now()),
        _timestamp("updated_at", nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("status in ('training', 'ready', 'failed', 'active')", name="models_status_valid"),
        schema="registry",
    )
    op.create_index("models_user_created_idx", "models", ["user_id", sa.text("created_at desc")], schema="registry")
    op.create_index(
        "models_one_active_per_user",
        "models",
        ["user_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
        schema="registry",
    )


def downgrade() -> None:
    op.drop_table("models", schema="registry")
    op.drop_table("chunk_embeddings", schema="vectors")
    op.drop_table("documents", schema="raw")
    op.drop_table("crawl_runs", schema="raw")
    for schema in reversed(SCHEMAS):
        op.execute(f"drop schema if exists {schema}")
