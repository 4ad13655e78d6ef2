"""``twin import linkedin|medium|substack PATH --user EMAIL``: load a platform's data export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from twin.cli.common import console, fail, settings_or_exit

import_app = typer.Typer(
    help="Import the data export you downloaded from LinkedIn, Medium or Substack.", no_args_is_help=True
)

app = typer.Typer()
app.add_typer(import_app, name="import")

ExportPath = Annotated[
    Path,
    typer.Argument(
        help="the export's .zip file, or the folder it was extracted to", exists=True, readable=True, resolve_path=True
    ),
]
UserEmail = Annotated[str, typer.Option("--user", help="email of the user the writing belongs to")]


@import_app.command("linkedin")
def import_linkedin(path: ExportPath, user: UserEmail) -> None:
    """Import posts (Shares.csv) and articles (Articles/Articles/*.html) from a LinkedIn data export.

    Get it at linkedin.com: Settings & Privacy > Data privacy > Get a copy of your data.
    """
    _run_import("linkedin", path, user)


@import_app.command("medium")
def import_medium(path: ExportPath, user: UserEmail) -> None:
    """Import published stories (posts/*.html) from a Medium export; drafts and responses are skipped.

    Get it at medium.com: Settings > Security and apps > Download your information.
    """
    _run_import("medium", path, user)


@import_app.command("substack")
def import_substack(
    path: ExportPath,
    user: UserEmail,
    publication_url: Annotated[
        str | None,
        typer.Option(
            help="your publication's URL (https://you.substack.com or your custom domain), used to build each "
            "post's public URL; read from the export when it names the publication"
        ),
    ] = None,
) -> None:
    """Import published newsletters (posts.csv + posts/*.html) from a Substack export.

    Get it from your publication: Settings > Exports > New export.
    """
    _run_import("substack", path, user, publication_url=publication_url)


def _run_import(kind: str, path: Path, email: str, **options) -> None:
    from crawlers.importers import ArchiveLimits, import_export
    from twin.core.db import DatabaseUnavailable, check_connection, get_engine
    from twin.core.users import UserNotFound, user_id_for_email

    settings = settings_or_exit()
    try:
        engine = get_engine(settings)
        check_connection(engine)
        with engine.connect() as conn:
            user_id = user_id_for_email(conn, email)
    except (DatabaseUnavailable, UserNotFound) as exc:
        raise fail(escape(str(exc)))

    with Progress(
        TextColumn("[bold]importing[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(escape(path.name), total=None)

        def advance(done: int, total: int, label: str) -> None:
            progress.update(task, completed=done, total=total)

        summary = import_export(
            kind, path, user_id, engine, limits=ArchiveLimits.from_settings(settings), progress=advance, **options
        )

    status_colour = {"succeeded": "green", "partial": "yellow"}.get(summary.status, "red")
    counts = ", ".join(
        f"{summary.counts[name]} {name}" for name in ("new", "changed", "unchanged", "skipped", "failed")
    )
    console.print(f"{kind} export: [bold {status_colour}]{summary.status}[/] ({counts})", highlight=False)
    for reason, count in sorted(summary.skipped.items()):
        console.print(f"skipped {count}: {escape(reason)}", highlight=False)
    for notice in summary.notices:
        console.print(f"[yellow]note:[/] {escape(notice)}", highlight=False)
    for error in summary.errors:
        where = f"{error['url']}: " if error["url"] else ""
        console.print(f"[red]error:[/] {escape(where + error['error'])}", highlight=False)
    console.print(f"crawl run {summary.crawl_run_id}", highlight=False)
    if summary.status == "failed":
        raise typer.Exit(1)
