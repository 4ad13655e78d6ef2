"""Loading models the one way training, evaluation and serving all share."""

from __future__ import annotations

from pathlib import Path

from twin.core.chat_template import CHAT_TEMPLATE


class BaseModelNotFound(LookupError):
    """The base model is neither a local folder nor available from the Hugging Face hub (or its cache)."""


def resolve(base_model: str) -> str:
    """A name ``from_pretrained`` loads: the shipped default becomes its prepared folder."""
    from twin.core.base_models import resolve_base_model

    return resolve_base_model(base_model)


def _is_local(base_model: str) -> bool:
    return base_model.startswith(("/", "./", "../", "~")) or Path(base_model).expanduser().is_dir()


def check_base_model(base_model: str) -> None:
    """Fail early, with advice, when ``base_model`` cannot be loaded (reads only its config)."""
    from transformers import AutoConfig

    from twin.core.base_models import ShippedModelMissing

    try:
        base_model = resolve(base_model)
    except ShippedModelMissing as exc:
        raise BaseModelNotFound(str(exc)) from exc
    if _is_local(base_model) and not (Path(base_model).expanduser() / "config.json").is_file():
        raise BaseModelNotFound(f"base model folder {base_model} does not exist or has no config.json")
    try:
        AutoConfig.from_pretrained(base_model)
    except (OSError, ValueError) as exc:
        raise BaseModelNotFound(
            f"base model {base_model!r} cannot be loaded: {str(exc).splitlines()[0]} — download it first "
            f"(`hf download {base_model}`) on a machine with internet, or point base_model at a local folder"
        ) from exc


def load_tokenizer(name_or_path: str):
    """A tokenizer with a pad token and a chat template: the model's own, or the project's marker
    format when it has none (see twin.core.chat_template)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve(name_or_path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if not tokenizer.chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def load_base_model(base_model: str, *, dtype=None, device_map=None):
    """``(model, tokenizer)`` for the base model alone (no adapter)."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(resolve(base_model), dtype=dtype or "auto", device_map=device_map)
    return model, load_tokenizer(base_model)


def load_for_inference(adapter_uri: str | None, base_model: str, *, dtype=None, device_map=None, merge: bool = False):
    """``(model, tokenizer)`` ready for generation: the base model with the user's LoRA adapter on
    top (or the base alone when ``adapter_uri`` is None). The tokenizer saved with the adapter wins,
    so prompts render with the template the adapter was trained on."""
    from peft import PeftModel

    if adapter_uri is None:
        model, tokenizer = load_base_model(base_model, dtype=dtype, device_map=device_map)
    else:
        from twin.core.storage import local_copy

        adapter_path = local_copy(adapter_uri)  # a URI in TWIN_STORAGE_URI: fetched once into the cache
        if not (adapter_path / "adapter_config.json").is_file():
            raise FileNotFoundError(f"no LoRA adapter at {adapter_path} (adapter_config.json missing)")
        base, _ = load_base_model(base_model, dtype=dtype, device_map=device_map)
        model = PeftModel.from_pretrained(base, str(adapter_path))
        if merge:
            model = model.merge_and_unload()
        tokenizer = load_tokenizer(
            str(adapter_path) if (adapter_path / "tokenizer_config.json").is_file() else base_model
        )
    model.eval()
    return model, tokenizer
