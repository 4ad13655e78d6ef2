"""The offline stand-in for a real base model: a tiny Llama with random weights and a byte-level
BPE tokenizer trained on the user's corpus, saved as an ordinary Hugging Face folder.

Everything downstream (training, evaluation, serving) loads it with ``from_pretrained`` exactly
like a model from the hub. The folder name is a hash of the corpus and the shape, so the same
data builds the same model once.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from twin.core.chat_template import CHAT_TEMPLATE, MARKERS

BOS, EOS, PAD, UNK = "<s>", "</s>", "<pad>", "<unk>"
SPECIAL_TOKENS = [PAD, BOS, EOS, UNK, *MARKERS]


class TinyModelSpec(BaseModel):
    """Shape of the locally built model used when ``base_model`` is ``tiny-local``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vocab_size: int = Field(default=2000, ge=300, le=65536)
    hidden_size: int = Field(default=64, ge=8, le=1024)
    intermediate_size: int = Field(default=128, ge=8, le=4096)
    num_hidden_layers: int = Field(default=2, ge=1, le=12)
    num_attention_heads: int = Field(default=4, ge=1, le=32)
    max_position_embeddings: int = Field(default=512, ge=64, le=8192)

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> TinyModelSpec:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be a multiple of num_attention_heads "
                f"({self.num_attention_heads})"
            )
        return self


def tiny_model_dir(corpus: list[str], spec: TinyModelSpec, home: Path, seed: int) -> Path:
    digest = hashlib.sha256(json.dumps([spec.model_dump(), seed, corpus], ensure_ascii=False).encode()).hexdigest()
    return Path(home) / "models" / "tiny-local" / digest[:16]


def _train_tokenizer(corpus: list[str], vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token=UNK))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    backend.train_from_iterator(corpus, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        additional_special_tokens=list(MARKERS),
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny_model(corpus: list[str], spec: TinyModelSpec, home: Path, seed: int = 0) -> Path:
    """Build (or reuse) the tiny model folder for ``corpus`` and return its path."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path = tiny_model_dir(corpus, spec, home, seed)
    if (path / "config.json").exists():
        return path
    tokenizer = _train_tokenizer(corpus, spec.vocab_size)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_attention_heads,
        max_position_embeddings=spec.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    try:
        staging.rename(path)
    except OSError:  # built concurrently by another process: keep theirs
        if not (path / "config.json").exists():
            raise
    return path
