from datetime import date

from runbook_lint import lint, parse_runbook
from runbook_lint.rules import Options

GOOD = """# Label printer queue backed up
Owner: team-warehouse (rotation: warehouse-primary)
Last reviewed: 2025-06-01

## Symptoms
Labels print minutes late; warehouse staff see "queued" in the scanner app.

## Dashboards
- [Print queue depth](https://grafana.example.com/d/print-queue)

## Mitigation
1. Check the queue depth dashboard. Safe: read-only.
2. Restart `label-printer-worker` (not `label-printer-api`).

## Escalation
#warehouse-oncall, then the warehouse-secondary rotation.
"""

TODAY = Options(today=date(2025, 7, 1))


def test_a_good_runbook_is_clean():
    assert lint(parse_runbook(GOOD, "good.md"), TODAY) == []


def test_missing_escalation_and_relative_link():
    text = GOOD.replace("## Escalation", "## Notes").replace("https://grafana.example.com/d/print-queue", "./dash")
    problems = [str(problem) for problem in lint(parse_runbook(text, "bad.md"), TODAY)]
    assert problems == ['bad.md:1: missing section "Escalation"', "bad.md:9: dashboard link is relative: ./dash"]


def test_stale_review_date_and_disabled_rule():
    stale = GOOD.replace("2025-06-01", "2024-11-02")
    assert [p.rule for p in lint(parse_runbook(stale, "old.md"), TODAY)] == ["last-reviewed"]
    silenced = stale + "\n<!-- runbook-lint: disable=last-reviewed -->\n"
    assert lint(parse_runbook(silenced, "old.md"), TODAY) == []


def test_mitigation_needs_numbered_steps():
    prose = GOOD.replace("1. Check", "Check").replace("2. Restart", "Then restart")
    assert [p.rule for p in lint(parse_runbook(prose, "prose.md"), TODAY)] == ["numbered-mitigation"]
