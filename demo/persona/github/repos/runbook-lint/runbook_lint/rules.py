"""The rules. Each takes a parsed runbook and yields problems; keep them small and their messages specific."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from runbook_lint.parser import Runbook

REQUIRED_SECTIONS = ("Symptoms", "Dashboards", "Mitigation", "Escalation")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)|<(\S+?)>")
NUMBERED_ITEM = re.compile(r"^\s*\d+[.)]\s+\S")


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Options:
    max_age_days: int = 180
    today: date | None = None  # tests pin it; None means date.today()


Rule = Callable[[Runbook, Options], Iterator[Problem]]


def required_sections(runbook: Runbook, options: Options) -> Iterator[Problem]:
    for name in REQUIRED_SECTIONS:
        if runbook.section(name) is None:
            yield Problem(runbook.path, 1, "required-sections", f'missing section "{name}"')


def absolute_links(runbook: Runbook, options: Options) -> Iterator[Problem]:
    dashboards = runbook.section("Dashboards")
    if dashboards is None:
        return
    for offset, line in enumerate(dashboards.body, start=1):
        for match in LINK.finditer(line):
            target = match.group(1) or match.group(2)
            if not target.startswith(("https://", "http://")):
                yield Problem(runbook.path, dashboards.line + offset, "absolute-links", f"dashboard link is relative: {target}")


def owner(runbook: Runbook, options: Options) -> Iterator[Problem]:
    if not runbook.owner:
        yield Problem(runbook.path, 1, "owner", 'no "Owner:" line naming a team or rotation')


def last_reviewed(runbook: Runbook, options: Options) -> Iterator[Problem]:
    if runbook.last_reviewed is None:
        yield Problem(runbook.path, runbook.last_reviewed_line or 1, "last-reviewed",
                      'no "Last reviewed: YYYY-MM-DD" line')
        return
    today = options.today or date.today()
    age = (today - runbook.last_reviewed).days
    if age > options.max_age_days:
        yield Problem(runbook.path, runbook.last_reviewed_line or 1, "last-reviewed",
                      f"last reviewed {runbook.last_reviewed.isoformat()} (over {options.max_age_days} days ago)")


def numbered_mitigation(runbook: Runbook, options: Options) -> Iterator[Problem]:
    mitigation = runbook.section("Mitigation")
    if mitigation is not None and not any(NUMBERED_ITEM.match(line) for line in mitigation.body):
        yield Problem(runbook.path, mitigation.line, "numbered-mitigation", "mitigation has no numbered steps")


RULES: dict[str, Rule] = {
    "required-sections": required_sections,
    "absolute-links": absolute_links,
    "owner": owner,
    "last-reviewed": last_reviewed,
    "numbered-mitigation": numbered_mitigation,
}


def lint(runbook: Runbook, options: Options | None = None) -> list[Problem]:
    """Every problem in one runbook, in line order; rules disabled in the file are skipped."""
    options = options or Options()
    problems = [problem for rule_id, rule in RULES.items() if rule_id not in runbook.disabled
                for problem in rule(runbook, options)]
    return sorted(problems, key=lambda problem: (problem.line, problem.rule))
