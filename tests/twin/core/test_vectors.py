"""pgvector's HNSW index answers nearest-neighbour queries on vectors.chunk_embeddings."""

import numpy as np
import sqlalchemy as sa

from twin.core.tables import chunk_embeddings, hnsw_index_ddl, hnsw_index_name

# A model key of its own (with its own HNSW index, created in the test's transaction), so rows other
# tests committed under the real model cannot change the plan.
MODEL = "test-vectors-384"
NEAREST = sa.text(
    "select chunk_id from vectors.chunk_embeddings where model = :model "
    "order by embedding::vector(384) <=> cast(:query as vector(384)) limit :k"
)


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def test_hnsw_query_returns_the_nearest_rows(db_conn):
    db_conn.execute(sa.text(hnsw_index_ddl(MODEL, 384)))
    rng = np.random.default_rng(7)
    vectors = [_unit(rng.normal(size=384)) for _ in range(300)]
    db_conn.execute(
        chunk_embeddings.insert(),
        [{"chunk_id": f"c{i}", "model": MODEL, "user_id": 1, "embedding": v.tolist()} for i, v in enumerate(vectors)],
    )
    # Steer the planner to the ordered index scan whatever statistics other tests left behind.
    db_conn.execute(sa.text("set local enable_seqscan = off"))
    db_conn.execute(sa.text("set local enable_sort = off"))
    target = 123
    query = _unit(vectors[target] + rng.normal(scale=0.05, size=384))

    plan = "\n".join(
        row[0]
        for row in db_conn.execute(
            sa.text("explain " + NEAREST.text), {"model": MODEL, "query": str(query.tolist()), "k": 5}
        )
    )
    assert hnsw_index_name(MODEL) in plan

    found = [row[0] for row in db_conn.execute(NEAREST, {"model": MODEL, "query": str(query.tolist()), "k": 5})]
    exact = np.argsort([-float(np.dot(query, v)) for v in vectors])[:5]
    assert found[0] == f"c{target}"
    assert found == [f"c{i}" for i in exact]
