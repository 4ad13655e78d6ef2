"""What an importer hands the runner: a plan of entries, each loaded (parsed) only when its turn comes.

An importer is a function ``plan(archive, **options)`` yielding :class:`Entry` (one post or
article, loaded lazily into a ``DocumentRecord`` or a :class:`Skipped`), :class:`Problem` (a file
of the export that could not be read at all) and :class:`Notice` (worth telling the user, not an
error). The runner in :mod:`crawlers.importers` stores them, so the importers contain only the
platform's format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from twin.core.raw import DocumentRecord


@dataclass(frozen=True)
class Skipped:
    """Deliberately not imported (a repost, a draft, a reply); counted, not an error."""

    reason: str


@dataclass
class Entry:
    label: str  # what an error names: the item's URL, or the export file and line
    load: Callable[[], DocumentRecord | Skipped]


@dataclass(frozen=True)
class Problem:
    error: str
    label: str | None = None  # None: a whole file of the export, not one item


@dataclass(frozen=True)
class Notice:
    message: str


PlanItem = Entry | Problem | Notice
Plan = Iterator[PlanItem]


@dataclass(frozen=True)
class ExportFormat:
    platform: str
    plan: Callable[..., Plan]
    expected: str  # what the export should contain, for the "nothing found" error
    options: tuple[str, ...] = ()
