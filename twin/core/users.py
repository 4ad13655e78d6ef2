"""Read-only selectors over the web app's users (Django owns the table; the data plane reads it)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys

import sqlalchemy as sa

from twin.core.settings import PROJECT_ROOT

auth_user = sa.Table(
    "auth_user",
    sa.MetaData(),
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("username", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("is_active", sa.Boolean),
)


class UserNotFound(LookupError):
    pass


class UserCreationError(RuntimeError):
    pass


def user_id_for_email(conn: sa.Connection, email: str) -> int:
    """The user id for ``email``; :class:`UserNotFound` with a hint when there is none."""
    normalised = email.strip().lower()
    user_id = conn.execute(
        sa.select(auth_user.c.id).where(sa.func.lower(auth_user.c.email) == normalised, auth_user.c.is_active)
    ).scalar()
    if user_id is None:
        raise UserNotFound(f"no user with email {normalised}: create one with `twin user create {normalised}`")
    return int(user_id)


def is_known_user(conn: sa.Connection, user_id: int) -> bool:
    """Whether ``user_id`` is someone: an active web app user, or one the data plane holds documents
    or models of (a CLI-only installation has no web app tables)."""
    known = conn.execute(
        sa.text(
            "select exists(select 1 from raw.documents where user_id = :id)"
            " or exists(select 1 from registry.models where user_id = :id)"
        ),
        {"id": user_id},
    ).scalar()
    if not known and conn.execute(sa.text("select to_regclass('public.auth_user') is not null")).scalar():
        known = conn.execute(
            sa.text("select exists(select 1 from auth_user where id = :id and is_active)"), {"id": user_id}
        ).scalar()
    return bool(known)


def create_user(email: str, password: str | None, database_url: str, *, admin: bool = False) -> tuple[int, str]:
    """Create a web app user through Django's management command; returns (id, password used)."""
    password = password or secrets.token_urlsafe(12)
    env = {**os.environ, "DATABASE_URL": database_url, "TWIN_NEW_USER_PASSWORD": password}
    args = [sys.executable, "-m", "webapp.manage", "twin_user_create", email] + (["--admin"] if admin else [])
    result = subprocess.run(args, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or ["unknown error"]
        # the exception's own line, not the caret line under a traceback's source excerpt
        message = next((line for line in reversed(lines) if re.match(r"[\w.]+: \S", line)), lines[-1])
        raise UserCreationError(message.removeprefix("CommandError: "))
    return int(result.stdout.strip().splitlines()[-1]), password
