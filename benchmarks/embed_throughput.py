"""`twin embed` throughput versus raw `SentenceTransformer.encode` on the same texts and batch size.

Creates a scratch database on the project's server (`twin db start` first, or DATABASE_URL), fills
marts.chunks with chunk-sized texts, then times: raw encode, `twin.core.embed.embed_chunks` (anti-join
paging, encoding, word-piece counting, binary COPY, commit per page), raw encode again. Prints
chunks/s of each and the ratio (target >= 0.9x). The scratch database is dropped at the end.

With --backends (no database needed) it compares embedding backends side by side instead (the values
of TWIN_EMBEDDING_BACKEND, twin.core.embedding): ~500 chunk-sized passages (~200 word pieces) cut from
the Python standard library's docstrings, encoded at the same batch size by each backend in turn,
--repeat rounds. Prints chunks/s per round and the ratio to raw fp32 torch in the same round, the
cosine of each backend's vectors to torch's (mean / min), and retrieval agreement: recall@5 of the
right passage among all of them for 200 queries (each the first sentence of a docstring whose rest
is in its passage), by each backend and by torch. Exports are made on first use under
$TWIN_HOME/cache/embeddings and reused after (their first-load time is printed).
"""

from __future__ import annotations

import argparse
import random
import re
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


_SKIPPED_MODULES = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "lib2to3", "pydoc_data"}
_SKIPPED_MODULES |= {"test", "ensurepip", "venv", "msilib", "winreg", "winsound", "nt", "msvcrt", "ctypes", "pty"}
_SKIPPED_MODULES |= {"tty", "curses"}
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _stdlib_docstrings() -> list[str]:
    """Docstrings of the standard library's public modules, classes, functions and methods, in a fixed order."""
    import contextlib
    import importlib
    import inspect
    import io
    import warnings

    seen: set[str] = set()
    found = []
    for name in sorted(sys.stdlib_module_names):
        if name in _SKIPPED_MODULES or name.startswith("_"):
            continue
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                module = importlib.import_module(name)
        except Exception:  # noqa: BLE001 - platform-specific or broken modules are simply left out
            continue
        objects = [module]
        for attr, obj in sorted(vars(module).items()):
            if attr.startswith("_") or getattr(obj, "__module__", name) != name:
                continue
            objects.append(obj)
            if inspect.isclass(obj):
                objects += [m for k, m in sorted(vars(obj).items()) if not k.startswith("_") and inspect.isfunction(m)]
        for obj in objects:
            if obj is not module and not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            doc = " ".join((inspect.getdoc(obj) or "").split())
            if len(doc.split()) >= 8 and doc not in seen:
                seen.add(doc)
                found.append(doc)
    return found


def query_passage_pairs(count: int, words: int = 95, cap: int = 120) -> list[tuple[str, str]]:
    """(query, passage) pairs from stdlib docstrings: the query is a docstring's first sentence, the passage
    its remaining text followed by the next docstrings up to ``words``-``cap`` words (~200 word pieces)."""
    docs = _stdlib_docstrings()
    pairs, i = [], 0
    while i < len(docs) and len(pairs) < count:
        parts = _SENTENCE_END.split(docs[i], maxsplit=1)
        i += 1
        if len(parts) < 2 or len(parts[0].split()) < 5:
            continue
        passage = parts[1].split()
        while len(passage) < words and i < len(docs):
            passage += docs[i].split()
            i += 1
        pairs.append((parts[0], " ".join(passage[:cap])))
    return pairs


def compare_backends(model_name: str, backends: list[str], batch_size: int, count: int, repeat: int) -> None:
    import numpy as np

    from twin.core.embedding import check_backend, encode, load_embedding_model, word_piece_counts

    for backend in backends:
        check_backend(backend)
    pairs = query_passage_pairs(count)
    queries = [query for query, _ in pairs[:200]]
    passages = [passage for _, passage in pairs]
    names = ["torch", *[backend for backend in backends if backend != "torch"]]
    models, load_s = {}, {}
    for backend in names:
        started = time.perf_counter()
        models[backend] = load_embedding_model(model_name, backend)
        load_s[backend] = time.perf_counter() - started
        encode(models[backend], passages[:batch_size], batch_size)  # warm-up

    rates: dict[str, list[float]] = {backend: [] for backend in names}
    vectors = {}
    for _ in range(repeat):
        for backend in names:
            started = time.perf_counter()
            vectors[backend] = encode(models[backend], passages, batch_size)
            rates[backend].append(len(passages) / (time.perf_counter() - started))

    def recall_at_5(query_vectors, passage_vectors) -> float:
        top = np.argsort(-(query_vectors @ passage_vectors.T), axis=1)[:, :5]
        return float(np.mean([i in top[i] for i in range(len(query_vectors))]))

    pieces = word_piece_counts(models["torch"], passages)
    print(
        f"model {model_name}, {len(passages)} passages (word pieces: mean {np.mean(pieces):.0f}, "
        f"median {np.median(pieces):.0f}, truncated to {models['torch'].max_seq_length}), batch size {batch_size}, "
        f"{repeat} round(s), {len(queries)} queries"
    )
    rate_width, ratio_width = max(20, 7 * repeat), max(6, 7 * repeat)
    print(
        f"  {'backend':<14} {'chunks/s per round':<{rate_width}} {'ratio':<{ratio_width}} {'cosine mean/min':<18} "
        "recall@5  first load"
    )
    torch_recall = recall_at_5(encode(models["torch"], queries, batch_size), vectors["torch"])
    for backend in names:
        recall = recall_at_5(encode(models[backend], queries, batch_size), vectors[backend])
        cosine = (vectors[backend] * vectors["torch"]).sum(axis=1)
        ratios = [own / base for own, base in zip(rates[backend], rates["torch"], strict=True)]
        print(
            f"  {backend:<14} {', '.join(f'{rate:.1f}' for rate in rates[backend]):<{rate_width}} "
            f"{', '.join(f'{ratio:.2f}x' for ratio in ratios):<{ratio_width}} "
            f"{cosine.mean():.5f}/{cosine.min():.5f}  {recall:.3f} ({torch_recall:.3f} torch)  {load_s[backend]:.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1024, help="how many chunk texts (default 1024)")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="encode batch size (default TWIN_EMBED_BATCH_SIZE)"
    )
    parser.add_argument("--model", default=None, help="embedding model (default TWIN_EMBEDDING_MODEL)")
    parser.add_argument(
        "--backends",
        default=None,
        help="compare these embedding backends instead (comma-separated, e.g. torch,onnx,onnx-int8,openvino,"
        "openvino-bf16; no database needed); raw fp32 torch is always the reference",
    )
    parser.add_argument("--texts", type=int, default=500, help="passages for --backends (default 500)")
    parser.add_argument("--repeat", type=int, default=2, help="timed rounds per backend for --backends (default 2)")
    args = parser.parse_args()

    if args.backends:
        from twin.core.settings import get_settings

        settings = get_settings()
        compare_backends(
            args.model or settings.embedding_model,
            [backend.strip() for backend in args.backends.split(",") if backend.strip()],
            args.batch_size or settings.embed_batch_size,
            args.texts,
            args.repeat,
        )
        return

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
