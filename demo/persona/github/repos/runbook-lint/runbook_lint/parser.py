"""Parse a Markdown runbook into the few things the rules look at: headings, sections, header lines."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
HEADER_LINE = re.compile(r"^\s*(owner|last reviewed)\s*:\s*(.+?)\s*$", re.IGNORECASE)
DISABLE = re.compile(r"<!--\s*runbook-lint:\s*disable=([\w,\- ]+)\s*-->")
HEADER_LINES = 10


@dataclass
class Section:
    title: str
    line: int  # 1-based line of the heading
    body: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.body)


@dataclass
class Runbook:
    path: str
    title: str | None
    sections: dict[str, Section]  # keyed by lower-case title
    owner: str | None = None
    last_reviewed: date | None = None
    last_reviewed_line: int | None = None
    disabled: set[str] = field(default_factory=set)

    def section(self, name: str) -> Section | None:
        return self.sections.get(name.lower())


def parse_runbook(text: str, path: str = "<string>") -> Runbook:
    """Split the runbook at its second-level headings; read Owner and Last reviewed from the top."""
    title = None
    sections: dict[str, Section] = {}
    current: Section | None = None
    runbook = Runbook(path=path, title=None, sections=sections)
    in_code = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        match = None if in_code else HEADING.match(line)
        if match and len(match.group(1)) == 1 and title is None:
            title = match.group(2)
            continue
        if match and len(match.group(1)) == 2:
            current = Section(match.group(2), number)
            sections.setdefault(current.title.lower(), current)
            continue
        if current is not None:
            current.body.append(line)
        if number <= HEADER_LINES:
            _read_header_line(runbook, line, number)
        for disabled in DISABLE.findall(line):
            runbook.disabled.update(rule.strip() for rule in disabled.split(",") if rule.strip())
    runbook.title = title
    return runbook


def _read_header_line(runbook: Runbook, line: str, number: int) -> None:
    match = HEADER_LINE.match(line)
    if not match:
        return
    key, value = match.group(1).lower(), match.group(2)
    if key == "owner":
        runbook.owner = value
    else:
        runbook.last_reviewed_line = number
        try:
            runbook.last_reviewed = date.fromisoformat(value[:10])
        except ValueError:
            runbook.last_reviewed = None
