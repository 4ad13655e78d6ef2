"""A run's publication window: a scheduled or backfill run of twin_collect collects only what was
published in its data interval ``[since, until)``; "Collect now" has no window and collects all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from twin.core.dates import parse_iso


def parse_window_bound(value: str | datetime | None) -> datetime | None:
    """An ISO date/time (``Z`` allowed; a naive one is UTC), or None."""
    if value is None or value == "":
        return None
    return parse_iso(value)


@dataclass(frozen=True)
class PublishedWindow:
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def from_settings(cls, settings) -> PublishedWindow:
        return cls(
            parse_window_bound(settings.get("TWIN_PUBLISHED_SINCE")),
            parse_window_bound(settings.get("TWIN_PUBLISHED_UNTIL")),
        )

    @property
    def bounded(self) -> bool:
        return self.since is not None or self.until is not None

    def accepts(self, published_at: str | datetime | None) -> bool:
        """Whether an item belongs to this run: inside the window, or of unknown date (kept: dedup by
        content hash makes a repeat harmless)."""
        moment = _moment(published_at)
        if moment is None:
            return True
        return (self.since is None or moment >= self.since) and (self.until is None or moment < self.until)

    def is_before(self, published_at: str | datetime | None) -> bool:
        """Published before the window began: newest-first archives stop paging at such an item."""
        moment = _moment(published_at)
        return moment is not None and self.since is not None and moment < self.since


def _moment(value: str | datetime | None) -> datetime | None:
    try:
        return parse_window_bound(value)
    except ValueError:
        return None
