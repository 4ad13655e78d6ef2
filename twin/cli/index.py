"""``twin transform``, ``twin embed`` and ``twin search``: the path from raw documents to retrieval."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from twin.cli.common import console, fail, settings_or_exit
from twin.core import db as twin_db
from twin.core.vocabulary import KINDS, PLATFORMS

app = typer.Typer()


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _engine(settings):
    try:
        engine = twin_db.get_engine(settings)
        twin_db.check_connection(engine)
    except twin_db.DatabaseUnavailable as exc:
        raise fail(str(exc))
    return engine


@app.command()
def transform(
    select: Annotated[list[str] | None, typer.Option("--select", "-s", help="dbt node selection (repeatable)")] = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="rebuild incremental models (chunks) from scratch")
    ] = False,
    docs: Annotated[bool, typer.Option("--docs", help="also run `dbt docs generate` afterwards")] = False,
) -> None:
    """Clean, chunk and build training datasets with dbt (`dbt build`: models and their tests).

    A failing test stops everything downstream of it, and the command exits 1 naming it.
    """
    from twin.core.transform import TransformFailed, generate_docs
    from twin.core.transform import transform as run_transform

    settings = settings_or_exit()
    try:
        url = twin_db.database_url(settings)
    except twin_db.DatabaseUnavailable as exc:
        raise fail(str(exc))
    try:
        with _progress() as progress:
            task = progress.add_task("dbt build", total=None)

            def advance(done: int, total: int, name: str) -> None:
                progress.update(task, completed=done, total=total, description=f"dbt build: {name}")

            result = run_transform(
                url, select=select, full_refresh=full_refresh, settings=settings, on_progress=advance
            )
        console.print(f"dbt build succeeded: {result.summary()}.")
        for warning in result.warnings:
            console.print(f"[yellow]warning:[/] {warning.resource_type} {warning.name}: {warning.message}")
        if docs:
            target = generate_docs(url, settings=settings)
            console.print(f"dbt docs written to {target} (serve them with `dbt docs serve --target-path {target}`).")
    except TransformFailed as exc:
        raise fail(str(exc))


@app.command()
def embed(
    model: Annotated[str | None, typer.Option(help="embedding model (default: TWIN_EMBEDDING_MODEL)")] = None,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="texts per forward pass (default: TWIN_EMBED_BATCH_SIZE)")
    ] = None,
) -> None:
    """Embed the chunks that have no vector for the model yet (incremental and resumable)."""
    from twin.core.embed import EmbedError, embed_chunks

    settings = settings_or_exit()
    engine = _engine(settings)
    model_name = model or settings.embedding_model
    try:
        with _progress() as progress:
            task = progress.add_task(f"embedding with {model_name}", total=None)
            report = embed_chunks(
                engine,
                model_name,
                batch_size=batch_size,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except EmbedError as exc:
        raise fail(str(exc))
    if report.pending == 0:
        console.print(f"Nothing to embed: every chunk has a {model_name} vector.")
    else:
        rate = report.embedded / report.seconds if report.seconds else 0.0
        console.print(f"Embedded {report.embedded} chunks with {model_name} in {report.seconds:.1f}s ({rate:.1f}/s).")
        style = "green" if report.truncated == 0 else "bold yellow"
        console.print(
            f"[{style}]{report.truncated} chunks exceeded the model's {report.max_seq_length} word pieces "
            "and were truncated.[/]"
        )
    if report.pruned:
        console.print(f"Removed {report.pruned} vectors of chunks that no longer exist.")


def _parse_date(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise fail(f"{option} must be an ISO date such as 2025-03-01, got {value!r}", 2)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="what to look for")],
    user: Annotated[str, typer.Option("--user", "-u", help="email of the user whose content is searched")],
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="how many results")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print a JSON list of results")] = False,
    chunks: Annotated[
        bool, typer.Option("--chunks", help="return chunk hits instead of one best chunk per document")
    ] = False,
    platform: Annotated[list[str] | None, typer.Option(help=f"only these platforms ({', '.join(PLATFORMS)})")] = None,
    kind: Annotated[list[str] | None, typer.Option(help=f"only these kinds ({', '.join(KINDS)})")] = None,
    since: Annotated[str | None, typer.Option(help="published on or after this date (ISO)")] = None,
    until: Annotated[str | None, typer.Option(help="published before this date (ISO)")] = None,
) -> None:
    """Hybrid search (vectors + full text) over one user's documents."""
    from twin.core.retrieval import SearchFilters, search_chunks, search_documents
    from twin.core.users import UserNotFound, user_id_for_email

    for value, allowed, option in ((platform, PLATFORMS, "--platform"), (kind, KINDS, "--kind")):
        unknown = sorted(set(value or []) - set(allowed))
        if unknown:
            raise fail(f"unknown {option} {', '.join(unknown)} (expected {', '.join(allowed)})", 2)
    filters = SearchFilters(
        platforms=platform or [],
        kinds=kind or [],
        published_after=_parse_date(since, "--since"),
        published_before=_parse_date(until, "--until"),
    )
    settings = settings_or_exit()
    engine = _engine(settings)
    try:
        with engine.connect() as conn:
            user_id = user_id_for_email(conn, user)
    except UserNotFound as exc:
        raise fail(str(exc))
    if chunks:
        hits = search_chunks(engine, user_id, query, limit=k, filters=filters)
    else:
        hits = search_documents(engine, user_id, query, k=k, filters=filters)

    if as_json:
        typer.echo(json.dumps([hit.as_dict() for hit in hits], indent=2, ensure_ascii=False))
        return
    if not hits:
        console.print("No results.")
        return
    for number, hit in enumerate(hits, start=1):
        heading = hit.title or hit.text.split("\n", 1)[0][:80]
        typer.echo(f"{number}. [{hit.platform}/{hit.kind}] {heading}  (score {hit.score:.4f})")
        typer.echo(f"   {hit.url}")
        snippet = " ".join(hit.text.split())
        typer.echo(f"   {snippet[:240]}{'…' if len(snippet) > 240 else ''}")
