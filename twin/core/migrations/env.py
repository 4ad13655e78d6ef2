"""Alembic environment: runs against the connection handed over by twin.core.migrate."""

from alembic import context

from twin.core.tables import metadata

VERSION_TABLE = "twin_alembic_version"


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_schemas=True,
        include_name=lambda name, type_, parent: type_ != "schema" or name in ("raw", "vectors", "registry"),
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run `twin migrate`")
run_migrations_online()
