"""service roles: web, serving and pipeline, each with the least privilege it needs

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

The roles are created NOLOGIN (they are cluster-wide: another database on the server may have made
them already); `twin migrate` then gives them a password (twin.core.db.grant_service_roles), and grants
on Django's tables that do not exist yet when this runs on an empty database.

- twin_web: DML on the web app's tables (schema public, now and later: default privileges);
  SELECT on raw, vectors, registry, marts.
- twin_serving: SELECT on raw, vectors, registry, marts (+ auth_user's id/email/is_active, later).
- twin_pipeline (Airflow tasks: crawlers, dbt, embedding, training): DML on raw, vectors, registry;
  owns dbt's schemas and vectors.chunk_embeddings, with CREATE on schema vectors (dbt replaces
  relations; embedding creates an HNSW index per model); CREATE on the database (dbt's `create
  schema if not exists`); nothing of the web app's but SELECT on sources_source (later).
- twin_raw_append (NOLOGIN, granted to serving; to web until 0003): append documents to raw.documents and
  record the run in raw.crawl_runs (insert, finish it) - the web app imports uploaded exports and
  serving stores the links a request read. No UPDATE/DELETE of documents, no other column of a run.
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

WEB, SERVING, PIPELINE, RAW_APPEND = "twin_web", "twin_serving", "twin_pipeline", "twin_raw_append"
READERS = f"{WEB}, {SERVING}"
DATA_PLANE = ("raw", "vectors", "registry")
DBT_SCHEMAS = ("staging", "intermediate", "marts")
DML = "select, insert, update, delete"
RUN_RESULT_COLUMNS = (
    "finished_at, status, documents_seen, documents_new, documents_changed, documents_unchanged, "
    "documents_failed, errors, error"
)


def _create_role(name: str) -> None:
    # roles are per server: another database's migration may create it at the same moment
    op.execute(
        f"do $$ begin if not exists (select from pg_roles where rolname = '{name}') then "
        f"create role {name} nologin; end if; "
        f"exception when duplicate_object or unique_violation then null; end $$"
    )


def _change_owner(schema: str, owner: str) -> None:
    """Relations and functions already in ``schema`` (built before this migration) change owner."""
    op.execute(f"""
        do $$
        declare item record;
        begin
            for item in
                select format('alter %s %I.%I owner to {owner}',
                              case c.relkind when 'v' then 'view' when 'm' then 'materialized view'
                                             when 'f' then 'foreign table' else 'table' end,
                              n.nspname, c.relname) as ddl
                from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where n.nspname = '{schema}' and c.relkind in ('r', 'p', 'v', 'm', 'f')
                union all
                select format('alter routine %s owner to {owner}', p.oid::regprocedure)
                from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = '{schema}'
            loop
                execute item.ddl;
            end loop;
        end $$""")


def upgrade() -> None:
    for role in (WEB, SERVING, PIPELINE, RAW_APPEND):
        _create_role(role)
    # The owner (the role running migrations) keeps control of what the pipeline owns, also when it
    # is not a superuser (needed for `alter ... owner to` and default privileges for that role).
    op.execute(f"grant {PIPELINE} to current_user")
    op.execute("revoke create on schema public from public")  # PostgreSQL 15+ default; older servers granted it
    op.execute(f"do $$ begin execute format('grant create on database %I to {PIPELINE}', current_database()); end $$")

    for schema in DATA_PLANE:
        op.execute(f"grant usage on schema {schema} to {READERS}, {PIPELINE}")
        op.execute(f"grant select on all tables in schema {schema} to {READERS}")
        op.execute(f"grant {DML} on all tables in schema {schema} to {PIPELINE}")
        op.execute(f"grant usage, select on all sequences in schema {schema} to {PIPELINE}")
        op.execute(f"alter default privileges in schema {schema} grant select on tables to {READERS}")
        op.execute(f"alter default privileges in schema {schema} grant {DML} on tables to {PIPELINE}")
        op.execute(f"alter default privileges in schema {schema} grant usage, select on sequences to {PIPELINE}")
    # embedding creates an HNSW index per model: that takes owning the table and CREATE in its schema
    op.execute(f"alter table vectors.chunk_embeddings owner to {PIPELINE}")
    op.execute(f"grant create on schema vectors to {PIPELINE}")

    op.execute(f"grant usage on schema raw to {RAW_APPEND}")
    op.execute(f"grant select, insert on raw.documents to {RAW_APPEND}")
    op.execute(f"grant select, insert, update ({RUN_RESULT_COLUMNS}) on raw.crawl_runs to {RAW_APPEND}")
    op.execute(f"grant {RAW_APPEND} to {READERS}")

    # Django's tables: existing ones now, the ones its migrations create later by default.
    op.execute(f"grant {DML} on all tables in schema public to {WEB}")
    op.execute(f"revoke all on public.twin_alembic_version from {WEB}")
    op.execute(f"grant usage, select on all sequences in schema public to {WEB}")
    op.execute(f"alter default privileges in schema public grant {DML} on tables to {WEB}")
    op.execute(f"alter default privileges in schema public grant usage, select on sequences to {WEB}")

    for schema in DBT_SCHEMAS:
        op.execute(f"create schema if not exists {schema} authorization {PIPELINE}")
        op.execute(f"alter schema {schema} owner to {PIPELINE}")
        _change_owner(schema, PIPELINE)
    op.execute(f"grant usage on schema marts to {READERS}")
    op.execute(f"grant select on all tables in schema marts to {READERS}")
    op.execute(f"alter default privileges for role {PIPELINE} in schema marts grant select on tables to {READERS}")
    op.execute(
        f"alter default privileges in schema marts grant select on tables to {READERS}"
    )  # dbt run by hand as the owner


def downgrade() -> None:
    # The roles and their memberships stay (they are the server's: other databases may use them);
    # this database's grants go.
    op.execute(f"alter default privileges in schema marts revoke select on tables from {READERS}")
    op.execute(f"alter default privileges for role {PIPELINE} in schema marts revoke select on tables from {READERS}")
    for schema in DBT_SCHEMAS:
        op.execute(f"alter schema {schema} owner to current_user")
        _change_owner(schema, "current_user")
    op.execute(f"revoke all on all tables in schema marts from {READERS}")
    op.execute(f"revoke usage on schema marts from {READERS}")

    op.execute(f"alter default privileges in schema public revoke all on tables from {WEB}")
    op.execute(f"alter default privileges in schema public revoke all on sequences from {WEB}")
    op.execute(f"revoke all on all tables in schema public from {WEB}, {SERVING}, {PIPELINE}")
    op.execute(f"revoke all on all sequences in schema public from {WEB}")

    op.execute(f"revoke all on raw.documents, raw.crawl_runs from {RAW_APPEND}")
    op.execute(f"revoke usage on schema raw from {RAW_APPEND}")

    op.execute(f"revoke create on schema vectors from {PIPELINE}")
    op.execute("alter table vectors.chunk_embeddings owner to current_user")
    for schema in DATA_PLANE:
        op.execute(f"alter default privileges in schema {schema} revoke all on tables from {READERS}, {PIPELINE}")
        op.execute(f"alter default privileges in schema {schema} revoke all on sequences from {PIPELINE}")
        op.execute(f"revoke all on all tables in schema {schema} from {READERS}, {PIPELINE}")
        op.execute(f"revoke all on all sequences in schema {schema} from {PIPELINE}")
        op.execute(f"revoke usage on schema {schema} from {READERS}, {PIPELINE}")
    op.execute(
        f"do $$ begin execute format('revoke create on database %I from {PIPELINE}', current_database()); end $$"
    )
