"""runbook-lint: check on-call runbooks for what a tired human needs at 3am."""

from runbook_lint.parser import Runbook, parse_runbook
from runbook_lint.rules import RULES, Problem, lint

__all__ = ["RULES", "Problem", "Runbook", "lint", "parse_runbook"]
__version__ = "0.3.1"
