"""The web app as `twin up`, the demo and `twin web` run it: gunicorn with threaded workers, static
files by WhiteNoise, styled pages in a real browser, and every process gone after SIGINT or SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psutil
import pytest

from tests.browser import BACKGROUND, chromium, stylesheet_statuses
from twin.core.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


class WebProcess:
    def __init__(self, *extra: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "twin", "web", "--port", str(self.port), *extra],
            cwd=ROOT,
            env={**os.environ, "NO_COLOR": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stdout.read()
            try:
                if httpx.get(f"{self.url}/accounts/login/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError("the web app did not answer")

    def tree(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def stop(self) -> None:
        tree = self.tree() if self.process.poll() is None else []
        for process in [*tree, psutil.Process(self.process.pid)] if tree else []:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        self.process.wait(10)


@pytest.fixture
def web():
    server = WebProcess("--workers", "2")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_gunicorn_serves_pages_and_compressed_static_files(web):
    titles = sorted(" ".join(child.cmdline()).split("]")[0] + "]" for child in web.tree())
    assert titles == ["gunicorn: master [webapp.wsgi:application]"] + ["gunicorn: worker [webapp.wsgi:application]"] * 2
    page = httpx.get(f"{web.url}/accounts/login/", timeout=10)
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text).group(1)
    assert stylesheet == "/static/twin/twin.css"
    css = httpx.get(f"{web.url}{stylesheet}", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "--brand" in css.text and "max-age" in css.headers.get("cache-control", "")
    assert httpx.get(f"{web.url}/static/twin/missing.css", timeout=10).status_code == 404


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_twin_web_and_every_worker(sig):
    server = WebProcess("--workers", "2")
    try:
        server.wait_ready()
        tree = server.tree()
        assert len(tree) == 3
        server.process.send_signal(sig)
        assert server.process.wait(40) == 0
        gone, alive = psutil.wait_procs(tree, timeout=10)
        assert alive == [], f"left running after {sig.name}: {[p.pid for p in alive]}"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/accounts/login/", timeout=2)
    finally:
        server.stop()


def test_a_browser_sees_styled_pages_and_signs_up_under_gunicorn(web):
    with chromium() as browser:
        page = browser.new_page()
        page.set_default_timeout(20_000)
        stylesheets = stylesheet_statuses(page)
        page.goto(f"{web.url}/accounts/signup/")
        assert stylesheets == [(f"{web.url}/static/twin/twin.css", 200)]
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == BACKGROUND, "twin.css is applied"
        page.fill("input[name=email]", f"gunicorn-{uuid.uuid4().hex[:8]}@example.com")
        page.fill("input[name=password1]", "analytical engine 1843")
        page.fill("input[name=password2]", "analytical engine 1843")
        page.click("button:has-text('Sign up')")
        page.wait_for_url(f"{web.url}/sources/")
        brand = page.evaluate("getComputedStyle(document.querySelector('.topbar')).borderBottomStyle")
        assert brand == "solid"


def test_rate_limits_hold_across_gunicorns_workers(web):
    """The counters are shared by the worker processes: the 11th login attempt for one account is
    refused whichever worker answers (a per-process cache would allow up to 10 per worker)."""
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    statuses = []
    for _ in range(12):
        with httpx.Client(base_url=web.url, timeout=10) as client:  # a new connection each time
            page = client.get("/accounts/login/")
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
            response = client.post(
                "/accounts/login/", data={"username": email, "password": "wrong", "csrfmiddlewaretoken": token}
            )
            statuses.append(response.status_code)
    assert statuses[:10] == [200] * 10 and statuses[10:] == [429, 429], statuses
