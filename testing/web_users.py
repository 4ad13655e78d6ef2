"""Web app users that session fixtures create for many tests.

pytest-django empties every table Django owns after a ``transaction=True`` test (``auth_user``
included), while the user's documents, vectors and adapters stay in tables Django does not own.
A session fixture's user therefore has to be put back before each test that uses it, whichever
tests ran before it on the same worker.
"""

from __future__ import annotations

import sqlalchemy as sa


def restore_web_user(engine: sa.Engine, user_id: int, email: str) -> None:
    """Put back ``auth_user`` row ``user_id`` (active, with no usable password) if it is gone."""
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into auth_user (id, password, is_superuser, username, first_name, last_name, email,"
                " is_staff, is_active, date_joined)"
                " values (:id, '!', false, :email, '', '', :email, false, true, now()) on conflict do nothing"
            ),
            {"id": user_id, "email": email},
        )
