"""One Ray per stack (the `twin up` path): the stack's Ray head is what serving and training join,
training runs while serving holds the cluster and shows in its dashboard, serving picks the new
adapter up on the next request, and stopping the stack leaves no Ray process behind."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from twin.core import ports, ray_cluster
from twin.core.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

TOKEN = "stack-test-token"


@pytest.fixture
def stack_settings(tmp_path, monkeypatch):
    """Settings (and the environment the stack's processes inherit) for a private stack: its own
    home, free ports for serving and the Ray dashboard, the tiny model."""
    from twin.core.settings import get_settings

    serving_port, dashboard_port = ports.free_ports(2)
    env = {
        "TWIN_HOME": str(tmp_path / "home"),
        "TWIN_SERVING_URL": f"http://127.0.0.1:{serving_port}",
        "TWIN_RAY_DASHBOARD_URL": f"http://127.0.0.1:{dashboard_port}",
        "TWIN_RAY_DASHBOARD": "true",
        "TWIN_SERVING_TOKEN": TOKEN,
        "TWIN_BASE_MODEL": "tiny-local",
        "TOKENIZERS_PARALLELISM": "false",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("RAY_ADDRESS", "TWIN_RAY_NUM_CPUS"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    settings = get_settings()
    yield settings
    get_settings.cache_clear()
    shutil.rmtree(ray_cluster.head_temp_dir(settings), ignore_errors=True)  # the head's sessions and logs


def _session_members(sid: int) -> list[str]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if os.getsid(proc.pid) == sid:
                found.append(" ".join(proc.info["cmdline"] or [])[:160])
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return found


def _processes_of(home: str) -> list[str]:
    """Processes running with TWIN_HOME=home, except this test's own (it runs with that home too)."""
    own = {os.getpid()} | {child.pid for child in psutil.Process().children(recursive=True)}
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if proc.pid not in own and proc.environ().get("TWIN_HOME") == home:
                found.append(" ".join(proc.info["cmdline"] or [])[:160])
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def _gone(check, timeout: float = 20.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while (left := check()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def test_stopping_the_stack_leaves_no_ray_process_behind(stack_settings):
    from twin.orchestration.stack import Stack

    stack = Stack.create(stack_settings)
    try:
        address = stack.start_ray()
        head_pid = stack.ray_head.process.pid
        assert address.startswith("127.0.0.1:") and stack.env["RAY_ADDRESS"] == address
        recorded = ray_cluster.discover(stack_settings)
        assert recorded is not None and recorded.address == address and recorded.pid == head_pid
        assert httpx.get(f"{recorded.dashboard_url}/api/version", timeout=10).status_code == 200
        from ray._private.utils import read_ray_address

        default = read_ray_address() or ""  # /tmp/ray/ray_current_cluster: what a plain ray.init() here joins
        assert not default.endswith(":" + address.rsplit(":", 1)[1]), "unrelated Ray programs are not captured"

        # a command run by hand (no RAY_ADDRESS) finds the stack's Ray through ray.json, and leaves a
        # detached actor (a worker process in a process group of its own) running
        by_hand = {name: value for name, value in stack.env.items() if name != "RAY_ADDRESS"}
        driver = subprocess.run(
            [
                sys.executable,
                "-c",
                (
                    "import json, os, ray\n"
                    "from twin.core.ray_cluster import connect_or_start\n"
                    "from twin.core.settings import get_settings\n"
                    "connect_or_start(get_settings(), log_to_driver=False)\n"
                    "@ray.remote(num_cpus=0)\nclass Keeper:\n    def where(self): return os.getpid(), os.getpgrp(), os.getsid(0)\n"
                    "keeper = Keeper.options(name='keeper', lifetime='detached').remote()\n"
                    "print(json.dumps([*ray.get(keeper.where.remote()), ray.get_runtime_context().gcs_address]))\n"
                ),
            ],
            env=by_hand,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert driver.returncode == 0, driver.stderr[-3000:]
        actor_pid, actor_group, actor_session, gcs = json.loads(driver.stdout.strip().splitlines()[-1])
        assert gcs.rsplit(":", 1)[1] == address.rsplit(":", 1)[1], "joined the stack's Ray"
        assert actor_session == head_pid and actor_group != head_pid, "Ray workers leave the head's process group"
        assert _session_members(head_pid)
    finally:
        stack.stop()
    assert _gone(lambda: [actor_pid] if psutil.pid_exists(actor_pid) else []) == []  # killed, may take a moment
    assert _gone(lambda: _session_members(head_pid)) == []
    assert _gone(lambda: _processes_of(str(stack_settings.home))) == []
    assert not (stack_settings.home / "ray.json").exists()
    assert not ports.port_open(address)


def test_training_joins_the_stacks_ray_while_serving_runs_and_serving_uses_the_new_adapter(
    stack_settings, engine, database_url
):
    from tests.twin import index_corpus
    from training import registry
    from twin.core import model_registry
    from twin.core.embed import embed_chunks
    from twin.core.transform import transform
    from twin.orchestration.stack import Stack

    user_id = random.randint(10**9, 2 * 10**9)
    index_corpus.load(engine, user_id, index_corpus.OTHER_AUTHOR_POSTS)  # something of theirs to retrieve
    transform(database_url)
    embed_chunks(engine, "all-MiniLM-L6-v2")
    stack = Stack.create(stack_settings)
    try:
        address = stack.start_ray()
        head_pid = stack.ray_head.process.pid
        serving_url = stack.start_serving(timeout=600)  # `twin serve` joins the head and holds the cluster
        dashboard = str(stack_settings.ray_dashboard_url).rstrip("/")

        # what the twin_finetune DAG's task process does, with the environment Airflow inherits from the stack
        script = (
            "import json, sys\n"
            "from testing.corpus import sft_rows\n"
            "from training.pipeline import fine_tune\n"
            "user_id = int(sys.argv[1])\n"
            "outcome = fine_tune(user_id, 'training/configs/tiny.yaml', rows=sft_rows(user_id))\n"
            "import ray\n"
            "print('RESULT', json.dumps({'model_id': str(outcome.model_id), 'status': outcome.status,"
            " 'gcs': ray.get_runtime_context().gcs_address}))\n"
        )
        training = subprocess.run(
            [sys.executable, "-c", script, str(user_id)],
            cwd=PROJECT_ROOT,
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        output = training.stdout + training.stderr
        assert training.returncode == 0, output[-5000:]
        result = json.loads(output.split("RESULT", 1)[1].splitlines()[0])
        assert result["gcs"].endswith(address.rsplit(":", 1)[1]), "trained on the stack's Ray"
        with engine.connect() as conn:
            record = model_registry.get_model(conn, result["model_id"])
        assert record.status == result["status"] == "active", (record.status, record.error)

        from twin.core.user_tokens import authorization_header

        response = httpx.post(
            f"{serving_url}/v1/posts",
            headers=authorization_header(TOKEN, user_id, issuer="tests"),
            json={"user": user_id, "prompt": "What I learned deleting pipelines", "max_new_tokens": 16},
            timeout=300,
        )
        assert response.status_code == 200, response.text
        model = response.json()["model"]
        assert model["model_id"] == result["model_id"] and model["adapter"] == record.adapter_uri

        # the run is in the stack's dashboard (the one the README points to), next to serving
        runs = httpx.get(f"{dashboard}/api/train/v2/runs/v1", timeout=30).json()["train_runs"]
        assert f"user{user_id}-{result['model_id']}" in {run["name"] for run in runs}
        assert httpx.get(f"{dashboard}/api/serve/applications/", timeout=30).json()["applications"]["twin"]
        assert not stack.dead()
    finally:
        stack.stop()
    assert _gone(lambda: _session_members(head_pid)) == []
    assert _gone(lambda: _processes_of(str(stack_settings.home))) == []
    assert not ports.port_open(address)


def test_training_by_hand_next_to_a_ray_holding_the_dashboard_port_does_not_fail(stack_settings, engine):
    """`twin train` with no RAY_ADDRESS and no stack, while another Ray (e.g. a `twin serve` started by
    hand) holds the dashboard's port: a private Ray without a dashboard, not a failed run."""
    from training import registry
    from twin.core import model_registry

    dashboard_port = 8265  # the default port: the one a plain `twin serve` and `twin train` both want
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sys, time, ray\n"
                "from twin.core.ports import port_free\n"
                f"ray.init(address='local', num_cpus=1, include_dashboard=port_free({dashboard_port}), "
                f"dashboard_port={dashboard_port})\n"  # taken already (another Ray here): it stays taken
                "print('up', flush=True)\n"
                "time.sleep(900)\n"
            ),
        ],
        env={**os.environ, "RAY_AUTH_MODE": "disabled"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert holder.stdout.readline().strip() == "up"
        assert not ports.port_free(dashboard_port)
        user_id = random.randint(10**9, 2 * 10**9)
        script = (
            "import json, sys\n"
            "from testing.corpus import sft_rows\n"
            "from training.pipeline import fine_tune\n"
            "user_id = int(sys.argv[1])\n"
            "outcome = fine_tune(user_id, 'training/configs/tiny.yaml', rows=sft_rows(user_id))\n"
            "print('RESULT', json.dumps({'model_id': str(outcome.model_id), 'status': outcome.status}))\n"
        )
        env = {**os.environ, "TWIN_RAY_NUM_CPUS": "3", "TWIN_RAY_DASHBOARD_URL": f"http://127.0.0.1:{dashboard_port}"}
        training = subprocess.run(
            [sys.executable, "-c", script, str(user_id)],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        output = training.stdout + training.stderr
        assert training.returncode == 0, output[-5000:]
        result = json.loads(output.split("RESULT", 1)[1].splitlines()[0])
        with engine.connect() as conn:
            assert model_registry.get_model(conn, result["model_id"]).status in ("active", "ready")
    finally:
        os.killpg(holder.pid, 15)
        holder.wait(60)
