"""serving no longer appends to raw.*: it reads pasted links for the request only

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Migration 0002 let twin_serving append the links a request read (twin_raw_append). The web app now
keeps pasted links as the user's web sources and the pipeline collects them, so serving only reads
(DESIGN: serving is stateless). twin_raw_append stays defined, granted to no login role.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("revoke twin_raw_append from twin_serving")


def downgrade() -> None:
    op.execute("grant twin_raw_append to twin_serving")
