"""Dates as the sources write them: ISO 8601 (APIs, exports, window bounds) and RFC 822 or other
written-out dates (feeds, HTTP), parsed with python-dateutil. A moment without a zone is UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timezone

from dateutil import parser as dateutil_parser

# RFC 822's named zones (dateutil knows only UTC/GMT/Z by name): a date "... EST" keeps its offset.
RFC822_ZONES = {
    zone: hours * 3600
    for zone, hours in {"UT": 0, "GMT": 0, "Z": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7}.items()
} | {"MDT": -6 * 3600, "PST": -8 * 3600, "PDT": -7 * 3600}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # fills what a loose date leaves out: never today's date, never local time


def in_utc_unless_zoned(moment: datetime) -> datetime:
    """A naive moment is UTC; an aware one keeps its offset (as a ``datetime.timezone``)."""
    offset = moment.utcoffset()
    if offset is None:
        return moment.replace(tzinfo=UTC)
    return moment.replace(tzinfo=UTC if not offset else timezone(offset))


def parse_iso(value: str | datetime) -> datetime:
    """An ISO 8601 date/time (``dateutil.parser.isoparse``; a naive one is UTC); ValueError when it is not one."""
    moment = value if isinstance(value, datetime) else dateutil_parser.isoparse(str(value).strip())
    return in_utc_unless_zoned(moment)


def parse_moment(value: str | datetime) -> datetime:
    """ISO 8601, else RFC 822/2822 or another written-out date (``dateutil.parser.parse``); a naive one
    is UTC. ValueError when it is not a date."""
    try:
        return parse_iso(value)
    except ValueError:
        pass
    try:
        moment = dateutil_parser.parse(str(value).strip(), default=EPOCH, tzinfos=RFC822_ZONES)
    except OverflowError as exc:
        raise ValueError(f"not a date: {str(value)[:60]!r}") from exc
    return in_utc_unless_zoned(moment)


def parse_optional_moment(value: str | datetime | None) -> datetime | None:
    """:func:`parse_moment`, or None for an empty or unreadable value (a post without a usable date)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return parse_moment(value)
    except ValueError:
        return None
