"""Read-only selectors over the web app's ``sources_source`` table (Django owns it; the DAGs read it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import sqlalchemy as sa

sources_source = sa.Table(
    "sources_source",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("user_id", sa.BigInteger),
    sa.Column("platform", sa.Text),
    sa.Column("url", sa.Text),
    sa.Column("is_active", sa.Boolean),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)


@dataclass(frozen=True)
class SourceRef:
    source_id: int
    user_id: int
    platform: str
    url: str

    def as_dict(self) -> dict:
        return asdict(self)


def active_sources(conn: sa.Connection, user_id: int | None = None) -> list[SourceRef]:
    """Active sources of one user, or of every user when ``user_id`` is None, in a stable order."""
    query = sa.select(sources_source).where(sources_source.c.is_active)
    if user_id is not None:
        query = query.where(sources_source.c.user_id == user_id)
    rows = conn.execute(query.order_by(sources_source.c.user_id, sources_source.c.id))
    return [SourceRef(row.id, row.user_id, row.platform, row.url) for row in rows]
