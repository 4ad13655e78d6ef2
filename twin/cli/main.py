"""The ``twin`` command line: the root app; each command group lives in its own module."""

from __future__ import annotations

import sys

import typer

from twin.cli import collect, imports, index, models, project, serve, stack, train, web, write
from twin.cli.common import console
from twin.core.settings import SettingsError

app = typer.Typer(
    help="LLM Twin: collect your writing, fine-tune a model on it, and write new posts in your voice.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Each module keeps its heavy imports inside its commands, so `twin --help` stays fast.
for group in (project, collect, imports, index, models, serve, stack, train, web, write):
    app.add_typer(group.app)


def main() -> None:
    try:
        app()
    except SettingsError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
