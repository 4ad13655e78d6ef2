"""`twin web` serves the Django app from a child process; `twin` itself never imports Django."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from twin.core.ports import free_port

ROOT = Path(__file__).resolve().parents[3]
TWIN = str(Path(sys.executable).parent / "twin")


def test_the_cli_does_not_import_django():
    code = "import sys, twin.cli.main, twin.cli.web; sys.exit(1 if 'django' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


@pytest.mark.slow
def test_twin_web_serves_the_login_page():
    port = free_port()
    process = subprocess.Popen(
        [TWIN, "web", "--port", str(port), "--no-reload"],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/compose/", follow_redirects=True, timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()[-3000:]
                assert time.monotonic() < deadline, "twin web did not come up in 60 s"
                time.sleep(0.5)
        assert response.status_code == 200 and "/accounts/login/" in str(response.url)
        assert "Log in" in response.text
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=20)
