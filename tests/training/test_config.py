"""Training configs: the shipped ones validate; bad ones fail with the field named."""

from __future__ import annotations

import pytest

from training.config import CONFIG_DIR, DEFAULT_CONFIG, TINY_CONFIG, ConfigError, load_config


def test_shipped_configs_are_valid():
    tiny = load_config(TINY_CONFIG)
    assert tiny.is_tiny_local and not tiny.scaling.use_gpu and tiny.scaling.num_workers == 2
    gpu = [load_config(path) for path in CONFIG_DIR.glob("*.yaml") if path not in (TINY_CONFIG, DEFAULT_CONFIG)]
    assert gpu, "ship at least one real model config"
    default = load_config(DEFAULT_CONFIG)
    assert default.base_model == "HuggingFaceTB/SmolLM2-135M-Instruct" and not default.scaling.use_gpu
    assert default.max_train_samples and default.max_train_minutes and default.context_tokens > 0
    for config in gpu:
        assert config.scaling.use_gpu and config.bf16 and config.gradient_checkpointing
        assert "q_proj" in config.lora.target_modules


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        ("name: x\nbase_model: tiny-local\nlora: {r: 0}\n", "lora.r: Input should be greater than or equal to 1"),
        ("name: x\nbase_model: tiny-local\nlerning_rate: 0.1\n", "lerning_rate: unknown field"),
        ("name: x\nlearning_rate: fast\n", "base_model: Field required"),
        ("name: x\nbase_model: tiny-local\nlearning_rate: fast\n", "learning_rate: Input should be a valid number"),
        ("name: x\nbase_model: m\nbf16: true\n", "bf16: true needs scaling.use_gpu: true"),
        (
            "name: x\nbase_model: tiny-local\ntiny_model: {hidden_size: 30, num_attention_heads: 4}\n",
            "tiny_model: Value error, hidden_size (30) must be a multiple of num_attention_heads (4)",
        ),
        ("name: x\nbase_model: m\nscaling: {num_workers: 0}\n", "scaling.num_workers: Input should be greater"),
        ("name: x\nbase_model: m\ndpo: {enabled: true}\n", "dpo: unknown field"),
        ("- just\n- a list\n", "expected a mapping of fields, got list"),
        ("name: [unclosed\n", "is not valid YAML"),
    ],
)
def test_invalid_configs_name_the_field(tmp_path, yaml_text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert expected in str(error.value)
    assert "Traceback" not in str(error.value)


def test_missing_config_file_says_where_configs_live(tmp_path):
    with pytest.raises(ConfigError, match="does not exist .*training/configs"):
        load_config(tmp_path / "nope.yaml")


def test_the_default_config_follows_the_base_model_and_any_other_base_still_trains():
    from training.config import DEFAULT_CONFIG, TINY_CONFIG, TrainingConfig
    from training.pipeline import config_location, default_config
    from twin.core.settings import load_settings

    assert default_config(load_settings(_env_file=None)) == DEFAULT_CONFIG
    assert default_config(load_settings(_env_file=None, base_model="tiny-local")) == TINY_CONFIG
    other = default_config(load_settings(_env_file=None, base_model="Qwen/Qwen2.5-0.5B-Instruct"))
    assert isinstance(other, TrainingConfig) and other.base_model == "Qwen/Qwen2.5-0.5B-Instruct"
    assert other.max_train_minutes is not None, "the CPU config's bounds"
    assert config_location("tiny") == config_location("tiny.yaml") == TINY_CONFIG
    assert config_location("training/configs/tiny.yaml").name == "tiny.yaml"


def test_twin_training_config_is_the_config_of_every_run_that_names_none(tmp_path, monkeypatch):
    from training.pipeline import default_config
    from twin.core.settings import load_settings

    mine = tmp_path / "quick.yaml"
    monkeypatch.setenv("TWIN_TRAINING_CONFIG", str(mine))
    assert default_config(load_settings(_env_file=None, base_model="tiny-local")) == mine


@pytest.mark.parametrize(
    ("torch_threads", "max_torch_threads", "workers", "expected"),
    [
        (None, None, 1, "cores"),  # the one worker takes every core
        (None, None, 2, "half"),
        (None, 1, 1, 1),  # TWIN_TORCH_THREADS caps it (the test suite's xdist workers share the cores)
        (3, None, 1, 3),  # the config's own count
        (3, 2, 1, 2),
    ],
)
def test_a_training_worker_takes_its_share_of_the_cores_at_most_twin_torch_threads(
    torch_threads, max_torch_threads, workers, expected
):
    import os

    import torch

    from training.train import set_threads

    cores = os.cpu_count() or 1
    before = torch.get_num_threads()
    try:
        config = {"training": {"torch_threads": torch_threads}, "max_torch_threads": max_torch_threads}
        threads = set_threads(config, workers)
        assert threads == {"cores": cores, "half": max(1, cores // 2)}.get(expected, expected)
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
