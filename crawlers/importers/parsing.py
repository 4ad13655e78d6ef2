"""Parsing helpers shared by the export importers: text decoding, CSV files, timestamps and HTML."""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import lxml.html
from lxml import etree

from twin.core.dates import parse_iso
from twin.core.web.text import html_to_text

# Exports are UTF-8; a file re-saved by a spreadsheet on Windows is cp1252 (or UTF-16 with a BOM).
FALLBACK_ENCODING = "cp1252"
BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
MAX_CSV_FIELD_CHARS = 100_000  # one post or comment; LinkedIn caps posts at 3,000 characters
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?")


class ExportFormatError(ValueError):
    """A file of the export is not in the format its platform writes; the message names the file."""


@dataclass
class DecodedText:
    text: str
    encoding: str


def decode_text(data: bytes, name: str) -> DecodedText:
    """Decode a text file: a BOM wins, then UTF-8, then cp1252; bytes that fit none are an error."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return DecodedText(data.decode(encoding), "utf-16" if encoding == "utf-16" else "utf-8")
            except UnicodeDecodeError as exc:
                raise ExportFormatError(
                    f"{name}: not valid {encoding} text ({exc.reason} at byte {exc.start})"
                ) from exc
    try:
        return DecodedText(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return DecodedText(data.decode(FALLBACK_ENCODING), FALLBACK_ENCODING)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ExportFormatError(
            f"{name}: neither UTF-8 nor {FALLBACK_ENCODING} text (byte 0x{data[exc.start]:02x} on line "
            f"{line}); use the file as the platform exported it"
        ) from exc


@dataclass
class CsvRow:
    line: int
    values: dict[str, str]
    error: str | None = None


@dataclass
class CsvFile:
    """Rows with the line each starts on; ``error`` when the file stops parsing part-way (rows before it are kept)."""

    name: str
    encoding: str
    rows: list[CsvRow] = field(default_factory=list)
    error: str | None = None


def read_csv(data: bytes, name: str, required_columns: tuple[str, ...]) -> CsvFile:
    """Parse a CSV export file (quoted multi-line fields, doubled quotes, BOM).

    A missing column is an :class:`ExportFormatError`; a row with more fields than the header is
    kept as a row with an ``error``; broken quoting stops the file with ``error`` set.
    """
    decoded = decode_text(data, name)
    csv.field_size_limit(MAX_CSV_FIELD_CHARS)  # explicit, not the interpreter's default: a bigger field stops the file
    reader = csv.reader(io.StringIO(decoded.text, newline=""), strict=True)
    parsed = CsvFile(name, decoded.encoding)
    try:
        header = [column.strip() for column in next(reader, [])]
    except csv.Error as exc:
        raise ExportFormatError(f"{name}: malformed CSV header: {exc}") from exc
    missing = [column for column in required_columns if column not in header]
    if missing:
        found = ", ".join(header) if any(header) else "none"
        raise ExportFormatError(f"{name}: missing column(s) {', '.join(missing)} (columns found: {found})")
    line = reader.line_num + 1
    try:
        for values in reader:
            if any(value.strip() for value in values):
                row = CsvRow(line, dict(zip(header, values + [""] * (len(header) - len(values)))))
                if len(values) > len(header):
                    row.error = (
                        f"{name}: malformed CSV at line {line}: {len(values)} fields, the header has {len(header)}"
                    )
                parsed.rows.append(row)
            line = reader.line_num + 1
    except csv.Error as exc:
        parsed.error = f"{name}: malformed CSV from line {line}: {exc}"
    return parsed


def parse_timestamp(text: str | None, what: str) -> datetime | None:
    """A timestamp as written by an export (``2024-03-05 14:22:10``, ISO 8601 with ``Z``); naive means UTC."""
    if text is None or not text.strip():
        return None
    match = TIMESTAMP.search(text)
    if match is None:
        raise ExportFormatError(f"{what}: not a date: {text.strip()[:60]!r}")
    try:
        moment = parse_iso(match.group(0))  # dateutil's ISO 8601 parser; naive means UTC
    except ValueError as exc:
        raise ExportFormatError(f"{what}: not a date: {match.group(0)!r} ({exc})") from exc
    return moment.astimezone(UTC)


def parse_html(data: bytes, name: str) -> lxml.html.HtmlElement:
    """A whole HTML document (or fragment) of the export, decoded like :func:`decode_text`."""
    text = decode_text(data, name).text
    if not text.strip():
        raise ExportFormatError(f"{name}: empty file")
    try:
        return lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise ExportFormatError(f"{name}: not an HTML document ({exc})") from exc


def element_text(element: lxml.html.HtmlElement | None) -> str:
    """The visible text of a small element (a title, a byline), whitespace collapsed."""
    return " ".join(element.text_content().split()) if element is not None else ""


def element_markdown(element: lxml.html.HtmlElement) -> str:
    """A body element as clean markdown-ish text (the shared :func:`twin.core.web.text.html_to_text`)."""
    return html_to_text(lxml.html.tostring(element, encoding="unicode"))
