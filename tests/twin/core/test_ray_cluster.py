"""Which Ray a process of the project joins: RAY_ADDRESS, the stack's cluster recorded in
$TWIN_HOME/ray.json (only while it runs), or a private one whose dashboard gives way to a taken port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from pydantic import AnyHttpUrl

from twin.core import ports, ray_cluster
from twin.core.ray_cluster import LocalCluster


@pytest.fixture
def settings(tmp_path):
    from twin.core.settings import get_settings

    return get_settings().model_copy(
        update={"home": tmp_path, "ray_address": None, "ray_num_cpus": None, "ray_dashboard": True}
    )


@pytest.fixture
def listener():
    """Something listening on 127.0.0.1 (stands in for a running GCS)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def _record(settings, address: str, pid: int) -> LocalCluster:
    cluster = LocalCluster(
        address=address, pid=pid, dashboard_url=None, num_cpus=8, project_root="/x", started_at=time.time()
    )
    ray_cluster.write_state(settings, cluster)
    return cluster


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        (None, "none"),
        ("", "none"),
        ("  ", "none"),
        ("127.0.0.1:6379", "local"),
        ("10.0.0.5:6379", "local"),
        ("ray-head:6379", "local"),
        ("ray://head:10001", "remote"),
        ("RAY://head:10001", "remote"),
        ("http://head:8265", "remote"),
        ("https://ray.example.com", "remote"),
    ],
)
def test_address_kind(address, kind):
    assert ray_cluster.address_kind(address) == kind


def test_a_running_stack_cluster_is_discovered_and_joined(settings, listener):
    assert ray_cluster.discover(settings) is None
    assert ray_cluster.resolve_address(settings) == ("none", None)
    cluster = _record(settings, listener, os.getpid())
    assert (settings.home / "ray.json").exists()
    assert ray_cluster.discover(settings) == cluster
    assert ray_cluster.resolve_address(settings) == ("local", listener)


def test_ray_address_wins_over_the_recorded_cluster(settings, listener):
    _record(settings, listener, os.getpid())
    remote = settings.model_copy(update={"ray_address": "ray://head:10001"})
    assert ray_cluster.resolve_address(remote) == ("remote", "ray://head:10001")
    other = settings.model_copy(update={"ray_address": " 127.0.0.1:7777 "})
    assert ray_cluster.resolve_address(other) == ("local", "127.0.0.1:7777")


def test_a_stale_record_is_ignored_and_removed(settings, listener):
    _record(settings, listener, _dead_pid())  # the stack was killed: its head is gone
    assert ray_cluster.discover(settings) is None
    assert not (settings.home / "ray.json").exists()

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{sock.getsockname()[1]}"
    _record(settings, closed, os.getpid())  # a process with that pid, but no GCS answering
    assert ray_cluster.resolve_address(settings) == ("none", None)
    assert not (settings.home / "ray.json").exists()


def test_unreadable_records_are_no_cluster(settings):
    (settings.home / "ray.json").write_text("{not json")
    assert ray_cluster.discover(settings) is None
    (settings.home / "ray.json").write_text('{"address": "127.0.0.1:1"}')
    assert ray_cluster.discover(settings) is None


def test_remove_state_leaves_another_stacks_record(settings, listener):
    _record(settings, listener, os.getpid())
    ray_cluster.remove_state(settings, pid=os.getpid() + 1)
    assert (settings.home / "ray.json").exists()
    ray_cluster.remove_state(settings, pid=os.getpid())
    assert not (settings.home / "ray.json").exists()
    ray_cluster.remove_state(settings)  # nothing to remove: no error


@pytest.fixture
def fake_ray(monkeypatch):
    """ray.init recorded instead of run."""
    import ray

    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: calls.append(kwargs))
    names = [*ray_cluster.RAY_ENV_DEFAULTS, *ray_cluster.train_env(dashboard=True, single_node=True)]
    for name in names:  # restored after the test
        monkeypatch.delenv(name, raising=False)
    return calls


def test_connect_or_start_joins_the_recorded_cluster(settings, listener, fake_ray):
    _record(settings, listener, os.getpid())
    assert ray_cluster.connect_or_start(settings, namespace="serve", num_cpus=2, dashboard=True) is True
    assert fake_ray == [{"address": listener, "namespace": "serve", "runtime_env": None, "log_to_driver": True}]
    assert os.environ["RAY_AUTH_MODE"] == "disabled"
    # the recorded stack runs without a dashboard, on this machine only: no state or preemption actors
    assert os.environ["RAY_TRAIN_ENABLE_STATE_TRACKING"] == "0"
    assert os.environ["RAY_TRAIN_ENABLE_PREEMPTION_WATCHER"] == "0"


def test_ray_trains_helper_actors_follow_the_cluster(settings, fake_ray, monkeypatch):
    ray_cluster.connect_or_start(settings.model_copy(update={"ray_address": "ray://head:10001"}))
    assert fake_ray[-1]["address"] == "ray://head:10001"
    assert os.environ["RAY_TRAIN_ENABLE_STATE_TRACKING"] == "1"  # a cluster's dashboard shows the run
    assert os.environ["RAY_TRAIN_ENABLE_PREEMPTION_WATCHER"] == "1"  # its nodes may be drained

    monkeypatch.setenv("RAY_TRAIN_ENABLE_PREEMPTION_WATCHER", "1")  # the user's choice wins
    monkeypatch.delenv("RAY_TRAIN_ENABLE_STATE_TRACKING")
    ray_cluster.connect_or_start(settings, dashboard=False)
    assert os.environ["RAY_TRAIN_ENABLE_STATE_TRACKING"] == "0"
    assert os.environ["RAY_TRAIN_ENABLE_PREEMPTION_WATCHER"] == "1"


def test_a_private_ray_gives_up_a_taken_dashboard_port(settings, fake_ray):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = settings.model_copy(update={"ray_dashboard_url": AnyHttpUrl(f"http://127.0.0.1:{port}")})
        ray_cluster.connect_or_start(busy, num_cpus=2)
    assert fake_ray[-1]["include_dashboard"] is False and fake_ray[-1]["dashboard_port"] is None
    assert fake_ray[-1]["num_cpus"] == 2 and fake_ray[-1]["address"] == "local"  # never a `ray start` cluster

    free = ports.free_ports(1)[0]
    idle = settings.model_copy(update={"ray_dashboard_url": AnyHttpUrl(f"http://127.0.0.1:{free}")})
    ray_cluster.connect_or_start(idle)
    assert fake_ray[-1]["include_dashboard"] is True and fake_ray[-1]["dashboard_port"] == free
    ray_cluster.connect_or_start(idle, dashboard=False)
    assert fake_ray[-1]["include_dashboard"] is False


def test_the_head_node_command_and_environment(settings):
    command = ray_cluster.head_command(settings, gcs_port=41001, client_port=41002, agent_port=41003)
    assert command[0].endswith("/ray") and command[1:4] == ["start", "--head", "--block"]
    assert "--port=41001" in command and "--node-ip-address=127.0.0.1" in command
    temp_dir = ray_cluster.head_temp_dir(settings)
    assert f"--temp-dir={temp_dir}" in command and len(str(temp_dir)) < 40  # Ray's socket paths fit
    assert temp_dir != ray_cluster.head_temp_dir(settings.model_copy(update={"home": settings.home / "other"}))
    assert f"--num-cpus={max(8, os.cpu_count())}" in command
    assert "--include-dashboard=true" in command
    assert f"--dashboard-port={ray_cluster.dashboard_port(settings)}" in command
    assert "--num-cpus=3" in ray_cluster.head_command(
        settings.model_copy(update={"ray_num_cpus": 3}), gcs_port=1, client_port=2, agent_port=3
    )

    env = ray_cluster.head_env({"RAY_ADDRESS": "127.0.0.1:1", "PYTHONPATH": "/extra", "TWIN_HOME": "/h"})
    assert "RAY_ADDRESS" not in env and env["TWIN_HOME"] == "/h"
    assert env["PYTHONPATH"].split(os.pathsep) == [str(ray_cluster.PROJECT_ROOT), "/extra"]
    assert env["RAY_AUTH_MODE"] == "disabled"
