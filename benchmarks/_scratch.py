"""Shared by the benchmarks: a scratch database with the data-plane schema and a ``marts.chunks``
table shaped like the dbt model's, created on the project's server and dropped afterwards."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import sqlalchemy as sa

from twin.core.db import database_url, ensure_database, sqlalchemy_url, with_database

CHUNKS_DDL = """
create schema if not exists marts;
create table marts.chunks (
    chunk_id text primary key,
    document_id text not null,
    user_id bigint not null,
    platform text not null default 'linkedin',
    kind text not null default 'article',
    text text not null,
    title text,
    source_url text not null,
    published_at timestamptz,
    position integer not null default 0,
    token_estimate integer,
    search_vector tsvector generated always as (to_tsvector('english', text)) stored
);
create index on marts.chunks (user_id, document_id);
"""
CHUNKS_SEARCH_INDEX = "create index on marts.chunks using gin (search_vector)"


@contextlib.contextmanager
def migrated_database(prefix: str = "twin_bench") -> Iterator[tuple[str, sa.Engine]]:
    """(url, engine) of a new database on the project's server migrated to head (raw, vectors,
    registry), dropped at exit."""
    from twin.core.migrate import upgrade_data_plane

    url = database_url()
    admin_url = with_database(url, "postgres")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    ensure_database(admin_url, name)
    scratch_url = with_database(url, name)
    engine = sa.create_engine(sqlalchemy_url(scratch_url))
    try:
        upgrade_data_plane(scratch_url)
        yield scratch_url, engine
    finally:
        engine.dispose()
        admin = sa.create_engine(sqlalchemy_url(admin_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@contextlib.contextmanager
def scratch_database() -> Iterator[sa.Engine]:
    """An engine on a new database (raw/vectors/registry migrated, an empty marts.chunks), dropped at exit."""
    with migrated_database() as (_, engine):
        with engine.begin() as conn:
            conn.exec_driver_sql(CHUNKS_DDL)
        yield engine


def insert_chunks(engine: sa.Engine, rows: list[tuple[str, int, str]]) -> None:
    """(chunk_id, user_id, text) rows, copied in."""
    with engine.begin() as conn:
        with conn.connection.driver_connection.cursor() as cursor:
            with cursor.copy("copy marts.chunks (chunk_id, document_id, user_id, text, source_url) from stdin") as copy:
                for chunk_id, user_id, text in rows:
                    copy.write_row((chunk_id, f"doc-{chunk_id}", user_id, text, f"https://example.com/{chunk_id}"))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]
