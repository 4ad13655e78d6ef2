"""Every benchmark script answers --help (they run outside `make test`; this keeps them importable)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = sorted(
    path
    for path in (Path(__file__).resolve().parent.parent / "benchmarks").glob("*.py")
    if not path.name.startswith("_")
)


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda path: path.name)
def test_benchmark_has_help(script):
    result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout


def test_the_html_extraction_benchmark_finds_its_36_pages():
    """Its inputs are the tests' and the demo's files: a moved fixture must not silently shrink it."""
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS[0].parent / "html_extraction.py")], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "36 pages;" in result.stdout
