"""Training configs: one YAML file per base model under ``training/configs/``, validated here.

An invalid file raises :class:`ConfigError` with one line per problem, naming the field
(``lora.r: Input should be greater than or equal to 1``), so the CLI can print it as is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from twin.core.base_models import TINY_LOCAL
from twin.core.tiny_model import TinyModelSpec

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_CONFIG = CONFIG_DIR / "smollm2-135m-cpu.yaml"
TINY_CONFIG = CONFIG_DIR / "tiny.yaml"


class ConfigError(ValueError):
    """An unreadable or invalid training config; the message names every bad field."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoraSpec(_Section):
    r: int = Field(default=16, ge=1, le=512)
    alpha: int = Field(default=32, ge=1)
    dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] = Field(default=["q_proj", "k_proj", "v_proj", "o_proj"], min_length=1)
    # Layers trained in full and saved with the adapter (the tiny model's random head needs it).
    modules_to_save: list[str] = []


class ScalingSpec(_Section):
    num_workers: int = Field(default=1, ge=1, le=1024)
    use_gpu: bool = False
    resources_per_worker: dict[str, float] = {"CPU": 1}
    # Ray's placement group strategy for the workers: PACK fills a node first, SPREAD puts them on as
    # many nodes as it can (STRICT_ variants fail instead of falling back)
    placement_strategy: Literal["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"] = "PACK"


class EvaluationSpec(_Section):
    max_samples: int = Field(default=16, ge=1, description="held-out samples used for generation and style")
    max_new_tokens: int = Field(default=96, ge=1)
    control_passages: int = Field(
        default=12,
        ge=0,
        description="passages of the control corpus (not the author's) scored for the control perplexity; 0: skip",
    )


class TrainingConfig(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    base_model: str = Field(min_length=1, description="Hugging Face id, local folder, or tiny-local")
    tiny_model: TinyModelSpec = TinyModelSpec()
    system_prompt: str | None = None
    lora: LoraSpec = LoraSpec()
    max_seq_length: int = Field(default=512, ge=16, le=32768)
    learning_rate: float = Field(default=2e-4, gt=0, le=1)
    epochs: float = Field(default=3, gt=0)
    max_steps: int = Field(default=-1, ge=-1, description="-1: run for `epochs`")
    max_train_minutes: float | None = Field(
        default=None,
        gt=0,
        description="wall-clock limit of the training loop; "
        "it stops after the step that crosses it (a checkpoint is saved)",
    )
    max_train_samples: int | None = Field(
        default=None,
        ge=1,
        description="keep at most this many training samples, spread over as many documents as possible",
    )
    context_tokens: int = Field(
        default=160,
        ge=0,
        description="retrieved passages of the author's other writing in "
        "each training prompt (about this many tokens; 0: none)",
    )
    torch_threads: int | None = Field(
        default=None,
        ge=1,
        description="intra-op threads per CPU worker; null: the "
        "machine's cores divided by the workers (Ray sets 1 otherwise)",
    )
    per_device_batch_size: int = Field(default=4, ge=1)
    gradient_accumulation_steps: int = Field(default=1, ge=1)
    warmup_ratio: float = Field(default=0.03, ge=0, lt=1)
    weight_decay: float = Field(default=0.0, ge=0)
    packing: bool = False
    bf16: bool = False
    gradient_checkpointing: bool = False
    seed: int = 42
    logging_steps: int = Field(default=5, ge=1)
    save_steps: int = Field(default=50, ge=1)
    checkpoints_to_keep: int = Field(default=2, ge=1)
    max_failures: int = Field(default=0, ge=-1, description="worker-group restarts from the last checkpoint")
    scaling: ScalingSpec = ScalingSpec()
    storage_path: str | None = Field(default=None, description="Ray Train storage; default $TWIN_HOME/ray_results")
    min_train_samples: int = Field(default=16, ge=1)
    min_validation_samples: int = Field(default=2, ge=1)
    min_free_disk_gb: float = Field(default=0.5, ge=0)
    evaluation: EvaluationSpec = EvaluationSpec()

    @property
    def is_tiny_local(self) -> bool:
        return self.base_model == TINY_LOCAL

    @model_validator(mode="after")
    def _consistent(self) -> TrainingConfig:
        if self.bf16 and not self.scaling.use_gpu:
            raise ValueError("bf16: true needs scaling.use_gpu: true (CPU training runs in float32)")
        return self


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error["loc"]) or "config"
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown field (check the spelling against training/configs/tiny.yaml)"
    return f"{location}: {message}"


def parse_config(data: Any, source: str = "config") -> TrainingConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of fields, got {type(data).__name__}")
    try:
        return TrainingConfig.model_validate(data)
    except ValidationError as exc:
        lines = "\n".join(f"  {_describe(error)}" for error in exc.errors())
        raise ConfigError(f"invalid training config {source}:\n{lines}") from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping in a YAML file (used to register a failure even when validation fails)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"training config {path} does not exist (configs ship in {CONFIG_DIR})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"training config {path} is not valid YAML: {exc}") from None
    return data if data is not None else {}


def load_config(path: str | Path = DEFAULT_CONFIG, **overrides: Any) -> TrainingConfig:
    """Read and validate a YAML config; ``overrides`` replace top-level fields (tests, CLI flags)."""
    data = read_config_file(path)
    if isinstance(data, dict):
        data = {**data, **overrides}
    return parse_config(data, str(path))
