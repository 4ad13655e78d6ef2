"""Scale-out on a real two-node Ray cluster on this machine (issue 18): ``ray start --head`` plus a
second ``ray start --address`` node with its own resources, its own temp dir and its own TWIN_HOME.

Training runs as it would against any cluster (a driver given RAY_ADDRESS, nothing started locally):
two Ray Train workers placed on different nodes (SPREAD, and each worker needs more CPUs than half a
node), checkpoints, the dataset snapshot and the adapter in shared storage named by TWIN_STORAGE_URI
(a file:// URI, read through pyarrow as s3:// would be). One worker is killed mid-run; Ray restarts the
worker group from the last checkpoint in storage. Then a task pinned to the second node loads the
adapter the way serving does, from the storage URI into that node's own cache, and generates; and
`twin serve` deploys the Serve app with two Generator replicas on the two nodes, each answering for
users whose adapter (that run's, registered for several users) it loads from the storage URI. And
`twin train` given the head's job server (RAY_ADDRESS=http://...) submits the run as a Ray job and
returns; the job's driver trains on the cluster.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
import yaml

from twin.core.ports import free_ports
from twin.core.processes import descendants, stop_tree
from twin.core.settings import PROJECT_ROOT

pytestmark = pytest.mark.slow

RAY = str(Path(sys.executable).parent / "ray")
NODE_CPUS = 4

DRIVER = """
import json, sys
from testing.corpus import sft_rows
from training.pipeline import fine_tune
user_id = int(sys.argv[1])
outcome = fine_tune(user_id, sys.argv[2], rows=sft_rows(user_id))
print("OUTCOME " + json.dumps({"model_id": str(outcome.model_id), "status": outcome.status,
    "adapter_uri": outcome.adapter_uri, "base_model": outcome.base_model, "training": outcome.metrics["training"]}))
"""

LOADER = """
import json, os, sys
import ray
from twin.core.chat_template import render_prompt

@ray.remote(num_cpus=1, resources={"second_node": 0.01})
def load_and_write(adapter_uri, base_model):
    from twin.core.model_loading import load_for_inference
    model, tokenizer = load_for_inference(adapter_uri, base_model)
    inputs = tokenizer(render_prompt("Write a LinkedIn post about data contracts"), return_tensors="pt",
                       add_special_tokens=False)
    generated = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    return {"node_id": ray.get_runtime_context().get_node_id(), "twin_home": os.environ["TWIN_HOME"],
            "new_tokens": int(generated.shape[1] - inputs["input_ids"].shape[1])}

ray.init(address=os.environ["RAY_ADDRESS"])
print("LOADED " + json.dumps(ray.get(load_and_write.remote(sys.argv[1], sys.argv[2]))))
"""


def _env(base: dict[str, str], **extra: str) -> dict[str, str]:
    env = {name: value for name, value in base.items() if name != "RAY_ADDRESS"}
    env.update(
        RAY_AUTH_MODE="disabled",
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), base.get("PYTHONPATH")])),
        PATH=os.pathsep.join(filter(None, [str(Path(sys.executable).parent), base.get("PATH")])),  # `python` of a job
        TOKENIZERS_PARALLELISM="false",
        HF_HUB_OFFLINE="1",
    )
    env.update(extra)
    return env


def _nodes(address: str, env: dict[str, str]) -> list[dict]:
    """The cluster's alive nodes as ``ray list nodes`` would show them (through a short-lived driver)."""
    script = (
        "import json, sys, ray; ray.init(address=sys.argv[1], log_to_driver=False); "
        "print('NODES ' + json.dumps([{'node_id': n['NodeID'], 'resources': n['Resources']} "
        "for n in ray.nodes() if n['Alive']]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, address], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("NODES "))
    return json.loads(line.removeprefix("NODES "))


def _wait_for_nodes(address: str, env: dict[str, str], count: int, processes, timeout: float = 180) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process, log in processes:
            if process.poll() is not None:
                raise AssertionError(f"a Ray node exited:\n{log.read_text()[-3000:]}")
        try:
            nodes = _nodes(address, env)
            if len(nodes) >= count:
                return nodes
        except subprocess.SubprocessError:
            pass
        time.sleep(2)
    raise AssertionError(f"{count} Ray nodes were not up after {timeout:.0f}s")


@pytest.fixture(scope="module")
def two_node_cluster(tmp_path_factory):
    """A head node (with the dashboard and job server) and a second node, each with NODE_CPUS CPUs, a
    marker resource, its own temp dir (short: Ray's socket paths) and its own TWIN_HOME; stopped with
    everything they started. One cluster for the module's tests, as a real cluster serves many runs:
    each test stops what it started on it (`twin serve` shuts Serve down when stopped)."""
    tmp_path = tmp_path_factory.mktemp("two-nodes")
    gcs, client, dashboard, *ports = free_ports(13)
    address = f"127.0.0.1:{gcs}"
    started = []
    homes = {"head": tmp_path / "home-head", "second": tmp_path / "home-second"}
    temp_dirs = [tempfile.mkdtemp(prefix="tw-ray-", dir="/tmp") for _ in homes]
    commands = {
        "head": [
            "--head",
            f"--port={gcs}",
            f"--ray-client-server-port={client}",
            "--include-dashboard=true",  # and with it the job server `twin train` submits to
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard}",
            f"--dashboard-agent-listen-port={ports[0]}",
            f"--dashboard-agent-grpc-port={ports[1]}",
            f"--runtime-env-agent-port={ports[2]}",
            f"--metrics-export-port={ports[3]}",
            '--resources={"head_node": 1}',
        ],
        "second": [
            f"--address={address}",
            f"--dashboard-agent-listen-port={ports[4]}",
            f"--dashboard-agent-grpc-port={ports[5]}",
            f"--runtime-env-agent-port={ports[6]}",
            f"--metrics-export-port={ports[7]}",
            f"--node-manager-port={ports[8]}",
            f"--object-manager-port={ports[9]}",
            '--resources={"second_node": 1}',
        ],
    }
    try:
        for (name, args), temp_dir in zip(commands.items(), temp_dirs, strict=True):
            log = tmp_path / f"ray-{name}.log"
            env = _env(dict(os.environ), TWIN_HOME=str(homes[name]))
            command = [
                RAY,
                "start",
                "--block",
                "--node-ip-address=127.0.0.1",
                f"--num-cpus={NODE_CPUS}",
                f"--temp-dir={temp_dir}",
                "--disable-usage-stats",
                *args,
            ]
            with log.open("w") as handle:
                process = subprocess.Popen(
                    command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
                )
            started.append((process, log))
            _wait_for_nodes(address, env, len(started), started)
        yield {
            "address": address,
            "dashboard_url": f"http://127.0.0.1:{dashboard}",
            "processes": started,
            "homes": homes,
        }
    finally:
        for process, _ in reversed(started):
            stop_tree(process, signals=((signal.SIGTERM, 20.0),))
        for temp_dir in temp_dirs:
            subprocess.run(["rm", "-rf", temp_dir], check=False)


def _serving_config(tmp_path: Path, port: int) -> Path:
    """serving/config.yaml with two Generator replicas, at most one per node, and one HTTP proxy (two
    nodes on one machine cannot both listen on the port)."""
    config = yaml.safe_load((PROJECT_ROOT / "serving" / "config.yaml").read_text())
    config["proxy_location"] = "HeadOnly"
    config["http_options"].update(host="127.0.0.1", port=port)
    for deployment in config["applications"][0]["deployments"]:
        if deployment["name"] == "Generator":
            deployment.update(num_replicas=2, max_replicas_per_node=1)
    path = tmp_path / "serving-two-nodes.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _register_for(engine, user_ids: list[int], outcome: dict) -> None:
    """The trained adapter registered (active) for more users, so requests spread over models."""
    import uuid

    from training import registry

    with engine.begin() as conn:
        for user_id in user_ids:
            model_id = registry.start_run(conn, user_id, outcome["base_model"], {"run": {}}, uuid.uuid4())
            status = registry.finish_run(
                conn, model_id, adapter_uri=outcome["adapter_uri"], metrics={}, perplexity=1.0, baseline_perplexity=2.0
            )
            assert status == "active"


def _index_writing(engine, database_url: str, user_id: int) -> None:
    """Something of a user's to retrieve (and the marts serving reads)."""
    from tests.twin import index_corpus
    from twin.core.embed import embed_chunks
    from twin.core.transform import transform

    index_corpus.load(engine, user_id, index_corpus.OTHER_AUTHOR_POSTS)
    transform(database_url)
    embed_chunks(engine, "all-MiniLM-L6-v2")


def _training_config(tmp_path: Path) -> Path:
    from training.config import TINY_CONFIG

    config = yaml.safe_load(TINY_CONFIG.read_text())
    config.update(
        epochs=40,  # long enough to kill a worker between two checkpoints
        save_steps=16,
        max_failures=1,
        checkpoints_to_keep=2,
        scaling={
            "num_workers": 2,
            "use_gpu": False,
            "resources_per_worker": {"CPU": NODE_CPUS - 1},  # two do not fit on one node
            "placement_strategy": "SPREAD",
        },
    )
    path = tmp_path / "two-nodes.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _registered_checkpoints(shared: Path) -> int:
    """Checkpoints Ray Train's controller has recorded for the run (its snapshot in storage)."""
    count = 0
    for snapshot in shared.glob("ray_results/*/checkpoint_manager_snapshot.json"):
        try:
            count += len(json.loads(snapshot.read_text()).get("checkpoint_results", []))
        except (OSError, ValueError):
            continue
    return count


def _train_workers_of(node_process: subprocess.Popen) -> list[psutil.Process]:
    return [
        process
        for process in descendants(node_process.pid)
        if "RayTrainWorker" in " ".join(_cmdline(process)) and process.is_running()
    ]


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:
        return []


def test_training_spreads_over_two_nodes_survives_a_killed_worker_and_serves_from_shared_storage(
    two_node_cluster, database_url, engine, tmp_path
):
    address = two_node_cluster["address"]
    shared = tmp_path / "shared"
    user_id = random.randint(10**9, 2 * 10**9)
    driver_env = _env(
        dict(os.environ),
        RAY_ADDRESS=address,
        TWIN_STORAGE_URI=f"file://{shared}",
        TWIN_HOME=str(tmp_path / "home-driver"),
        DATABASE_URL=database_url,
    )
    driver_log = tmp_path / "driver.log"
    with driver_log.open("w") as handle:
        driver = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(user_id), str(_training_config(tmp_path))],
            env=driver_env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # kill the worker on the second node once Ray has registered a checkpoint in shared storage
        second_node = two_node_cluster["processes"][1][0]
        deadline = time.monotonic() + 600
        killed = None
        while killed is None and time.monotonic() < deadline and driver.poll() is None:
            if _registered_checkpoints(shared):
                workers = _train_workers_of(second_node)
                if workers:
                    workers[0].kill()
                    killed = workers[0].pid
                    break
            time.sleep(0.5)
        assert killed is not None, f"no checkpoint or worker to kill:\n{driver_log.read_text()[-4000:]}"
        driver.wait(timeout=900)
    finally:
        stop_tree(driver)
    output = driver_log.read_text()
    assert driver.returncode == 0, output[-6000:]
    outcome = json.loads(
        next(line for line in output.splitlines() if line.startswith("OUTCOME ")).removeprefix("OUTCOME ")
    )

    training = outcome["training"]
    nodes = {node["node_id"]: node["resources"] for node in _nodes(address, driver_env)}
    for worker in training["worker_nodes"]:
        marker = "head_node" if "head_node" in nodes[worker["node_id"]] else "second_node"
        print(f"training rank {worker['rank']}: node {worker['node_id'][:12]} ({marker}), pid {worker['pid']}")
    assert training["world_size"] == 2
    assert len({worker["node_id"] for worker in training["worker_nodes"]}) == 2  # one worker per node
    assert killed not in {worker["pid"] for worker in training["worker_nodes"]}  # the group was restarted
    assert training["resumed_from_step"] >= 16 and training["global_step"] > training["resumed_from_step"]
    assert outcome["adapter_uri"] == f"file://{shared}/adapters/{user_id}/{outcome['model_id']}"

    loader_log = subprocess.run(
        [sys.executable, "-c", LOADER, outcome["adapter_uri"], outcome["base_model"]],
        env=driver_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loader_log.returncode == 0, loader_log.stdout[-3000:] + loader_log.stderr[-3000:]
    loaded = json.loads(
        next(line for line in loader_log.stdout.splitlines() if line.startswith("LOADED ")).removeprefix("LOADED ")
    )
    print(f"adapter loaded on node {loaded['node_id'][:12]} (second_node) from {outcome['adapter_uri']}")
    assert "second_node" in nodes[loaded["node_id"]] and loaded["new_tokens"] > 0
    second_home = two_node_cluster["homes"]["second"]
    assert loaded["twin_home"] == str(second_home)
    assert list((second_home / "cache" / "storage").iterdir())  # fetched from the storage URI into its cache

    # serving: two Generator replicas, one per node, each loading adapters from the storage URI
    import httpx

    from twin.core.user_tokens import authorization_header

    port = free_ports(1)[0]
    token = os.environ["TWIN_SERVING_TOKEN"]
    users = [random.randint(10**9, 2 * 10**9) for _ in range(6)]
    _register_for(engine, users, outcome)
    _index_writing(engine, database_url, users[0])
    serve_log = tmp_path / "serve.log"
    serve_env = {
        **driver_env,
        "TWIN_SERVING_CONFIG": str(_serving_config(tmp_path, port)),
        "TWIN_SERVING_URL": f"http://127.0.0.1:{port}",
        "TWIN_SERVING_TOKEN": token,
    }
    with serve_log.open("w") as handle:
        serving = subprocess.Popen(
            [sys.executable, "-m", "twin", "serve"],
            cwd=PROJECT_ROOT,
            env=serve_env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    answered: dict[str, list[int]] = {}
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            assert serving.poll() is None, serve_log.read_text()[-5000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        for user in users:
            response = httpx.post(
                f"http://127.0.0.1:{port}/v1/posts",
                headers=authorization_header(token, user, issuer="tests"),
                json={"user": user, "prompt": "What I learned deleting pipelines", "max_new_tokens": 8},
                timeout=300,
            )
            assert response.status_code == 200, response.text
            model = response.json()["model"]
            assert model["adapter"] == outcome["adapter_uri"] and model["adapter_used"], model
            answered.setdefault(model["served_by"]["node_id"], []).append(user)
            if len(answered) == 2:
                break
    finally:
        stop_tree(serving)
    for node_id, node_users in answered.items():
        marker = "head_node" if "head_node" in nodes[node_id] else "second_node"
        print(f"Generator replica on node {node_id[:12]} ({marker}) answered users {node_users}")
    assert len(answered) == 2, f"every request went to one replica: {answered}\n{serve_log.read_text()[-3000:]}"


def test_twin_train_submits_a_ray_job_that_trains_on_the_remote_cluster(
    two_node_cluster, engine, database_url, tmp_path
):
    """`twin train` with RAY_ADDRESS=http://HEAD:8265 starts nothing here: it uploads the project as
    the job's working dir, with a config from outside the project in the job's environment, and
    returns; the job's driver trains on the cluster and registers the adapter."""
    from ray.job_submission import JobStatus, JobSubmissionClient

    from testing.corpus import POSTS
    from tests.training.test_cli_train import _new_user, _post_urls
    from training.config import TINY_CONFIG
    from twin.core import model_registry
    from twin.core.raw import CrawlRun, DocumentRecord
    from twin.core.transform import transform

    user_id, email = _new_user(database_url)
    with CrawlRun(engine, user_id, "fixture-linkedin", "linkedin") as run:
        for url, post in zip(_post_urls(user_id), POSTS):
            run.store(DocumentRecord(platform="linkedin", kind="post", source_url=url, content=post))
    transform(database_url)
    config = tmp_path / "my-config.yaml"  # outside the project: it travels in the job's environment
    config.write_text(yaml.safe_dump({**yaml.safe_load(TINY_CONFIG.read_text()), "epochs": 1}))

    dashboard_url = two_node_cluster["dashboard_url"]
    client_home = tmp_path / "home-client"
    submitted = subprocess.run(
        [sys.executable, "-m", "twin", "train", "--user", email, "--config", str(config)],
        env=_env(dict(os.environ), RAY_ADDRESS=dashboard_url, TWIN_HOME=str(client_home)),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert submitted.returncode == 0, submitted.stdout[-3000:] + submitted.stderr[-3000:]
    output = " ".join((submitted.stdout + submitted.stderr).split())
    assert "Submitted Ray job " in output, output[-3000:]
    job_id = output.split("Submitted Ray job ", 1)[1].split()[0]
    assert not (client_home / "ray").exists()  # no local Ray was started for it

    jobs = JobSubmissionClient(dashboard_url)
    deadline = time.monotonic() + 900
    while jobs.get_job_status(job_id) not in {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED}:
        assert time.monotonic() < deadline, jobs.get_job_logs(job_id)[-4000:]
        time.sleep(3)
    logs = jobs.get_job_logs(job_id)
    assert jobs.get_job_status(job_id) == JobStatus.SUCCEEDED, logs[-6000:]
    info = jobs.get_job_info(job_id)
    nodes = {node["node_id"]: node["resources"] for node in _nodes(two_node_cluster["address"], _env(os.environ))}
    marker = "head_node" if "head_node" in nodes.get(info.driver_node_id, {}) else "second_node"
    print(f"Ray job {job_id}: driver on node {info.driver_node_id[:12]} ({marker}), {info.entrypoint}")
    assert "--config-from-env" in info.entrypoint

    with engine.connect() as conn:
        [record] = model_registry.list_models(conn, user_id)
    assert record.status in {"active", "candidate"}, record
    assert str(record.model_id) in logs
    assert record.adapter_uri and str(two_node_cluster["homes"]["head"]) in record.adapter_uri
