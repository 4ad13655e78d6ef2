"""Ray Serve overhead: POST /v1/posts through Serve (HTTP proxy, ingress, deployment handles to the
retriever and generator) versus the same pipeline functions called in-process, generation cut
to one token of the tiny model so the difference is HTTP + routing + serialization.

Creates a scratch database on the project's server (`twin db start` first, or DATABASE_URL) with
one user's chunks embedded, deploys serving/config.yaml on a local Ray (--num-cpus), then:
  1. sequential latency, in-process (serving.pipeline.InProcessTwin) vs through Serve: p50/p95, ratio;
  2. --clients concurrent clients for --duration seconds through Serve: requests, errors, p50/p95, req/s.
Everything is shut down and the scratch database dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._scratch import insert_chunks, percentile, scratch_database  # noqa: E402
from benchmarks.embed_throughput import chunk_texts  # noqa: E402
from twin.core.ports import free_port
from twin.core.user_tokens import authorization_header  # noqa: E402

PROMPTS = [
    "why postgres is enough for vector search",
    "lessons from on-call",
    "evaluating fine-tuned models",
    "caching bugs",
    "hiring for curiosity",
    "technical debt as a loan",
    "event-driven pipelines",
]


def summary(name: str, latencies: list[float]) -> str:
    return (
        f"{name:<28} n={len(latencies):>5}  p50 {percentile(latencies, 0.5):7.1f} ms  "
        f"p95 {percentile(latencies, 0.95):7.1f} ms  mean {statistics.mean(latencies):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=500, help="chunks of the benchmark user (default 500)")
    parser.add_argument("--requests", type=int, default=100, help="sequential requests per side (default 100)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients in the load phase (default 20)")
    parser.add_argument("--duration", type=float, default=30, help="seconds of the load phase (default 30)")
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray (default 2)")
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import httpx

    from serving.config import ServingConfig
    from serving.deploy import deploy, ensure_ray, load_deploy_config, shutdown
    from serving.pipeline import InProcessTwin
    from serving.schemas import PostRequest
    from twin.core.db import database_url, with_database
    from twin.core.embed import embed_chunks
    from twin.core.embedding import load_embedding_model
    from twin.core.raw import CrawlRun, DocumentRecord
    from twin.core.settings import get_settings

    settings = get_settings()
    token = uuid.uuid4().hex
    user_id = random.randint(10**9, 2 * 10**9)
    with scratch_database() as engine:
        scratch_url = with_database(database_url(settings), engine.url.database)
        texts = chunk_texts(args.chunks)
        insert_chunks(engine, [(f"bench-{i}", user_id, text) for i, text in enumerate(texts)])
        with CrawlRun(engine, user_id, "bench", "linkedin") as run:  # makes the user known
            run.store(
                DocumentRecord(
                    platform="linkedin", kind="post", source_url="https://example.com/bench", content=texts[0]
                )
            )
        model = load_embedding_model(settings.embedding_model)
        embed_chunks(engine, settings.embedding_model, model=model)
        print(f"scratch database: {args.chunks} chunks of user {user_id} embedded")

        def body(n: int) -> dict:
            return {"user": user_id, "prompt": PROMPTS[n % len(PROMPTS)], "k": args.k, "max_new_tokens": 1}

        # --- in-process -------------------------------------------------------------------------
        local = InProcessTwin(ServingConfig(), settings.model_copy(update={"database_url": scratch_url}))
        loop = asyncio.new_event_loop()
        for n in range(5):
            loop.run_until_complete(local.write(PostRequest(**body(n))))
        in_process = []
        for n in range(args.requests):
            started = time.perf_counter()
            loop.run_until_complete(local.write(PostRequest(**body(n))))
            in_process.append((time.perf_counter() - started) * 1000)
        loop.close()
        local.database.dispose()

        # --- through Serve ------------------------------------------------------------------------
        port = free_port()
        started_ray = ensure_ray(settings, num_cpus=args.num_cpus, dashboard=False)
        try:
            url = deploy(
                load_deploy_config(
                    port=port,
                    env_vars={
                        "DATABASE_URL": scratch_url,
                        "TWIN_SERVING_TOKEN": token,
                        "HF_HUB_OFFLINE": "1",
                        "TOKENIZERS_PARALLELISM": "false",
                    },
                ),
                timeout_s=600,
            )

            def signed() -> dict:  # a fresh user token per request, as the web app sends
                return authorization_header(token, user_id, issuer="benchmark")

            with httpx.Client(base_url=url, timeout=60) as client:
                for n in range(5):
                    client.post("/v1/posts", json=body(n), headers=signed()).raise_for_status()
                served = []
                for n in range(args.requests):
                    started = time.perf_counter()
                    client.post("/v1/posts", json=body(n), headers=signed()).raise_for_status()
                    served.append((time.perf_counter() - started) * 1000)

            load_latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            deadline = time.monotonic() + args.duration

            def client_loop(number: int) -> None:
                with httpx.Client(base_url=url, timeout=60) as client:
                    n = number
                    while time.monotonic() < deadline:
                        started = time.perf_counter()
                        try:
                            response = client.post("/v1/posts", json=body(n), headers=signed())
                            ok = response.status_code == 200
                            error = None if ok else f"HTTP {response.status_code}: {response.text[:200]}"
                        except httpx.HTTPError as exc:
                            error = f"{type(exc).__name__}: {exc}"
                        elapsed = (time.perf_counter() - started) * 1000
                        with lock:
                            (errors.append(error) if error else load_latencies.append(elapsed))
                        n += 1

            threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(args.clients)]
            load_started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            load_seconds = time.monotonic() - load_started
        finally:
            shutdown(started_ray)

    print()
    print(f"Sequential, one request at a time (retrieval k={args.k} + prompt assembly + 1 generated token):")
    print(summary("in-process (same functions)", in_process))
    print(summary("through Ray Serve (HTTP)", served))
    print(
        f"Serve overhead: p50 {percentile(served, 0.5) - percentile(in_process, 0.5):+.1f} ms, "
        f"ratio p50 {percentile(served, 0.5) / percentile(in_process, 0.5):.2f}x, "
        f"p95 {percentile(served, 0.95) / percentile(in_process, 0.95):.2f}x"
    )
    print()
    print(f"Load: {args.clients} concurrent clients for {load_seconds:.1f} s through Serve:")
    if load_latencies:
        print(summary("through Ray Serve (load)", load_latencies))
    print(
        f"requests ok {len(load_latencies)}, errors {len(errors)}, throughput {len(load_latencies) / load_seconds:.1f} req/s"
    )
    for error in errors[:5]:
        print("  error:", error)
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
