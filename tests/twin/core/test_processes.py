"""Stopping a service stops everything it started, descendants in sessions of their own included
(as Airflow's task processes are)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

from twin.core.processes import descendants, run_in_foreground, stop_tree

# a leader that ignores SIGTERM and starts a child in a session of its own (as Airflow's task
# processes do), which starts a grandchild; all sleep
TREE = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; "
                  "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); time.sleep(300)"],
                 start_new_session=True)
time.sleep(300)
"""


def _start_tree() -> tuple[subprocess.Popen, list[psutil.Process]]:
    process = subprocess.Popen([sys.executable, "-c", TREE], start_new_session=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tree = descendants(process.pid)
        if len(tree) == 2:
            return process, tree
        time.sleep(0.1)
    raise AssertionError("the tree did not start")


def test_stop_tree_ends_descendants_that_left_the_session():
    process, tree = _start_tree()
    assert any(os.getsid(child.pid) != process.pid for child in tree), "one child runs in a session of its own"
    stop_tree(process, signals=((signal.SIGTERM, 1.0),))  # the leader ignores SIGTERM: it is killed after 1 s
    assert process.poll() is not None
    gone, alive = psutil.wait_procs(tree, timeout=10)
    assert alive == []


def test_run_in_foreground_stops_the_command_and_its_tree_on_sigterm():
    runner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys; from twin.core.processes import run_in_foreground; "
                f"sys.exit(run_in_foreground([sys.executable, '-c', {TREE!r}], grace=1.0))"
            ),
        ]
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(descendants(runner.pid)) < 3:
        time.sleep(0.1)
    tree = descendants(runner.pid)
    assert len(tree) == 3, "the command, its child and grandchild"
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(30) == 0
    gone, alive = psutil.wait_procs(tree, timeout=10)
    assert alive == []


def test_run_in_foreground_returns_the_commands_status():
    assert run_in_foreground([sys.executable, "-c", "raise SystemExit(3)"]) == 3


def test_a_service_stops_when_whoever_started_it_is_killed():
    """`twin up` killed with SIGKILL (or by a test's timeout) cannot stop its services itself: the
    kernel tells each one (PR_SET_PDEATHSIG) to stop."""
    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time\n"
                "from twin.core.processes import start_service\n"
                "service = start_service([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
                "print(service.pid, flush=True)\n"
                "time.sleep(300)\n"
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    service_pid = int(starter.stdout.readline())
    assert psutil.pid_exists(service_pid) and os.getsid(service_pid) == service_pid, "in a session of its own"
    starter.kill()
    starter.wait(10)
    deadline = time.monotonic() + 10
    while (
        time.monotonic() < deadline
        and psutil.pid_exists(service_pid)
        and psutil.Process(service_pid).status() != psutil.STATUS_ZOMBIE
    ):
        time.sleep(0.1)
    assert not psutil.pid_exists(service_pid) or psutil.Process(service_pid).status() == psutil.STATUS_ZOMBIE
