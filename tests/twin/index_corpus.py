"""A small, realistic corpus for the transform/embed/retrieval tests: two authors' posts, articles,
repository files and a supplied link, loaded into ``raw.*`` through ``twin.core.raw`` like a crawl would."""

from __future__ import annotations

from datetime import UTC, datetime, timezone

from twin.core.raw import CrawlRun, DocumentRecord

SHARED_POST = (
    "Shipping beats polishing. Every week I keep a list of the things I almost did not publish "
    "because they felt unfinished, and every month the unfinished ones got the best replies. "
    "Put it out, listen, then improve it."
)


def _at(day: int, month: int = 3) -> datetime:
    return datetime(2025, month, day, 9, 30, tzinfo=UTC)


ARTICLES = [
    DocumentRecord(
        platform="medium",
        kind="article",
        source_url="https://medium.com/@ada/chunking-for-retrieval-without-losing-the-plot-3f2a",
        title="Chunking for retrieval without losing the plot",
        published_at=_at(2),
        content="""# Chunking for retrieval without losing the plot

Most retrieval-augmented generation systems fail quietly, and the failure usually starts long before the language model sees a single token. It starts when a document is cut into pieces. Cut too small and each piece loses the context that made it meaningful. Cut too large and the embedding model silently truncates the text, so the second half of the chunk never influences its vector at all.

I learned this the hard way on a support-search project. Our embedding model read at most 256 word pieces, while our chunks were a generous 2,000 characters. Nobody noticed for months, because search still returned *something*. When we finally measured, almost a third of every chunk was invisible to the retriever.

## Measure before you tune

The first fix was boring: count tokens with the same tokenizer the model uses, and log how many chunks exceed the window. That single number told us more than a week of eyeballing search results. Once the count was zero, relevance jumped without touching the model.

The second fix was to respect the structure the author already gave us. Paragraphs are the unit people think in. Packing whole paragraphs, and splitting only the paragraphs that are too long at sentence boundaries, kept ideas together. A small overlap of one or two sentences between neighbouring chunks meant that an answer straddling a boundary could still be found from either side.

## Code is not prose

Source files need different treatment. A function split in the middle is useless to a reader and to a retriever, so for code we split on blank lines first, then on lines, and we never reflow indentation. The result reads like the file it came from.

## What I would do again

Keep chunking in one place, make it deterministic, and give every chunk an id derived from its document and its text. Then re-running the pipeline changes nothing unless the text changed, and embeddings are only recomputed for the chunks that are actually new. Cheap re-runs make people willing to experiment, and experimentation is where the real gains come from.""",
    ),
    DocumentRecord(
        platform="substack",
        kind="article",
        source_url="https://ada.substack.com/p/why-your-vector-index-needs-a-keyword-friend",
        title="Why your vector index needs a keyword friend",
        published_at=_at(9),
        content="""<p>Dense retrieval is wonderful at paraphrase. Ask about <em>reducing cloud spend</em> and it happily returns a paragraph about trimming the AWS bill, even though the two share no words. That is the magic everyone demos.</p>

<p>It is also terrible at the things users type most often: product names, error codes, version numbers and people's names. An embedding of "ERR_CONN_RESET 4.2.1" lands somewhere vague in the vicinity of networking, and the exact incident report that contains that string may not even make the top twenty.</p>

<p>Full-text search has the opposite profile. Postgres has shipped a solid implementation for years: a tsvector column, a GIN index and ts_rank. It never finds a paraphrase, but it never misses an exact identifier either.</p>

<p>Reciprocal rank fusion is the simplest way I know to get both. Run the two searches, take each result's rank in each list, and score it by the sum of one over sixty plus the rank. There are no weights to tune and no scores to normalise, because only ranks are compared. A document that appears near the top of both lists wins, and a document that only one side finds still gets a fair chance.</p>

<p>In our evaluation the fused list beat either side alone on every query category we tracked. The gain was largest on the long tail of queries with rare terms, which is exactly where users lose trust in a search box.</p>

<p>One warning: filter inside each search, not after fusion. If a query is scoped to one customer and you filter after merging, the top of each list may belong to other customers and you end up with three results instead of ten. With pgvector, iterative index scans keep filtered vector queries from coming back short, and the keyword side can simply put the filter in its WHERE clause.</p>

<p>Hybrid search is not glamorous. It is a few dozen lines of SQL. But it is the difference between a demo and a tool people rely on every day.</p>""",
    ),
    DocumentRecord(
        platform="linkedin",
        kind="article",
        source_url="https://www.linkedin.com/pulse/lessons-from-fine-tuning-small-models-ada-lovelace",
        title="Lessons from fine-tuning small models on my own writing",
        published_at=_at(20),
        content="""Last quarter I fine-tuned a small open model on three years of my own posts to see whether it could draft in my voice. The short answer is yes, with caveats that surprised me.

The dataset mattered far more than the model. My first attempt used every paragraph I had ever written, including replies, quotes of other people and pasted links. The model learned to sound like a comment thread. When I kept only my own long-form writing and dropped everything I had merely shared, the drafts immediately became more coherent and more recognisably mine.

Instructions matter too. I generated a request for each post from its title or its opening line, phrased the way I would ask an assistant: write a LinkedIn post about this topic. That gave the model a consistent task format without any manual labelling.

Evaluation was the hardest part. Loss curves said little about voice. What worked was a held-out set of posts, split by document so that no post appeared on both sides, and a blind comparison where colleagues guessed which draft was mine. By the end they guessed wrong almost half the time.

Low-rank adapters made the whole thing affordable. Training one adapter per person on a single GPU took under an hour, and swapping adapters at serving time costs almost nothing. That changes the economics: personal models stop being a luxury.

My advice if you try this yourself: curate ruthlessly, keep your validation split stable across runs, and read the outputs aloud. If it does not sound like you when spoken, it will not convince your readers either.""",
    ),
]

POSTS = [
    DocumentRecord(
        platform="linkedin",
        kind="post",
        published_at=_at(3),
        source_url="https://www.linkedin.com/posts/ada-lovelace_rag-evaluation-activity-7101",
        content="Hot take: if you cannot say how many of your chunks get truncated by the embedding model, "
        "you are not doing retrieval, you are doing hope. Count the tokens. Log the number. Make it zero.",
    ),
    DocumentRecord(
        platform="linkedin",
        kind="post",
        published_at=_at(11),
        source_url="https://www.linkedin.com/posts/ada-lovelace_postgres-pgvector-activity-7102",
        content="We replaced a dedicated vector database with Postgres and pgvector last month.\n\n"
        "Latency went down, the bill went down, and the on-call rotation got one system shorter. "
        "HNSW indexes in Postgres are good enough for the vast majority of teams. Boring technology wins again.",
    ),
    DocumentRecord(
        platform="linkedin",
        kind="post",
        published_at=_at(14),
        source_url="https://www.linkedin.com/posts/ada-lovelace_mentoring-activity-7103",
        content="Three things I tell every junior engineer I mentor:\n\n"
        "1. Write down what you expected before you run the experiment.\n"
        "2. Read the error message twice before searching for it.\n"
        "3. Ask for help after thirty minutes of being stuck, not three days.\n\n"
        "None of these are technical. All of them made me a better engineer.",
    ),
    DocumentRecord(
        platform="linkedin",
        kind="post",
        published_at=_at(17),
        source_url="https://www.linkedin.com/posts/ada-lovelace_shipping-activity-7104",
        content=SHARED_POST,
    ),
    # A cross-post of the same text under another URL: deduplicated to one document.
    DocumentRecord(
        platform="substack",
        kind="post",
        published_at=_at(18),
        source_url="https://ada.substack.com/notes/shipping-beats-polishing",
        content=SHARED_POST,
    ),
    # Near-empty: dropped by the cleaning layer.
    DocumentRecord(
        platform="linkedin",
        kind="post",
        published_at=_at(19),
        source_url="https://www.linkedin.com/posts/ada-lovelace_thanks-activity-7105",
        content="Thanks!! 🙏 🎉",
    ),
]

REPOSITORY_FILES = [
    DocumentRecord(
        platform="github",
        kind="repository_file",
        source_url="https://github.com/ada/tiny-rag/blob/main/README.md",
        title="tiny-rag: README.md",
        published_at=_at(5),
        content="""# tiny-rag

A minimal retrieval-augmented generation service on Postgres, pgvector and a small open model.

## Quick start

```bash
pip install tiny-rag
tiny-rag index ./docs
tiny-rag ask "How do I rotate the API keys?"
```

## How it works

Documents are chunked by paragraph, embedded with all-MiniLM-L6-v2 and stored in a vector
column with an HNSW index. Questions are answered from the five best chunks.

## Configuration

| variable | default | meaning |
|---|---|---|
| `TINY_RAG_DATABASE_URL` | `postgresql://localhost/tiny_rag` | where chunks live |
| `TINY_RAG_TOP_K` | `5` | chunks passed to the model |
""",
    ),
    DocumentRecord(
        platform="github",
        kind="repository_file",
        source_url="https://github.com/ada/tiny-rag/blob/main/tiny_rag/fusion.py",
        title="tiny-rag: tiny_rag/fusion.py",
        published_at=_at(5),
        content='''"""Reciprocal rank fusion of several ranked result lists."""

from collections import defaultdict


def reciprocal_rank_fusion(rankings, k=60, limit=10):
    """Fuse ranked lists of ids: each id scores the sum of 1 / (k + rank) over the lists."""
    scores = defaultdict(float)
    for ranking in rankings:
        for rank, item_id in enumerate(ranking, start=1):
            scores[item_id] += 1.0 / (k + rank)
    fused = sorted(scores.items(), key=lambda pair: pair[1], reverse=True)
    return [item_id for item_id, _ in fused[:limit]]


def test_fusion_prefers_items_in_both_lists():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]])
    assert fused[:2] == ["a", "c"]


def test_limit_is_respected():
    assert len(reciprocal_rank_fusion([list("abcdefghijkl")], limit=3)) == 3
''',
    ),
]

LINKS = [
    DocumentRecord(
        platform="web",
        kind="link",
        is_own_writing=False,
        published_at=_at(1),
        source_url="https://arxiv.org/abs/1603.09320",
        title="Efficient and robust approximate nearest neighbor search using Hierarchical Navigable Small World graphs",
        content="We present a new approach for the approximate K-nearest neighbor search based on navigable small "
        "world graphs with controllable hierarchy (Hierarchical NSW, HNSW). The proposed solution is fully "
        "graph-based, without any need for additional search structures. Hierarchical NSW incrementally "
        "builds a multi-layer structure consisting of a hierarchical set of proximity graphs for nested "
        "subsets of the stored elements. The maximum layer in which an element is present is selected "
        "randomly with an exponentially decaying probability distribution.",
    ),
]

OTHER_AUTHOR_POSTS = [
    DocumentRecord(
        platform="linkedin",
        kind="post",
        published_at=_at(4),
        source_url="https://www.linkedin.com/posts/grace-hopper_shipping-activity-9001",
        content=SHARED_POST,  # identical text to Ada's post: must never show up in Ada's results, or hers in these
    ),
    DocumentRecord(
        platform="linkedin",
        kind="post",
        published_at=_at(8),
        source_url="https://www.linkedin.com/posts/grace-hopper_compilers-activity-9002",
        content="Compilers taught me that the best way to make a tool popular is to let people write in words "
        "they already know. The same is true for every internal platform you will ever build.",
    ),
]

AUTHOR_DOCUMENTS = ARTICLES + POSTS + REPOSITORY_FILES + LINKS

# After cleaning: the near-empty post is dropped and the cross-post collapses into one document.
AUTHOR_DOCUMENT_COUNT = len(AUTHOR_DOCUMENTS) - 2
OTHER_AUTHOR_DOCUMENT_COUNT = len(OTHER_AUTHOR_POSTS)


def middle_sentence(record: DocumentRecord) -> str:
    """A full sentence from the middle of a document's body (the known-item query)."""
    import re

    plain = re.sub(r"<[^>]+>|[*#`]", "", record.content)
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", plain) if len(s.split()) >= 8]
    return sentences[len(sentences) // 2]


def load(engine, user_id: int, records: list[DocumentRecord]) -> None:
    """Store ``records`` for ``user_id`` the way a crawl does: one crawl run per platform."""
    by_platform: dict[str, list[DocumentRecord]] = {}
    for record in records:
        by_platform.setdefault(record.platform, []).append(record)
    for platform, platform_records in by_platform.items():
        with CrawlRun(engine, user_id, f"fixture-{platform}", platform) as run:
            for record in platform_records:
                assert run.store(record) is not None, record.source_url
