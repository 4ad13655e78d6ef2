"""Generation speed of the default model (SmolLM2-135M-Instruct, CPU) per weight precision, and
compose end to end.

1. Tokens/s and time to first token, fp32 (the reference) and each faster ``generation.precision``
   (``--fast``, default fp16) side by side, measured in turns in one process so that a busy machine
   slows every column alike: the raw library call (``model.generate``, greedy) and the serving path
   (``TransformersModel.stream``: chat template, streamer thread, bad-words list, repetition
   penalty), the same number of new tokens forced on both; whether the greedy tokens are fp32's;
   the post-quality check's verdict on 8 fixed prompts (greedy, first draft, ``generate`` as
   serving runs it) and how many of those posts are fp32's word for word.
2. Compose end to end: ``POST /v1/posts``'s pipeline in-process (``InProcessTwin``: retrieval over
   the demo persona's posts in a scratch database, prompt assembly, generation, the quality check
   with its retries), ``--requests`` prompts: p50/p95 latency, quality pass rate, drafts per post.

Part 2 needs the project's database server (`twin db start`, or DATABASE_URL; the scratch database
is dropped at the end); ``--no-compose`` skips it. Run it on a quiet machine: every figure is
CPU-bound (on a shared machine ``--threads 1`` avoids OpenMP threads waiting on each other).

    .venv/bin/python benchmarks/generation.py [--runs 3] [--new-tokens 96] [--fast fp16,bf16,int8] [--no-compose]
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


def first_divergence(ours: list[int], reference: list[int]) -> int | None:
    """Index of the first token that differs from ``reference`` (None: identical)."""
    for index, (a, b) in enumerate(zip(ours, reference)):
        if a != b:
            return index
    return None if len(ours) == len(reference) else min(len(ours), len(reference))


def speed_once(model, prompt: str, new_tokens: int) -> dict:
    """One raw ``model.generate`` (greedy) and one serving-path stream, ``new_tokens`` forced on both."""
    import torch

    inputs = model._inputs(prompt)
    started = time.perf_counter()
    with torch.inference_mode():
        output = model.model.generate(
            **inputs,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=model.tokenizer.pad_token_id,
        )
    tokens = output[0, inputs["input_ids"].shape[1] :].tolist()
    raw = len(tokens) / (time.perf_counter() - started)

    started = time.perf_counter()
    first = None
    text = ""
    for piece in model.stream(prompt, new_tokens, 0.0, {"min_new_tokens": new_tokens}):
        if first is None and piece:
            first = time.perf_counter() - started
        text += piece
    elapsed = time.perf_counter() - started
    count = len(model.tokenizer.encode(text, add_special_tokens=False))
    return {"raw": raw, "ours": count / elapsed, "ttft_ms": (first or elapsed) * 1000, "tokens": tokens}


def quality_runs(model, posts: list[str], max_new_tokens: int) -> list[tuple[bool, str]]:
    """(passed, post) of the first greedy draft for each of :data:`PROMPTS`, judged as serving does."""
    from serving.config import PromptConfig, QualityConfig
    from serving.generation import GenerationRequest, generate
    from twin.core.prompting import ContextItem

    results = []
    for n, prompt in enumerate(PROMPTS):
        hits = [
            ContextItem(
                key=f"post-{k}",
                text=posts[k],
                title=None,
                url=f"https://www.linkedin.com/posts/{k}",
                platform="linkedin",
                kind="post",
                origin="retrieval",
                score=1.0 / (j + 1),
            )
            for j, k in enumerate((3 * n + j) % len(posts) for j in range(3))
        ]
        request = GenerationRequest(prompt, [], hits, max_new_tokens, 0.0, model.spec)
        result = generate(model, request, PromptConfig(), QualityConfig(max_attempts=1))
        results.append((bool(result.quality["passed"]), result.post or result.rejected_draft or ""))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="timed generations per side (default 3)")
    parser.add_argument("--new-tokens", type=int, default=96, help="tokens generated per timed run (default 96)")
    parser.add_argument(
        "--fast", default="fp16", help="precisions compared with fp32, comma-separated (default fp16; fp16,bf16,int8)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    parser.add_argument("--no-quality", action="store_true", help="skip the 8-prompt quality comparison")
    parser.add_argument("--no-compose", action="store_true", help="skip part 2 (the one that needs the database)")
    parser.add_argument("--compose-precision", default="fp32", help="generation.precision of part 2 (default fp32)")
    parser.add_argument("--requests", type=int, default=8, help="compose requests end to end (default 8)")
    parser.add_argument("--max-new-tokens", type=int, default=160, help="max_new_tokens of each compose request")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    from serving.config import GenerationConfig, ServingConfig
    from serving.generation import BASE_MODEL_ID, ModelSpec, TransformersModel, check_precision
    from serving.pipeline import InProcessTwin
    from serving.schemas import PostRequest
    from twin.core.base_models import SHIPPED_MODEL_ID
    from twin.core.db import database_url, with_database
    from twin.core.embed import embed_chunks
    from twin.core.embedding import load_embedding_model
    from twin.core.prompting import ContextItem, assemble_prompt
    from twin.core.raw import CrawlRun, DocumentRecord
    from twin.core.settings import get_settings

    precisions = ["fp32"] + [p.strip() for p in args.fast.split(",") if p.strip() and p.strip() != "fp32"]
    for precision in precisions + [args.compose_precision]:
        check_precision(precision, "cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = get_settings()
    print(f"model {SHIPPED_MODEL_ID}, CPU, {torch.get_num_threads()} torch threads, {os.cpu_count()} cores")
    spec = ModelSpec(BASE_MODEL_ID, SHIPPED_MODEL_ID)
    models = {}
    for precision in precisions:
        models[precision] = TransformersModel(spec, home=settings.home, device="cpu", precision=precision)
        print(f"   loaded {precision:5s} in {models[precision].load_ms / 1000:5.1f} s")
    reference = models["fp32"]
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
        count_tokens=reference.count_tokens,
        prompt_budget=1500,
        context_tokens=900,
        render=reference.render,
    )
    prompt_tokens = reference.count_tokens(assembled.text)
    for model in models.values():
        model.complete(assembled.text, 8, 0.0)  # warm-up
    measured: dict[str, list[dict]] = {precision: [] for precision in precisions}
    for run in range(args.runs):  # in turns, the order reversed every other round: a busy machine slows all alike
        for precision in precisions if run % 2 == 0 else precisions[::-1]:
            measured[precision].append(speed_once(models[precision], assembled.text, args.new_tokens))

    quality: dict[str, list[tuple[bool, str]]] = {}
    if not args.no_quality:
        for precision, model in models.items():
            quality[precision] = quality_runs(model, posts, args.max_new_tokens)

    print(
        f"\n1. Generation, prompt {prompt_tokens} tokens, {args.new_tokens} new tokens, median of {args.runs} "
        f"(x: tokens/s over fp32's in the same round, median of the rounds; greedy: the raw greedy tokens vs fp32's; quality: "
        f"first greedy drafts of {len(PROMPTS)} fixed prompts, max_new_tokens {args.max_new_tokens}, that pass "
        "the check, and how many are fp32's post word for word):"
    )
    print(
        f"   {'precision':9s} {'raw tok/s':>9s} {'raw x':>6s} {'serving tok/s':>13s} {'serving x':>9s} "
        f"{'TTFT p50':>9s} {'TTFT max':>9s}  {'greedy':<16s} {'quality':>8s} {'same post':>9s}"
    )
    base_tokens = measured["fp32"][0]["tokens"]
    for precision, runs in measured.items():
        raw = statistics.median(run["raw"] for run in runs)
        ours = statistics.median(run["ours"] for run in runs)
        ttft = [run["ttft_ms"] for run in runs]
        # each round's fast run over the same round's fp32 run, then the median: robust to a load that drifts
        ratio = statistics.median(run["ours"] / base["ours"] for run, base in zip(runs, measured["fp32"]))
        raw_ratio = statistics.median(run["raw"] / base["raw"] for run, base in zip(runs, measured["fp32"]))
        diverged = [first_divergence(run["tokens"], base_tokens) for run in runs]
        greedy = (
            "identical"
            if all(d is None for d in diverged)
            else f"differs at {min(d for d in diverged if d is not None)}"
        )
        if precision == "fp32":
            greedy = (
                "reference"
                if all(d is None for d in diverged)
                else f"unstable at {min(d for d in diverged if d is not None)}"
            )
        if quality:
            passed = sum(ok for ok, _ in quality[precision])
            same = sum(post == fp32_post for (_, post), (_, fp32_post) in zip(quality[precision], quality["fp32"]))
            verdict, same_posts = f"{passed}/{len(PROMPTS)}", f"{same}/{len(PROMPTS)}"
        else:
            verdict = same_posts = "-"
        print(
            f"   {precision:9s} {raw:9.1f} {raw_ratio:5.2f}x {ours:13.1f} {ratio:8.2f}x "
            f"{percentile(ttft, 0.5):7.0f}ms {max(ttft):7.0f}ms  {greedy:<16s} {verdict:>8s} {same_posts:>9s}"
        )
    del models, reference, model
    if args.no_compose:
        return

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
            ServingConfig(generation=GenerationConfig(precision=args.compose_precision)),
            settings.model_copy(update={"database_url": scratch_url, "base_model": SHIPPED_MODEL_ID}),
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
        f"\n2. Compose end to end (in-process, {args.compose_precision}, retrieval k=3, max_new_tokens "
        f"{args.max_new_tokens}, quality check on), {args.requests} requests:"
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
