"""Child processes that stop with their parent: a service's whole tree, descendants that moved to a
session of their own included (Airflow's task processes, Ray's workers, gunicorn's workers).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Iterable

import psutil

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn`` of a service: the kernel sends it SIGTERM when the process that started it
    dies, even by SIGKILL (Linux), so a killed `twin up` leaves no service running on its own."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def start_service(command: list[str], **popen_kwargs) -> subprocess.Popen:
    """Start a long-running child in a session of its own (signals to this terminal's group do not
    reach it; stop it with :func:`stop_tree`) that is told to stop if this process dies."""
    return subprocess.Popen(command, start_new_session=True, preexec_fn=die_with_parent, **popen_kwargs)


def descendants(pid: int) -> list[psutil.Process]:
    """Every living descendant of ``pid`` (recursively), snapshotted before anything is signalled: a
    child whose parent dies first is re-parented and could no longer be found."""
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _kill_all(processes: Iterable[psutil.Process], sig: int) -> None:
    for process in processes:
        try:
            process.send_signal(sig)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue


def session_members(sid: int) -> list[int]:
    """The processes of session ``sid`` (a service started with ``start_new_session``), this one excluded."""
    found = []
    for process in psutil.process_iter(["pid"]):
        try:
            if process.pid != os.getpid() and os.getsid(process.pid) == sid:
                found.append(process.pid)
        except (ProcessLookupError, PermissionError):
            continue
    return found


def stop_tree(
    process: subprocess.Popen,
    *,
    signals: tuple[tuple[int, float], ...] = ((signal.SIGTERM, 20.0),),
    tree: list[psutil.Process] | None = None,
) -> None:
    """Stop ``process`` (the leader of its own process group and session) and everything it started.

    Each ``(signal, seconds)`` step goes to the process group; the next step follows only while the
    leader is alive. Then SIGKILL to whatever is left: the group, the session, and every descendant
    found before the first signal (``tree`` when the caller signalled already; those that started
    sessions of their own too)."""
    tree = descendants(process.pid) if tree is None else tree
    for sig, wait in signals:
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in session_members(process.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
    _kill_all([child for child in tree if child.is_running()], signal.SIGKILL)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        pass


def run_in_foreground(command: list[str], *, cwd=None, env: dict[str, str] | None = None, grace: float = 25.0) -> int:
    """Run ``command`` until it exits; SIGINT or SIGTERM to this process stops it and all it started
    (gracefully first: SIGTERM and ``grace`` seconds), then this returns its exit status."""
    process = start_service(command, cwd=cwd, env=env)
    received: list[int] = []

    def forward(signum, _frame):
        received.append(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while process.poll() is None and not received:
            try:
                process.wait(0.5)
            except subprocess.TimeoutExpired:
                continue
    finally:
        stop_tree(process, signals=((signal.SIGTERM, grace),))
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if received else process.returncode
