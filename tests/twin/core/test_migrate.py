"""Migrations from an empty database, re-runs as no-ops, and the schema matching twin.core.tables."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from twin.core.db import drop_database, sqlalchemy_url
from twin.core.migrate import VERSION_TABLE, head_revision, migrate
from twin.core.settings import load_settings
from twin.core.tables import metadata


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(sqlalchemy_url(url))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select table_schema || '.' || table_name from information_schema.tables "
                    "where table_schema not in ('pg_catalog', 'information_schema')"
                )
            )
            return {row[0] for row in rows}
    finally:
        engine.dispose()


def test_migrate_from_empty_then_rerun_is_a_noop(scratch_database):
    settings = load_settings(airflow_db_name=f"airflow_{scratch_database.rsplit('_', 1)[-1]}")
    first = migrate(scratch_database, settings)
    assert first.alembic_before is None and first.alembic_after == head_revision()
    assert "auth.0001_initial" in first.django_applied
    assert "sources.0001_initial" in first.django_applied
    assert first.airflow_database_created
    tables = _tables(scratch_database)
    assert {"raw.documents", "raw.crawl_runs", "vectors.chunk_embeddings", "registry.models"} <= tables
    assert {
        "public.auth_user",
        "public.sources_source",
        "public.collection_collectionrequest",
        "public.compose_prompt",
        "public.compose_generation",
    } <= tables

    second = migrate(scratch_database, settings)
    assert not second.changed
    assert second.django_applied == [] and second.airflow_database_created is False

    drop_database(scratch_database, settings.airflow_db_name)


def test_session_database_matches_the_table_definitions(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "version_table": VERSION_TABLE,
                "include_schemas": True,
                "include_name": lambda name, type_, parent: type_ != "schema" or name in ("raw", "vectors", "registry"),
            },
        )
        diff = [
            change
            for change in compare_metadata(context, metadata)
            # The HNSW expression index is created by SQL and has no Table-level twin.
            if not (change[0] == "remove_index" and change[1].name.startswith("chunk_embeddings_hnsw_"))
        ]
    assert diff == []


def test_extension_and_hnsw_index_exist(db_conn):
    assert db_conn.execute(sa.text("select count(*) from pg_extension where extname = 'vector'")).scalar() == 1
    indexdef = db_conn.execute(
        sa.text(
            "select indexdef from pg_indexes where schemaname = 'vectors' and indexname = 'chunk_embeddings_hnsw_all_minilm_l6_v2'"
        )
    ).scalar()
    assert "USING hnsw" in indexdef and "vector_cosine_ops" in indexdef and "all-MiniLM-L6-v2" in indexdef


def test_raw_documents_refuse_unknown_platforms(db_conn):
    import uuid

    import pytest

    from twin.core.tables import crawl_runs, documents

    run_id = uuid.uuid4()
    db_conn.execute(crawl_runs.insert().values(crawl_run_id=run_id, user_id=1, source="x", platform="web"))
    with pytest.raises(sa.exc.IntegrityError, match="documents_platform_valid"):
        with db_conn.begin_nested():
            db_conn.execute(
                documents.insert().values(
                    document_version_id="v1",
                    user_id=1,
                    platform="myspace",
                    kind="post",
                    source_url="https://x",
                    content="hello",
                    content_hash="0" * 64,
                    is_own_writing=True,
                    crawl_run_id=run_id,
                )
            )
