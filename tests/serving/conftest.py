"""Fixtures of the serving tests: the fixture corpus for three users (two with their own LoRA
adapter on a tiny local model, one without), a TCP proxy in front of the database (stopping it
is "the database is down"), the link fixture server, and one real Serve app on a local Ray."""

from __future__ import annotations

import os
import random
import socket
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.twin import index_corpus
from twin.core.ports import free_port

TOKEN = "test-serving-token-" + uuid.uuid4().hex[:8]


@dataclass
class ServingUsers:
    ada_id: int
    ada_email: str
    grace_id: int
    newcomer_id: int
    adapters: dict[int, tuple[str, str]] = field(default_factory=dict)  # user id -> (registry model id, adapter dir)
    base_dir: str = ""


class TcpProxy:
    """Forwards 127.0.0.1:port to the database; ``stop()`` refuses and cuts connections like a dead server."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = free_port()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = None

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source, target) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        if self._listener is not None:
            try:  # wakes the thread blocked in accept(); close() alone leaves the port listening
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


@pytest.fixture(scope="session")
def serving_embedding_model():
    from twin.core.embedding import load_embedding_model

    return load_embedding_model("all-MiniLM-L6-v2")


def _make_adapter(base_dir: str, target: Path, seed: int) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    peft_model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    peft_model.save_pretrained(target)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(target)


@pytest.fixture(scope="session")
def serving_users(engine, database_url, serving_embedding_model, tmp_path_factory) -> ServingUsers:
    """Ada (a web app user, addressed by email) and Grace (by id) with an active adapter each;
    a newcomer with writing but no adapter (served by the base model)."""
    from training import registry
    from training.config import TINY_CONFIG, parse_config, read_config_file
    from twin.core.embed import embed_chunks
    from twin.core.raw import DocumentRecord
    from twin.core.tiny_model import build_tiny_model
    from twin.core.transform import transform
    from twin.core.users import create_user

    ada_email = f"ada-serve-{uuid.uuid4().hex[:8]}@example.com"
    ada_id, _ = create_user(ada_email, "correct horse battery staple", database_url)
    grace_id, newcomer_id = random.sample(range(10**9, 2 * 10**9), 2)
    index_corpus.load(engine, ada_id, index_corpus.AUTHOR_DOCUMENTS)
    index_corpus.load(engine, grace_id, index_corpus.OTHER_AUTHOR_POSTS)
    index_corpus.load(
        engine,
        newcomer_id,
        [
            DocumentRecord(
                platform="linkedin",
                kind="post",
                source_url=f"https://www.linkedin.com/posts/newcomer_{newcomer_id}",
                content="My first week as a data engineer: I learned that boring pipelines that rerun safely are the best pipelines.",
            )
        ],
    )
    transform(database_url)
    embed_chunks(engine, "all-MiniLM-L6-v2", model=serving_embedding_model)

    home = tmp_path_factory.mktemp("serving-models")
    spec = parse_config(read_config_file(TINY_CONFIG), str(TINY_CONFIG)).tiny_model
    corpus = [record.content for record in index_corpus.AUTHOR_DOCUMENTS + index_corpus.OTHER_AUTHOR_POSTS]
    base_dir = str(build_tiny_model(corpus, spec, home, seed=3))
    users = ServingUsers(ada_id, ada_email, grace_id, newcomer_id, base_dir=base_dir)
    for seed, user_id in enumerate((ada_id, grace_id), start=1):
        adapter_dir = home / "adapters" / str(user_id)
        _make_adapter(base_dir, adapter_dir, seed)
        with engine.begin() as conn:
            model_id = registry.start_run(conn, user_id, base_dir, {"test": "serving"})
            registry.update_run(conn, model_id, status="active", adapter_uri=str(adapter_dir))
        users.adapters[user_id] = (str(model_id), str(adapter_dir))
    return users


@pytest.fixture(scope="session")
def db_proxy(database_url):
    from twin.core.db import connection_parts

    parts = connection_parts(database_url)
    proxy = TcpProxy((parts["host"], int(parts["port"])))
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture(scope="session")
def link_server():
    from testing.fixture_server import FixtureServer

    with FixtureServer() as server:
        server.set(
            "/web/to-metadata", b"", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
        )
        yield server


@dataclass
class ServeApp:
    url: str
    token: str
    config_overrides: dict

    def headers(self, user, secret: str | None = None) -> dict:
        """A user token for ``user`` signed with the app's secret (or ``secret``), as the web app sends it."""
        from twin.core.user_tokens import authorization_header

        return authorization_header(secret or self.token, user, issuer="tests")

    def set_links_policy(self, **user_config) -> None:
        """Redeploy with a new LinkReader ``user_config``: reconfigured in place, nothing restarts."""
        from serving.deploy import deploy, load_deploy_config

        overrides = dict(self.config_overrides)
        overrides["user_configs"] = {"LinkReader": {**overrides["user_configs"]["LinkReader"], **user_config}}
        deploy(load_deploy_config(**overrides), timeout_s=120)


@pytest.fixture(scope="module")
def serve_app(serving_users, db_proxy, database_url):
    """The real application from serving/config.yaml on a local Ray (2 CPUs), its database
    reached through ``db_proxy``; Serve (and Ray, if this fixture started it) are shut down at the
    end of the module, so later tests sharing the process's Ray get its CPUs back."""
    from serving.deploy import deploy, ensure_ray, load_deploy_config, shutdown
    from twin.core.db import connection_parts
    from twin.core.settings import get_settings

    parts = connection_parts(database_url)
    proxied_url = f"postgresql://{parts['user']}:{parts['password']}@127.0.0.1:{db_proxy.port}/{parts['dbname']}"
    overrides = dict(
        port=free_port(),
        env_vars={
            "DATABASE_URL": proxied_url,
            "TWIN_SERVING_TOKEN": TOKEN,
            "TWIN_HOME": os.environ["TWIN_HOME"],
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "TWIN_SERVING_MAX_MODELS_PER_REPLICA": "3",
            "TWIN_BASE_MODEL": "tiny-local",
        },
        user_configs={"LinkReader": {"allow_private_urls": True, "timeout_s": 5}},
        # plumbing on the tiny random model: its text is rejected by the quality check (as
        # test_pipeline's test of the check shows), so the check is off here
        args={
            "limits": {"default_max_new_tokens": 48},
            "generation": {"torch_threads": 1},
            "quality": {"enabled": False},
        },
    )
    started = ensure_ray(get_settings(), num_cpus=2, dashboard=False)
    try:
        url = deploy(load_deploy_config(**overrides), timeout_s=300)
        yield ServeApp(url, TOKEN, overrides)
    finally:
        shutdown(started)
