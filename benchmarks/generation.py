"""Generation speed of the default model (SmolLM2-135M-Instruct, fp32, CPU) and compose end to end.

1. Tokens/s and time to first token: the serving path (``TransformersModel.stream``: chat template,
   streamer thread, bad-words list, repetition penalty) vs the raw library call
   (``model.generate`` on the same prompt, greedy), the same number of new tokens forced on both.
2. Compose end to end: ``POST /v1/posts``'s pipeline in-process (``InProcessTwin``: retrieval over
   the demo persona's posts in a scratch database, prompt assembly, generation, the quality check
   with its retries), ``--requests`` prompts: p50/p95 latency, quality pass rate, drafts per post.

Needs the project's database server (`twin db start`, or DATABASE_URL); the scratch database is
dropped at the end. Run it on a quiet machine: every figure is CPU-bound.

    .venv/bin/python benchmarks/generation.py [--runs 3] [--new-tokens 96] [--requests 8]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._scratch import insert_chunks, percentile, scratch_database  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = [
    "why we review runbooks like code",
    "what small pull requests taught our team",
    "the boring fix that cut our pages from 40 to 3",
    "how we make every pipeline safe to rerun",
    "what I tell new on-call engineers on day one",
    "why idempotency is a kindness",
    "deleting alerts nobody acts on",
    "a checklist for handing over the pager",
]


def persona_posts() -> list[str]:
    with open(ROOT / "demo/persona/linkedin/Shares.csv", encoding="utf-8-sig", newline="") as handle:
        return [row["ShareCommentary"] for row in csv.DictReader(handle) if len(row["ShareCommentary"].split()) >= 20]


def speed(model, prompt: str, new_tokens: int, runs: int) -> dict[str, list[float]]:
    import torch

    forced = {"min_new_tokens": new_tokens}
    inputs = model._inputs(prompt)
    raw_rates, ours_rates, first_token = [], [], []
    for _ in range(runs):
        started = time.perf_counter()
        with torch.inference_mode():
            output = model.model.generate(
                **inputs,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=model.tokenizer.pad_token_id,
            )
        generated = output.shape[1] - inputs["input_ids"].shape[1]
        raw_rates.append(generated / (time.perf_counter() - started))

        started = time.perf_counter()
        first = None
        text = ""
        for piece in model.stream(prompt, new_tokens, 0.0, forced):
            if first is None and piece:
                first = time.perf_counter() - started
            text += piece
        elapsed = time.perf_counter() - started
        count = len(model.tokenizer.encode(text, add_special_tokens=False))
        ours_rates.append(count / elapsed)
        first_token.append((first or elapsed) * 1000)
    return {"raw": raw_rates, "ours": ours_rates, "ttft_ms": first_token}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="timed generations per side (default 3)")
    parser.add_argument("--new-tokens", type=int, default=96, help="tokens generated per timed run (default 96)")
    parser.add_argument("--requests", type=int, default=8, help="compose requests end to end (default 8)")
    parser.add_argument("--max-new-tokens", type=int, default=160, help="max_new_tokens of each compose request")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    from serving.config import ServingConfig
    from serving.generation import BASE_MODEL_ID, ModelSpec, TransformersModel
    from serving.pipeline import InProcessTwin
    from serving.schemas import PostRequest
    from twin.core.base_models import SHIPPED_MODEL_ID
    from twin.core.db import database_url, with_database
    from twin.core.embed import embed_chunks
    from twin.core.embedding import load_embedding_model
    from twin.core.prompting import ContextItem, assemble_prompt
    from twin.core.raw import CrawlRun, DocumentRecord
    from twin.core.settings import get_settings

    settings = get_settings()
    print(f"model {SHIPPED_MODEL_ID}, fp32, {torch.get_num_threads()} torch threads, {os.cpu_count()} cores")
    model = TransformersModel(ModelSpec(BASE_MODEL_ID, SHIPPED_MODEL_ID), home=settings.home)
    posts = persona_posts()
    hits = [
        ContextItem(
            key=f"post-{i}",
            text=post,
            title=None,
            url=f"https://www.linkedin.com/posts/{i}",
            platform="linkedin",
            kind="post",
            origin="retrieval",
            score=1.0 / (i + 1),
        )
        for i, post in enumerate(posts[:3])
    ]
    assembled = assemble_prompt(
        PROMPTS[0],
        [],
        hits,
        count_tokens=model.count_tokens,
        prompt_budget=1500,
        context_tokens=900,
        render=model.render,
    )
    prompt_tokens = model.count_tokens(assembled.text)
    model.complete(assembled.text, 8, 0.0)  # warm-up
    measured = speed(model, assembled.text, args.new_tokens, args.runs)
    raw, ours = statistics.median(measured["raw"]), statistics.median(measured["ours"])
    print(f"\n1. Generation, prompt {prompt_tokens} tokens, {args.new_tokens} new tokens, median of {args.runs}:")
    print(f"   raw model.generate          {raw:6.1f} tokens/s")
    print(f"   serving path (stream)       {ours:6.1f} tokens/s   ratio {ours / raw:.2f}x")
    print(
        f"   time to first token         p50 {percentile(measured['ttft_ms'], 0.5):6.0f} ms   "
        f"max {max(measured['ttft_ms']):6.0f} ms"
    )
    del model

    user_id = random.randint(10**9, 2 * 10**9)
    with scratch_database() as engine:
        scratch_url = with_database(database_url(settings), engine.url.database)
        insert_chunks(engine, [(f"persona-{i}", user_id, post) for i, post in enumerate(posts)])
        with CrawlRun(engine, user_id, "bench", "linkedin") as run:  # makes the user known
            run.store(
                DocumentRecord(
                    platform="linkedin", kind="post", source_url="https://example.com/bench", content=posts[0]
                )
            )
        embed_chunks(engine, settings.embedding_model, model=load_embedding_model(settings.embedding_model))
        twin = InProcessTwin(
            ServingConfig(), settings.model_copy(update={"database_url": scratch_url, "base_model": SHIPPED_MODEL_ID})
        )
        loop = asyncio.new_event_loop()
        latencies, passed, drafts, generated = [], 0, [], []
        for n in range(args.requests):
            request = PostRequest(
                user=user_id, prompt=PROMPTS[n % len(PROMPTS)], k=3, max_new_tokens=args.max_new_tokens
            )
            started = time.perf_counter()
            response = loop.run_until_complete(twin.write(request))
            latencies.append(time.perf_counter() - started)
            passed += bool(response["quality"]["passed"])
            drafts.append(response["quality"]["attempts"])
            generated.append(response["trace"]["generated_tokens"])
        loop.close()
        twin.database.dispose()

    print(
        f"\n2. Compose end to end (in-process, retrieval k=3, max_new_tokens {args.max_new_tokens}, "
        f"quality check on), {args.requests} requests:"
    )
    print(
        f"   latency p50 {percentile(latencies, 0.5):6.1f} s   p95 {percentile(latencies, 0.95):6.1f} s   "
        f"mean {statistics.mean(latencies):6.1f} s"
    )
    print(
        f"   quality passed {passed}/{args.requests}, drafts per request mean {statistics.mean(drafts):.2f} "
        f"(max {max(drafts)}), tokens of the last draft mean {statistics.mean(generated):.0f}"
    )


if __name__ == "__main__":
    main()
