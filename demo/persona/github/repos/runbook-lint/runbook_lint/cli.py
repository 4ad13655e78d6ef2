"""runbook-lint [--max-age-days N] PATH...: lint Markdown runbooks, exit 1 when any has a problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runbook_lint.parser import parse_runbook
from runbook_lint.rules import Options, lint


def runbook_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        files.extend(sorted(path.rglob("*.md")) if path.is_dir() else [path])
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runbook-lint", description=__doc__)
    parser.add_argument("paths", nargs="+", help="runbook files or folders of them")
    parser.add_argument("--max-age-days", type=int, default=180, help="oldest acceptable 'Last reviewed' date")
    args = parser.parse_args(argv)
    options = Options(max_age_days=args.max_age_days)
    dirty = clean = 0
    for path in runbook_files(args.paths):
        problems = lint(parse_runbook(path.read_text(encoding="utf-8"), str(path)), options)
        for problem in problems:
            print(problem)
        if problems:
            dirty += 1
        else:
            clean += 1
    print(f"{dirty} file{'s' if dirty != 1 else ''} with problems, {clean} file{'s' if clean != 1 else ''} clean")
    return 1 if dirty else 0


if __name__ == "__main__":
    sys.exit(main())
