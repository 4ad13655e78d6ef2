"""A real Redis (Debian's ``redis-server``) on loopback for a ``with`` block: the Celery executor's broker.

It requires a password, like every broker the project accepts, keeps nothing on disk, and is stopped
(with everything it started) on exit::

    with running_redis(tmp_path) as broker_url:  # redis://:PASSWORD@127.0.0.1:PORT/0
        ...
"""

from __future__ import annotations

import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from twin.core.ports import LOCAL_HOST, free_port
from twin.core.processes import start_service, stop_tree

REDIS_SERVER = shutil.which("redis-server")


class RedisUnavailable(RuntimeError):
    pass


def redis_command(port: int, *words: str, password: str | None = None, timeout: float = 2.0) -> bytes:
    """Send one command (after AUTH when ``password`` is given) in Redis' wire protocol; the last reply."""
    commands = ([("AUTH", password)] if password is not None else []) + [words]
    payload = b"".join(
        f"*{len(command)}\r\n".encode() + b"".join(f"${len(w.encode())}\r\n{w}\r\n".encode() for w in command)
        for command in commands
    )
    with socket.create_connection((LOCAL_HOST, port), timeout=timeout) as sock:
        sock.sendall(payload)
        replies = b""
        while replies.count(b"\r\n") < len(commands):
            chunk = sock.recv(4096)
            if not chunk:
                break
            replies += chunk
    return replies.split(b"\r\n")[len(commands) - 1]


@contextmanager
def running_redis(directory: Path, timeout: float = 30.0) -> Iterator[str]:
    """Start ``redis-server`` on a free loopback port with a random password; yields its URL."""
    if REDIS_SERVER is None:
        raise RedisUnavailable("redis-server is not installed (apt-get install redis-server, or `make system-deps`)")
    directory.mkdir(parents=True, exist_ok=True)
    port, password = free_port(), secrets.token_urlsafe(24)
    config = directory / "redis.conf"  # the password stays out of the process list
    config.write_text(
        f"port {port}\nbind {LOCAL_HOST}\nrequirepass {password}\nprotected-mode yes\n"
        f'save ""\nappendonly no\ndir {directory}\n'
    )
    config.chmod(0o600)
    with open(directory / "redis.log", "ab") as log:
        process = start_service([REDIS_SERVER, str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RedisUnavailable(f"redis-server exited; see {directory / 'redis.log'}")
            try:
                if redis_command(port, "PING", password=password) == b"+PONG":
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RedisUnavailable(f"redis-server did not answer within {timeout:.0f} s")
            time.sleep(0.1)
        yield f"redis://:{password}@{LOCAL_HOST}:{port}/0"
    finally:
        stop_tree(process, signals=((signal.SIGTERM, 10.0),))
