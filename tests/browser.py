"""Debian's Chromium driven by Playwright (Playwright's own browser download does not work here)."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "screenshots"


@contextmanager
def chromium():
    """A headless browser (skips the test when Chromium is not installed)."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium, or `make system-deps`)")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def stylesheet_statuses(page) -> list[tuple[str, int]]:
    """Start recording the (url, status) of every stylesheet the page loads; returns the live list."""
    seen: list[tuple[str, int]] = []
    page.on(
        "response",
        lambda response: seen.append((response.url, response.status)) if response.url.endswith(".css") else None,
    )
    return seen


BACKGROUND = "rgb(246, 247, 249)"  # twin.css's var(--bg) on <body>: the stylesheet is applied
