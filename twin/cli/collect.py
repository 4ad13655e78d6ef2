"""``twin crawl``: collect a user's writing from URLs with the Scrapy spiders, one process per source."""

from __future__ import annotations

from typing import Annotated

import typer

from twin.cli.common import console, fail, settings_or_exit
from twin.core.vocabulary import PLATFORMS

app = typer.Typer()

PLATFORM_HELP = f"{', '.join(PLATFORMS)} (default: detected from each URL)"


@app.command()
def crawl(
    urls: Annotated[
        list[str],
        typer.Argument(
            help="sources: a Medium @handle/profile/feed, a Substack publication, "
            "a GitHub user, a LinkedIn post, or any article/PDF URL"
        ),
    ],
    user: Annotated[str, typer.Option("--user", help="email of the user whose documents these are")],
    platform: Annotated[str | None, typer.Option("--platform", help=PLATFORM_HELP)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="collect and count, store nothing")] = False,
) -> None:
    """Collect documents from each URL into raw.documents (a new version only when the text changed).

    Each source runs in its own process and gets its own crawl run; one failing source does not
    stop the others. Exit status 1 when any source failed outright.
    """
    from crawlers.run import crawl as crawl_source
    from twin.core import db as twin_db
    from twin.core.users import UserNotFound, user_id_for_email

    settings = settings_or_exit()
    if platform is not None and platform not in PLATFORMS:
        raise fail(f"unknown platform {platform!r}: use one of {', '.join(PLATFORMS)}", 2)
    try:
        with twin_db.get_engine(settings).connect() as conn:
            user_id = user_id_for_email(conn, user)
    except (twin_db.DatabaseUnavailable, UserNotFound) as exc:
        raise fail(str(exc))

    failed, reasons = 0, []
    for url in urls:
        with console.status(f"crawling {url} ..."):
            summary = crawl_source(user_id, url, platform, dry_run=dry_run)
        counts = summary.counts
        mark = {"succeeded": "ok", "partial": "partial", "failed": "FAILED"}.get(summary.status, summary.status)
        typer.echo(
            f"[{mark}] {summary.platform} {url}: {counts.get('seen', 0)} seen, {counts.get('new', 0)} new, "
            f"{counts.get('changed', 0)} changed, {counts.get('unchanged', 0)} unchanged, {counts.get('failed', 0)} failed"
            + (f" (crawl run {summary.crawl_run_id})" if summary.crawl_run_id else "")
        )
        for error in summary.errors[:20]:
            typer.echo(f"    error: {error['url'] + ': ' if error.get('url') else ''}{error['error']}")
        if len(summary.errors) > 20:
            typer.echo(f"    ... and {len(summary.errors) - 20} more errors (see raw.crawl_runs)")
        if summary.status == "failed":
            failed += 1
            reasons.append(f"{url}: {summary.errors[0]['error'] if summary.errors else 'no reason recorded'}")
    if failed:
        raise fail(f"{failed} of {len(urls)} sources failed — " + "; ".join(reasons[:3]), 1)
