"""the web app no longer appends to raw.*: uploaded exports are imported by the twin_import DAG

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

Migration 0002 let twin_web append documents (twin_raw_append) because the web process imported
uploaded exports in a thread. Imports now run as Airflow work (the pipeline role), so the web app
reads the data plane only. Serving keeps appending the links a request read.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("revoke twin_raw_append from twin_web")


def downgrade() -> None:
    op.execute("grant twin_raw_append to twin_web")
