"""The embedded server: lifecycle, idempotency, the root case and clear errors."""

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from twin.core.embedded_pg import SYSTEM_USER, EmbeddedPostgres, EmbeddedPostgresError

pytestmark = pytest.mark.slow


@pytest.fixture
def home():
    # Short paths keep the Unix socket path under the kernel's limit.
    path = Path(tempfile.mkdtemp(prefix="twdb"))
    yield path
    server = EmbeddedPostgres(path)
    if server.initialised:
        server.stop()
    shutil.rmtree(path, ignore_errors=True)


def test_start_is_idempotent_and_stop_too(home):
    server = EmbeddedPostgres(home)
    assert not server.status().running
    state = server.start()
    first = server.status()
    assert first.running and first.port == state.port

    again = server.start()
    assert again == state
    assert server.status().pid == first.pid

    with psycopg.connect(state.url("postgres")) as conn:
        assert conn.execute("select current_user").fetchone()[0] == "twin"
        conn.execute("create extension if not exists vector")
        version = conn.execute("select extversion from pg_extension where extname = 'vector'").fetchone()[0]
    assert tuple(int(part) for part in version.split(".")[:2]) >= (0, 8)

    assert server.stop() is True
    assert not server.status().running
    assert server.stop() is False

    restarted = server.start()
    assert restarted.port == state.port, "the recorded port is reused"
    with psycopg.connect(restarted.url("postgres")) as conn:
        assert conn.execute("select 1").fetchone()[0] == 1


def test_password_is_required_and_state_file_is_private(home):
    state = EmbeddedPostgres(home).start()
    assert oct((home / "db.json").stat().st_mode & 0o777) == "0o600"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(f"postgresql://twin:wrong@127.0.0.1:{state.port}/postgres").close()


@pytest.mark.skipif(os.geteuid() != 0, reason="the root case only applies when running as root")
def test_runs_as_unprivileged_system_user_when_root(home):
    server = EmbeddedPostgres(home)
    server.start()
    pid = server.status().pid
    owner_uid = os.stat(f"/proc/{pid}").st_uid
    assert owner_uid != 0
    assert pwd.getpwuid(owner_uid).pw_name == SYSTEM_USER
    assert pwd.getpwuid((home / "pgdata").stat().st_uid).pw_name == SYSTEM_USER


def test_taken_port_gives_a_clear_error(home):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(EmbeddedPostgresError, match=f"port {port} on 127.0.0.1 is taken.*TWIN_DB_PORT"):
            EmbeddedPostgres(home, port=port).start()


def test_broken_data_dir_gives_a_clear_error(home):
    (home / "pgdata").mkdir()
    (home / "pgdata" / "leftover.txt").write_text("not a database")
    with pytest.raises(EmbeddedPostgresError, match="not a PostgreSQL data directory.*broken"):
        EmbeddedPostgres(home).start()


def test_damaged_config_shows_the_server_log(home):
    server = EmbeddedPostgres(home)
    server.start()
    server.stop()
    with open(home / "pgdata" / "postgresql.conf", "a") as conf:
        conf.write("\nshared_buffers = 'lots'\n")
    with pytest.raises(EmbeddedPostgresError) as excinfo:
        server.start()
    message = str(excinfo.value)
    assert "did not start" in message
    assert "shared_buffers" in message, "the log tail names the bad setting"


def _twin(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env["TWIN_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "twin", *args], env=env, capture_output=True, text=True, timeout=180)


def test_cli_db_commands_and_psql_lists_vector(home):
    assert _twin(home, "db", "status").returncode == 3
    missing = _twin(home, "db", "url")
    assert missing.returncode == 1 and "twin db start" in missing.stderr

    started = _twin(home, "db", "start")
    assert started.returncode == 0, started.stderr
    assert "started" in started.stderr
    again = _twin(home, "db", "start")
    assert again.returncode == 0 and "already running" in again.stderr

    status = _twin(home, "db", "status", "--json")
    assert status.returncode == 0 and '"running": true' in status.stdout

    migrated = _twin(home, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    url = _twin(home, "db", "url").stdout.strip()
    assert url.startswith("postgresql://twin:") and url.endswith("/twin")

    psql = shutil.which("psql") or str(EmbeddedPostgres(home).psql_path())
    listing = subprocess.run([psql, url, "-c", r"\dx"], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    assert "vector" in listing.stdout

    stopped = _twin(home, "db", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stderr
    assert "not running" in _twin(home, "db", "stop").stderr
    assert _twin(home, "db", "status").returncode == 3
