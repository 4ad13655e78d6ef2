"""The embedding backends (TWIN_EMBEDDING_BACKEND): exported locally once, cached, and giving the vectors
of the fp32 torch model within a tolerance."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from twin.core import embedding
from twin.core.embedding import BACKENDS, build_embedding_model, encode, ensure_export, exported_model_dir

MODEL = "all-MiniLM-L6-v2"
TEXTS = [
    "Retrieval quality depends more on how documents are cut than on which vector database stores them. "
    "We moved our nightly batch jobs to an event-driven pipeline and cut end-to-end latency by an order "
    "of magnitude.",
    "Every on-call rotation I have joined improved once we wrote down what normal looks like. A good design "
    "review asks what happens when the happy path fails, not whether the diagram is pretty.",
    "Fine-tuning a small model on curated data beat prompting a large one on our internal benchmark.",
    "Caching is a promise to forget things at the right time, and most bugs come from breaking that "
    "promise. Most performance problems I have debugged were an N+1 query wearing a disguise. Technical "
    "debt is fine when it is a deliberate loan with a repayment plan written next to it.",
    "How do I keep a dashboard's numbers reproducible?",
]
# The cosine to the fp32 torch vectors that each backend must give: (mean over TEXTS, lowest of any text).
# Measured on AVX-512 VNNI/BF16: fp32 exports 1.00000; bf16 >= 0.99998; int8 mean 0.992, lowest 0.990.
MIN_COSINE = {
    "onnx": (0.9999, 0.9999),
    "openvino": (0.9999, 0.9999),
    "openvino-bf16": (0.999, 0.999),
    "onnx-int8": (0.99, 0.98),
}


@pytest.fixture(scope="module")
def export_root(tmp_path_factory):
    return tmp_path_factory.mktemp("embedding-exports")


@pytest.fixture(scope="module")
def torch_vectors():
    return encode(build_embedding_model(MODEL, "torch", root=None), TEXTS, batch_size=8)


def test_every_backend_has_a_tolerance():
    assert set(BACKENDS) == {"torch", *MIN_COSINE}


@pytest.mark.slow
@pytest.mark.parametrize("backend", sorted(MIN_COSINE))
def test_exported_backends_give_the_torch_vectors(backend, export_root, torch_vectors):
    model = build_embedding_model(MODEL, backend, export_root)
    assert type(model[0].model).__name__ == "ExportedTransformer"
    vectors = encode(model, TEXTS, batch_size=8)
    assert vectors.dtype == np.float32 and vectors.shape == torch_vectors.shape
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (vectors * torch_vectors).sum(axis=1)
    mean, lowest = MIN_COSINE[backend]
    assert cosine.mean() >= mean and cosine.min() >= lowest, cosine


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A 1-layer BERT with random weights and MiniLM's tokenizer: exports in about a second."""
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel

    transformer_dir = tmp_path_factory.mktemp("tiny-bert")
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(transformer_dir)
    source = embedding.model_location(MODEL)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(f"{source}/{name}", transformer_dir / name)
    model_dir = tmp_path_factory.mktemp("tiny-st")
    SentenceTransformer(str(transformer_dir), device="cpu").save(str(model_dir))
    return str(model_dir)


@pytest.fixture
def export_calls(monkeypatch):
    calls = []
    real = embedding._export

    def counting(name, backend, folder):
        calls.append((name, backend))
        real(name, backend, folder)

    monkeypatch.setattr(embedding, "_export", counting)
    return calls


def test_an_export_is_made_once_and_reused(tiny_model, tmp_path, export_calls):
    first = encode(build_embedding_model(tiny_model, "onnx", tmp_path), TEXTS, batch_size=8)
    second = encode(build_embedding_model(tiny_model, "onnx", tmp_path), TEXTS, batch_size=8)
    assert export_calls == [(tiny_model, "onnx")]
    np.testing.assert_array_equal(first, second)
    folder = exported_model_dir(tiny_model, "onnx", tmp_path)
    assert folder.is_relative_to(tmp_path / "onnx")
    assert sorted(path.name for path in folder.iterdir()) == ["export.json", "model.onnx"]
    assert [path.name for path in folder.parent.iterdir()] == [folder.name]  # no scratch folder left behind


def test_both_openvino_backends_share_one_export(tiny_model, tmp_path, export_calls):
    build_embedding_model(tiny_model, "openvino", tmp_path)
    build_embedding_model(tiny_model, "openvino-bf16", tmp_path)
    assert export_calls == [(tiny_model, "openvino")]


def test_a_concurrent_export_that_finished_first_wins(tiny_model, tmp_path, monkeypatch):
    folder = exported_model_dir(tiny_model, "onnx", tmp_path)
    real = embedding._export

    def raced(name, backend, scratch):
        real(name, backend, scratch)
        shutil.copytree(scratch, folder)  # another process renamed its export into place meanwhile

    monkeypatch.setattr(embedding, "_export", raced)
    assert ensure_export(tiny_model, "onnx", tmp_path) == folder
    assert [path.name for path in folder.parent.iterdir()] == [folder.name]


@pytest.fixture
def twin_home(monkeypatch, tmp_path):
    """TWIN_HOME in tmp_path, with the settings and the per-process model cache read afresh."""
    from twin.core.settings import get_settings

    monkeypatch.setenv("TWIN_HOME", str(tmp_path))
    monkeypatch.delenv("TWIN_EMBEDDING_BACKEND", raising=False)
    get_settings.cache_clear()
    embedding._load.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
    embedding._load.cache_clear()


def test_load_follows_the_setting_and_exports_under_the_twin_home(tiny_model, twin_home, monkeypatch):
    from twin.core.settings import get_settings

    torch_model = embedding.load_embedding_model(tiny_model)
    assert type(torch_model[0].model).__name__ == "BertModel"  # default: sentence-transformers as it loads it
    assert not (twin_home / "cache").exists()

    monkeypatch.setenv("TWIN_EMBEDDING_BACKEND", "onnx")
    get_settings.cache_clear()
    onnx_model = embedding.load_embedding_model(tiny_model)
    assert type(onnx_model[0].model).__name__ == "ExportedTransformer"
    assert embedding.load_embedding_model(tiny_model) is onnx_model  # once per (name, backend)
    assert embedding.load_embedding_model(tiny_model, "torch") is torch_model
    assert exported_model_dir(tiny_model, "onnx", twin_home / "cache" / "embeddings").is_dir()


def test_an_unknown_backend_names_the_allowed_values(twin_home, monkeypatch):
    from twin.core.settings import SettingsError, load_settings

    with pytest.raises(ValueError) as excinfo:
        embedding.load_embedding_model(MODEL, "tensorrt")
    assert "'tensorrt'" in str(excinfo.value)
    assert all(backend in str(excinfo.value) for backend in BACKENDS)

    monkeypatch.setenv("TWIN_EMBEDDING_BACKEND", "tensorrt")
    with pytest.raises(SettingsError) as excinfo:
        load_settings(_env_file=None)
    assert "TWIN_EMBEDDING_BACKEND='tensorrt'" in str(excinfo.value)
    assert all(f"'{backend}'" in str(excinfo.value) for backend in BACKENDS)
