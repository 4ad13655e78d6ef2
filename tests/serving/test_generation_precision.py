"""``generation.precision``: the faster ways of holding the transformers backend's weights keep
what serving promises: the shipped model's greedy text unchanged (fp16), a user's LoRA adapter still
changing the output and matching the fp32 adapter path, and a clear refusal of an unknown value."""

from __future__ import annotations

import pytest

from serving.config import ServingConfigError, parse_args
from serving.generation import (
    BASE_MODEL_ID,
    PRECISIONS,
    ModelSpec,
    TransformersModel,
    check_precision,
    resolve_base_model,
)

PROMPT = "Write a LinkedIn post about why we review runbooks like code."


def test_an_unknown_precision_is_refused_with_the_allowed_values():
    with pytest.raises(ServingConfigError) as refused:
        parse_args({"generation": {"precision": "fp8"}})
    assert "generation.precision" in str(refused.value) and "'fp16'" in str(refused.value)
    assert parse_args({"generation": {"precision": "fp16"}}).generation.precision == "fp16"
    assert parse_args({}).generation.precision == "fp32", "the default stays fp32"

    with pytest.raises(ValueError, match="unknown generation precision 'fp8': expected one of fp32, fp16, bf16, int8"):
        TransformersModel(ModelSpec(BASE_MODEL_ID, "tiny-local"), home=None, device="cpu", precision="fp8")
    with pytest.raises(ValueError, match="runs on the CPU only"):
        check_precision("int8", "cuda")


@pytest.fixture(scope="module")
def tiny_adapter(tmp_path_factory):
    """The starter tiny model and a LoRA adapter on it (random, non-zero: it changes the output)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    home = tmp_path_factory.mktemp("precision")
    base_dir = resolve_base_model("tiny-local", home)
    torch.manual_seed(11)
    peft_model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base_dir),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False),
    )
    adapter_dir = home / "adapter"
    peft_model.save_pretrained(adapter_dir)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(adapter_dir)
    return home, str(adapter_dir)


def _logits(model: TransformersModel, text: str):
    import torch

    with torch.inference_mode():
        return model.model(**model._inputs(text)).logits[0].float()


@pytest.mark.slow
@pytest.mark.parametrize("precision", [p for p in PRECISIONS if p != "fp32"])
def test_a_lora_adapter_still_changes_the_output_under_each_precision(tiny_adapter, precision):
    import torch

    home, adapter_dir = tiny_adapter
    user = ModelSpec("m-1", "tiny-local", adapter_dir)
    reference = TransformersModel(user, home=home, device="cpu")
    adapted = TransformersModel(user, home=home, device="cpu", precision=precision)
    base = TransformersModel(ModelSpec(BASE_MODEL_ID, "tiny-local"), home=home, device="cpu", precision=precision)
    assert adapted.describe()["adapter_used"] is True and adapted.describe()["precision"] == precision
    text = adapted.render(PROMPT, None)

    ours, fp32, plain = _logits(adapted, text), _logits(reference, text), _logits(base, text)
    adapter_effect = (fp32 - _logits(TransformersModel(ModelSpec(BASE_MODEL_ID, "tiny-local"), home=home), text)).abs()
    assert (ours - plain).abs().max() > 0.5 * adapter_effect.max(), "the adapter must still change the output"
    tolerance = {"fp16": 1e-2, "bf16": 0.25, "int8": 0.5}[precision] * fp32.abs().max()
    assert (ours - fp32).abs().max() < tolerance, "the adapter path must match fp32's closely"
    if precision == "fp16":
        assert torch.equal(ours.argmax(-1), fp32.argmax(-1))
        out, _, count = adapted.complete(text, 12, 0.0)
        assert count == 12 and out == reference.complete(text, 12, 0.0)[0]
    # the adapter can still be switched off (serving judges fluency with the base this way)
    with adapted.model.disable_adapter():
        switched_off = _logits(adapted, text)
    assert (switched_off - plain).abs().max() < 1e-4


@pytest.mark.slow
def test_fp16_keeps_the_shipped_models_greedy_text_and_streams():
    """The shipped SmolLM2 (what serving runs by default): the fp16 path's greedy tokens are fp32's."""
    from twin.core.base_models import SHIPPED_MODEL_ID

    spec = ModelSpec(BASE_MODEL_ID, SHIPPED_MODEL_ID)
    fp32 = TransformersModel(spec, home=None, device="cpu")
    fast = TransformersModel(spec, home=None, device="cpu", precision="fp16")
    text = fp32.render(PROMPT, None)
    forced = {"min_new_tokens": 32}
    expected, prompt_tokens, count = fp32.complete(text, 32, 0.0, forced)
    assert count == 32
    assert fast.complete(text, 32, 0.0, forced) == (expected, prompt_tokens, count)
    assert "".join(fast.stream(text, 32, 0.0, forced)) == expected
