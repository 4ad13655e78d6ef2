import uuid

import sqlalchemy as sa

from tests.training.conftest import local_ray, training_settings  # noqa: F401  (one local Ray for training DAG runs)
from twin.core.sources import sources_source


def new_user(database_url: str, who: str) -> int:
    """A fresh web app user whose email starts with ``who``; returns the id."""
    from twin.core.users import create_user

    return create_user(f"{who}-{uuid.uuid4().hex[:8]}@example.com", "correct horse battery staple", database_url)[0]


def add_sources(engine, user_id: int, urls: list[tuple[str, str]]) -> None:
    """Active sources ``(platform, url)`` for ``user_id``, as the web app adds them."""
    with engine.begin() as conn:
        conn.execute(
            sources_source.insert().values(created_at=sa.func.now(), updated_at=sa.func.now()),
            [{"user_id": user_id, "platform": platform, "url": url, "is_active": True} for platform, url in urls],
        )
