"""`twin embed` throughput versus raw `SentenceTransformer.encode` on the same texts and batch size.

Creates a scratch database on the project's server (`twin db start` first, or DATABASE_URL), fills
marts.chunks with chunk-sized texts, then times: raw encode, `twin.core.embed.embed_chunks` (anti-join
paging, encoding, word-piece counting, binary COPY, commit per page), raw encode again. Prints
chunks/s of each and the ratio (target >= 0.9x). The scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._scratch import insert_chunks, scratch_database  # noqa: E402

SENTENCES = [
    "Retrieval quality depends more on how documents are cut than on which vector database stores them.",
    "We moved our nightly batch jobs to an event-driven pipeline and cut end-to-end latency by an order of magnitude.",
    "Every on-call rotation I have joined improved once we wrote down what normal looks like.",
    "A good design review asks what happens when the happy path fails, not whether the diagram is pretty.",
    "Fine-tuning a small model on curated data beat prompting a large one on our internal benchmark.",
    "Postgres keeps surprising me: full-text search, JSON, vectors and queues in one boring, reliable box.",
    "The fastest way to lose a team's trust is to ship a dashboard whose numbers nobody can reproduce.",
    "Hiring for curiosity has worked better for us than hiring for a specific framework on the CV.",
    "Caching is a promise to forget things at the right time, and most bugs come from breaking that promise.",
    "We measure every model change against a frozen evaluation set before anyone looks at a demo.",
    "Technical debt is fine when it is a deliberate loan with a repayment plan written next to it.",
    "Most performance problems I have debugged were an N+1 query wearing a disguise.",
]


def chunk_texts(count: int, seed: int = 7) -> list[str]:
    """Texts of 2-7 sentences (about 40-150 words), the size range the chunker produces."""
    rng = random.Random(seed)
    return [" ".join(rng.sample(SENTENCES, rng.randint(2, 7))) + f" (note {i})" for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1024, help="how many chunk texts (default 1024)")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="encode batch size (default TWIN_EMBED_BATCH_SIZE)"
    )
    parser.add_argument("--model", default=None, help="embedding model (default TWIN_EMBEDDING_MODEL)")
    args = parser.parse_args()

    from twin.core.embed import embed_chunks
    from twin.core.embedding import encode, load_embedding_model
    from twin.core.settings import get_settings

    settings = get_settings()
    model_name = args.model or settings.embedding_model
    batch_size = args.batch_size or settings.embed_batch_size
    model = load_embedding_model(model_name)
    texts = chunk_texts(args.chunks)
    encode(model, texts[:batch_size], batch_size)  # warm-up

    def raw_rate() -> float:
        started = time.perf_counter()
        encode(model, texts, batch_size)
        return len(texts) / (time.perf_counter() - started)

    with scratch_database() as engine:
        insert_chunks(engine, [(f"chunk-{i:06d}", 1 + i % 5, text) for i, text in enumerate(texts)])
        raw_before = raw_rate()
        report = embed_chunks(engine, model_name, model=model, batch_size=batch_size)
        twin_rate = report.embedded / report.seconds
        raw_after = raw_rate()

    raw = (raw_before + raw_after) / 2
    print(f"model {model_name}, {len(texts)} chunks, batch size {batch_size}")
    print(f"  raw SentenceTransformer.encode : {raw:8.1f} chunks/s  (runs: {raw_before:.1f}, {raw_after:.1f})")
    print(f"  twin embed (DB in and out)     : {twin_rate:8.1f} chunks/s  ({report.truncated} truncated)")
    print(f"  ratio twin / raw               : {twin_rate / raw:8.2f}x  (target >= 0.90x)")


if __name__ == "__main__":
    main()
