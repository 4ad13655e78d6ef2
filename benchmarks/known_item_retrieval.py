"""Known-item retrieval on long articles: is the article a query came from in the top 5?

The corpus is ``testing/known_items``: long multi-section articles on varied topics (with
near-neighbour clusters: three on databases, three on hiring, three on home energy...), written
for this benchmark. Queries per article: the title, three mid-article passages of 1-3 sentences
verbatim, and a paraphrase of each. The articles go through the real path into a scratch database:
``twin.core.raw`` → ``dbt build`` (cleaning, the chunker) → ``twin.core.embed`` → the hybrid search
``twin.core.retrieval.search_documents``. Each configuration (chunk size and overlap, what is
embedded, how the two searches are fused) is measured in the same run, side by side:

    recall@5 of titles, verbatim passages, paraphrased passages, all passages; MRR; search p50/p95

Latency here is on a small corpus; ``vector_search.py`` measures it at 100k chunks.

    .venv/bin/python benchmarks/known_item_retrieval.py              # every configuration
    .venv/bin/python benchmarks/known_item_retrieval.py --configs default
    .venv/bin/python benchmarks/known_item_retrieval.py --misses     # list the passages missed
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from benchmarks._scratch import migrated_database, percentile  # noqa: E402
from testing import known_items  # noqa: E402

USER_ID = 4242
MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Config:
    name: str
    chunk_max_tokens: int = 200
    chunk_overlap_tokens: int = 40
    search: dict = field(default_factory=dict)  # options for search_documents
    title_in_embedding: bool = False  # embed "title\n\ntext" instead of the chunk text alone
    note: str = ""


CONFIGS = [
    Config("default", note="as shipped: RRF, full-text share x coverage^2"),
    Config("plain RRF (before)", search={"coverage_power": 0.0}, note="the default until 2026-12-03"),
    Config("vector only", search={"use_keywords": False}, note="no full-text side"),
    Config("keyword weight 0.25", search={"coverage_power": 0.0, "keyword_weight": 0.25}),
    Config("keyword weight 0.1", search={"coverage_power": 0.0, "keyword_weight": 0.1}),
    Config("coverage^1", search={"coverage_power": 1.0}),
    Config("coverage^3", search={"coverage_power": 3.0}),
    Config("chunks 120/30", chunk_max_tokens=120, chunk_overlap_tokens=30),
    Config("chunks 160/40", chunk_max_tokens=160, chunk_overlap_tokens=40),
    Config("chunks 200/0", chunk_overlap_tokens=0),
    Config("title in embedding", title_in_embedding=True, note="the chunk's title before its text"),
]


def load(engine: sa.Engine, corpus: list[known_items.Article]) -> None:
    from twin.core.raw import CrawlRun

    with CrawlRun(engine, USER_ID, "known-items", "substack") as run:
        for record in known_items.records(corpus):
            run.store(record)


def chunk(url: str, config: Config) -> None:
    """dbt build with the configuration's chunking variables (chunks of other settings are replaced)."""
    from twin.core.transform import run_dbt

    variables = {"chunk_max_tokens": config.chunk_max_tokens, "chunk_overlap_tokens": config.chunk_overlap_tokens}
    outcome = run_dbt(["build", "--vars", json.dumps(variables)], url=url)
    if not outcome.success:
        raise SystemExit(f"dbt build failed for {config.name}: {outcome.exception or 'see the dbt log'}")


def chunk_stats(engine: sa.Engine) -> tuple[int, float]:
    with engine.connect() as conn:
        count, words = conn.execute(
            sa.text("select count(*), avg(array_length(regexp_split_to_array(text, '\\s+'), 1)) from marts.chunks")
        ).one()
    return int(count), float(words or 0)


def embed_with_titles(engine: sa.Engine, model) -> str:
    """Vectors of "title\n\ntext" under their own model key; returns the key."""
    from twin.core.embed import _prepare_model_storage, _write_page
    from twin.core.embedding import embedding_dimension, encode

    key = MODEL + "+title"
    with engine.connect() as conn:
        conn.execute(sa.text("delete from vectors.chunk_embeddings where model = :m"), {"m": key})
        rows = conn.execute(sa.text("select chunk_id, user_id, title, text from marts.chunks order by chunk_id")).all()
        _prepare_model_storage(conn, key, embedding_dimension(model))
        texts = [f"{row.title}\n\n{row.text}" if row.title else row.text for row in rows]
        _write_page(conn, key, [(row.chunk_id, row.user_id) for row in rows], encode(model, texts, 32))
        conn.commit()
    return key


def evaluate(engine, config: Config, queries: list[known_items.Query], vectors, model, k: int) -> dict:
    from twin.core.retrieval import search_documents

    found: dict[str, list[int | None]] = defaultdict(list)
    misses = []
    timings = []
    for query, vector in zip(queries, vectors):
        started = time.perf_counter()
        hits = search_documents(
            engine, USER_ID, query.text, k=k, model=model, query_vector=vector, **{"model_name": MODEL, **config.search}
        )
        timings.append((time.perf_counter() - started) * 1000)
        urls = [hit.url for hit in hits]
        rank = urls.index(query.url) + 1 if query.url in urls else None
        found[query.kind].append(rank)
        if rank is None:
            misses.append(query)
    recall = {kind: sum(rank is not None for rank in ranks) / len(ranks) for kind, ranks in found.items()}
    passages = found["verbatim"] + found["paraphrase"]
    every = [rank for ranks in found.values() for rank in ranks]
    return {
        "recall": recall,
        "passages": sum(rank is not None for rank in passages) / len(passages),
        "mrr": statistics.fmean(1 / rank if rank else 0 for rank in every),
        "p50": percentile(timings, 0.5),
        "p95": percentile(timings, 0.95),
        "misses": misses,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", help="comma-separated names (default: all): " + ", ".join(c.name for c in CONFIGS))
    parser.add_argument("--k", type=int, default=5, help="top k counted as found (default 5)")
    parser.add_argument("--misses", action="store_true", help="print each query that missed, per configuration")
    args = parser.parse_args(argv)
    wanted = [name.strip() for name in args.configs.split(",")] if args.configs else [c.name for c in CONFIGS]
    configs = [config for config in CONFIGS if config.name in wanted]
    if not configs:
        parser.error(f"no configuration named {args.configs!r}")

    from twin.core.embed import embed_chunks
    from twin.core.embedding import encode, load_embedding_model

    corpus = known_items.articles()
    queries = known_items.queries(corpus)
    words = [len(article.body.split()) for article in corpus]
    print(
        f"{len(corpus)} articles ({statistics.fmean(words):.0f} words on average, {min(words)}-{max(words)}), "
        f"{len(queries)} queries ({len(corpus)} titles, {len(queries) - len(corpus)} passages); top {args.k}"
    )
    model = load_embedding_model(MODEL)
    query_vectors = encode(model, [query.text for query in queries], batch_size=32)
    rows = []
    with migrated_database("twin_known_items") as (url, engine):
        load(engine, corpus)
        for config in configs:
            chunk(url, config)
            embed_chunks(engine, MODEL, model=model)
            chunks, chunk_words = chunk_stats(engine)
            if config.title_in_embedding:
                config = Config(
                    **{**config.__dict__, "search": {**config.search, "model_name": embed_with_titles(engine, model)}}
                )
            result = evaluate(engine, config, queries, query_vectors, model, args.k)
            rows.append((config, chunks, chunk_words, result))
            print(f"  measured {config.name}", flush=True)

    header = (
        f"{'configuration':22} {'chunks':>6} {'words':>5} {'titles':>7} {'verbatim':>8} {'paraphr.':>8} "
        f"{'passages':>8} {'MRR':>6} {'p50 ms':>7} {'p95 ms':>7}"
    )
    print()
    print(header)
    print("-" * len(header))
    for config, chunks, chunk_words, result in rows:
        recall = result["recall"]
        print(
            f"{config.name:22} {chunks:6d} {chunk_words:5.0f} {recall['title']:7.3f} {recall['verbatim']:8.3f} "
            f"{recall['paraphrase']:8.3f} {result['passages']:8.3f} {result['mrr']:6.3f} "
            f"{result['p50']:7.1f} {result['p95']:7.1f}"
        )
    if args.misses:
        for config, _, _, result in rows:
            print(f"\nmissed by {config.name}:")
            for query in result["misses"]:
                print(f"  [{query.kind}] {query.url.rsplit('/', 1)[-1]}: {query.text[:110]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
