"""HNSW and hybrid search versus exact search at 100k synthetic 384-d chunks.

In a scratch database (dropped at the end) it loads N unit vectors drawn around 1,000 topic
centres (clustered like real embeddings, not uniform noise), each with a short text of its topic's
words, owned by two users: a large one (99% of rows) and a small one (1%). Then, for a set of
queries near topic centres, it measures recall@10 against exact search (numpy brute force) and
p50/p95 latency of:
  - the HNSW index alone, no filter (raw SQL: `order by embedding::vector(384) <=> q limit 10`);
  - exact scan in Postgres (index scans off) for the speed-up;
  - twin.core.retrieval's vector side for each user (the per-user filter; 1% for the small one);
  - twin.core.retrieval's hybrid search for each user, against the same fusion over an exact vector side.
The HNSW index is built once (m and ef_construction below); ef_search is swept.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._scratch import CHUNKS_SEARCH_INDEX, insert_chunks, percentile, scratch_database  # noqa: E402

MODEL = "bench-384"
DIMENSION = 384
LARGE_USER, SMALL_USER = 1, 2


def make_dataset(rows: int, topics: int, seed: int):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(topics, DIMENSION)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    topic_of_row = rng.integers(0, topics, size=rows)
    # noise of norm ~0.9 around a unit centre: neighbours within a topic are close but not trivial
    vectors = centres[topic_of_row] + rng.normal(scale=0.9 / np.sqrt(DIMENSION), size=(rows, DIMENSION)).astype(
        np.float32
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    owners = np.where(rng.random(rows) < 0.01, SMALL_USER, LARGE_USER)
    texts = [
        " ".join(f"topic{topic}word{w}" for w in rng.integers(0, 12, size=8)) + " about systems and teams"
        for topic in topic_of_row
    ]
    return centres, topic_of_row, vectors, owners, texts


def make_queries(centres, count: int, seed: int):
    rng = np.random.default_rng(seed + 1)
    topics = rng.integers(0, len(centres), size=count)
    queries = centres[topics] + rng.normal(scale=0.9 / np.sqrt(DIMENSION), size=(count, DIMENSION)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    query_texts = [f"topic{topic}word{rng.integers(0, 12)} topic{topic}word{rng.integers(0, 12)}" for topic in topics]
    return queries, query_texts


def exact_top(vectors, ids, query, k=10):
    scores = vectors @ query
    best = np.argpartition(-scores, k)[:k]
    return {ids[i] for i in best}


def load(engine, vectors, owners, texts):
    from pgvector.psycopg import register_vector

    ids = [f"c{i:07d}" for i in range(len(vectors))]
    insert_chunks(engine, [(chunk_id, int(owner), text) for chunk_id, owner, text in zip(ids, owners, texts)])
    with engine.begin() as conn:
        driver = conn.connection.driver_connection
        register_vector(driver)
        with driver.cursor() as cursor:
            with cursor.copy(
                "copy vectors.chunk_embeddings (chunk_id, model, user_id, embedding) from stdin with (format binary)"
            ) as copy:
                copy.set_types(["text", "text", "int8", "vector"])
                for chunk_id, owner, vector in zip(ids, owners, vectors):
                    copy.write_row((chunk_id, MODEL, int(owner), vector))
    return ids


def build_indexes(engine, m: int, ef_construction: int) -> float:
    from twin.core.tables import hnsw_index_ddl

    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("set maintenance_work_mem = '1GB'")
        conn.exec_driver_sql("set max_parallel_maintenance_workers = 1")
        conn.exec_driver_sql(
            hnsw_index_ddl(MODEL, DIMENSION).replace(
                "vector_cosine_ops)", f"vector_cosine_ops) with (m = {m}, ef_construction = {ef_construction})"
            )
        )
        conn.exec_driver_sql(CHUNKS_SEARCH_INDEX)
        conn.exec_driver_sql("vacuum analyze vectors.chunk_embeddings")
        conn.exec_driver_sql("vacuum analyze marts.chunks")
    return time.perf_counter() - started


def timed(function, queries):
    results, latencies = [], []
    for query in queries:
        started = time.perf_counter()
        results.append(function(query))
        latencies.append((time.perf_counter() - started) * 1000)
    return results, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--topics", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=20, help="queries timed with an exact scan in Postgres")
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=64)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[40, 100, 200])
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    import sqlalchemy as sa

    from twin.core.retrieval import search_chunks, set_search_parameters

    centres, _, vectors, owners, texts = make_dataset(args.rows, args.topics, args.seed)
    queries, query_texts = make_queries(centres, args.queries, args.seed)
    with scratch_database() as engine:
        started = time.perf_counter()
        ids = load(engine, vectors, owners, texts)
        print(
            f"{args.rows} rows loaded in {time.perf_counter() - started:.0f}s; "
            f"small user owns {np.mean(owners == SMALL_USER):.2%} of them"
        )
        build_seconds = build_indexes(engine, args.m, args.ef_construction)
        print(
            f"HNSW index (m={args.m}, ef_construction={args.ef_construction}) and GIN index built in {build_seconds:.0f}s"
        )

        id_array = np.array(ids)
        exact_all = [exact_top(vectors, id_array, q) for q in queries]
        by_user = {user: (vectors[owners == user], id_array[owners == user]) for user in (LARGE_USER, SMALL_USER)}
        exact_user = {user: [exact_top(*by_user[user], q) for q in queries] for user in by_user}
        literal = lambda q: "[" + ",".join(f"{v:.7g}" for v in q) + "]"  # noqa: E731
        nearest = sa.text(
            f"select chunk_id from vectors.chunk_embeddings where model = :m "
            f"order by embedding::vector({DIMENSION}) <=> cast(:q as vector({DIMENSION})) limit 10"
        )

        def unfiltered(ef: int, exact: bool = False):
            def run(query):
                with engine.begin() as conn:
                    set_search_parameters(conn, ef)
                    if exact:
                        conn.exec_driver_sql("set local enable_indexscan = off")
                    return set(conn.execute(nearest, {"m": MODEL, "q": literal(query)}).scalars())

            return run

        def retrieval(user: int, ef: int, hybrid: bool, exact: bool = False):
            def run(index):
                hits = search_chunks(
                    engine,
                    user,
                    query_texts[index],
                    limit=10,
                    candidates=40 if hybrid else 10,
                    model_name=MODEL,
                    query_vector=queries[index],
                    ef_search=ef,
                    use_keywords=hybrid,
                    exact=exact,
                )
                return [hit.chunk_id for hit in hits]

            return run

        def recall(found, truth):
            return float(np.mean([len(set(f) & t) / len(t) for f, t in zip(found, truth)]))

        exact_sample = list(queries[: args.exact_queries])
        _, exact_latency = timed(unfiltered(100, exact=True), exact_sample)
        exact_p50 = percentile(exact_latency, 0.5)
        print(
            f"\nexact scan in Postgres: p50 {exact_p50:.1f} ms, p95 {percentile(exact_latency, 0.95):.1f} ms "
            f"({len(exact_sample)} queries)\n"
        )
        print(f"{'path':50} {'ef':>4} {'recall@10':>9} {'p50 ms':>7} {'p95 ms':>7} {'speed-up':>8}")

        def row(label, ef, found, truth, latency):
            p50 = percentile(latency, 0.5)
            print(
                f"{label:50} {ef:>4} {recall(found, truth):>9.3f} {p50:>7.2f} {percentile(latency, 0.95):>7.2f} "
                f"{exact_p50 / p50:>7.1f}x"
            )

        indices = list(range(len(queries)))
        for ef in args.ef_search:
            found, latency = timed(unfiltered(ef), list(queries))
            row("HNSW, no filter", ef, found, exact_all, latency)
            for user, label in ((LARGE_USER, "99% of rows"), (SMALL_USER, "1% of rows")):
                found, latency = timed(retrieval(user, ef, hybrid=False), indices)
                row(f"twin vector side, user with {label}", ef, found, exact_user[user], latency)
            for user, label in ((LARGE_USER, "99% of rows"), (SMALL_USER, "1% of rows")):
                truth = [set(hits) for hits in timed(retrieval(user, ef, hybrid=True, exact=True), indices)[0]]
                found, latency = timed(retrieval(user, ef, hybrid=True), indices)
                row(f"twin hybrid (vs exact-vector fusion), {label}", ef, found, truth, latency)
            print()

        def vector_side_scan() -> str:
            from twin.core.retrieval import SearchFilters, hybrid_sql

            with engine.begin() as conn:
                set_search_parameters(conn, 100)
                plan = (
                    conn.execute(
                        sa.text("explain " + hybrid_sql(DIMENSION, SearchFilters(), use_keywords=False)),
                        {
                            "user_id": SMALL_USER,
                            "model": MODEL,
                            "query_vector": literal(queries[0]),
                            "query_text": "",
                            "keyword_weight": 1.0,
                            "coverage_power": 2.0,
                            "candidates": 10,
                            "limit": 10,
                        },
                    )
                    .scalars()
                    .all()
                )
            return next((line.strip(" ->") for line in plan if "Scan" in line and "chunk_embeddings" in line), "?")

        print(f"plan of the vector side for the 1% user: {vector_side_scan()}")
        # Without the (model, user_id) b-tree the 1% filter must go through HNSW + iterative scan.
        with engine.begin() as conn:
            conn.exec_driver_sql("drop index vectors.chunk_embeddings_model_user_idx")
        print(f"\nwithout the (model, user_id) b-tree, the plan is: {vector_side_scan()}")
        for ef in args.ef_search:
            found, latency = timed(retrieval(SMALL_USER, ef, hybrid=False), indices)
            row("twin vector side, 1% of rows, HNSW iterative", ef, found, exact_user[SMALL_USER], latency)


if __name__ == "__main__":
    main()
