"""The application's arguments (``args:`` in ``serving/config.yaml``), validated in one place.

Deployment-level knobs (replicas, CPUs/GPUs, ``user_config``) live in the ``deployments:`` part of
the same file and are Ray Serve's own; everything the code reads is here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "config.yaml"
APP_NAME = "twin"
MAX_POST_CHARS = 3000


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenAIBackend(_Section):
    """An OpenAI-compatible chat-completions server (vLLM, TGI, llama.cpp, OpenAI itself)."""

    base_url: str = Field(default="http://127.0.0.1:8000/v1", description="ends before /chat/completions")
    model: str = Field(default="base", description="model name for users without an adapter")
    # vLLM serves LoRA adapters under their own names: "{model_id}" is the registry model id.
    adapter_model: str | None = Field(
        default=None, description="model name template for a user's adapter, e.g. '{model_id}'"
    )
    timeout_s: float = Field(default=120.0, gt=0)
    chars_per_token: float = Field(default=4.0, gt=0, description="token estimate (no local tokenizer)")
    context_tokens: int = Field(default=8192, ge=256)


class GenerationConfig(_Section):
    backend: Literal["transformers", "openai"] = "transformers"
    base_model: str | None = Field(default=None, description="null: TWIN_BASE_MODEL")
    device: str | None = Field(default=None, description="null: cuda when available, else cpu")
    torch_threads: int | None = Field(default=None, ge=1)
    # serving.generation.PRECISIONS: on CPU fp16 keeps the greedy text identical at 1.5-1.9x fp32's
    # tokens/s (benchmarks/generation.py); int8 is faster still (~2x) but changes the text.
    precision: Literal["fp32", "fp16", "bf16", "int8"] = Field(
        default="fp32", description="weights of the transformers backend: fp32 | fp16 | bf16 | int8 (CPU only)"
    )
    openai: OpenAIBackend = OpenAIBackend()


class RetrievalConfig(_Section):
    embedding_model: str | None = Field(default=None, description="null: TWIN_EMBEDDING_MODEL")
    default_k: int = Field(default=5, ge=1, le=50)


class LimitsConfig(_Section):
    max_prompt_chars: int = Field(default=2000, ge=1)
    max_links: int = Field(default=5, ge=0)
    max_k: int = Field(default=20, ge=1)
    max_new_tokens: int = Field(default=1024, ge=1)
    default_max_new_tokens: int = Field(default=400, ge=1)
    default_temperature: float = Field(default=0.7, ge=0, le=2)


class PromptConfig(_Section):
    context_tokens: int = Field(default=900, ge=0, description="most tokens of links + retrieved chunks")
    link_share: float = Field(default=0.6, gt=0, le=1, description="share of the budget new links may take")
    max_post_chars: int = Field(default=MAX_POST_CHARS, ge=100, le=MAX_POST_CHARS)
    snippet_chars: int = Field(default=280, ge=40)
    system_prompt: str | None = Field(default=None, description="null: the training template's default")


class QualityConfig(_Section):
    """The post-quality gate (twin.core.post_quality) every generation passes before it is returned."""

    enabled: bool = True
    max_attempts: int = Field(default=3, ge=1, le=6, description="drafts tried (different sampling each time)")
    fluency_threshold: float = Field(default=250.0, gt=1, description="most perplexity under the reference model")
    reference_model: str | None = Field(default=None, description="null: the shipped SmolLM2-135M-Instruct")


class ServingConfig(_Section):
    generation: GenerationConfig = GenerationConfig()
    quality: QualityConfig = QualityConfig()
    retrieval: RetrievalConfig = RetrievalConfig()
    limits: LimitsConfig = LimitsConfig()
    prompt: PromptConfig = PromptConfig()


class ServingConfigError(ValueError):
    pass


def parse_args(args: dict | None) -> ServingConfig:
    try:
        return ServingConfig.model_validate(args or {})
    except ValidationError as exc:
        lines = [f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()]
        raise ServingConfigError("invalid serving config args:\n" + "\n".join(lines)) from None


def read_config_file(path: str | Path = DEFAULT_CONFIG_PATH) -> dict:
    """The Serve config file (``serve build`` format) as a dict."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ServingConfigError(f"cannot read serving config {path}: {exc}") from None
    if not isinstance(document, dict) or not document.get("applications"):
        raise ServingConfigError(f"{path}: not a Ray Serve config (no applications:)")
    return document
