"""Fixtures for the training tests: settings pointing at a private home, one local Ray (2 CPUs) per
session, and a unique user with the fixture corpus."""

from __future__ import annotations

import random

import pytest

from testing.corpus import sft_rows


@pytest.fixture(scope="session")
def training_settings(tmp_path_factory):
    from twin.core.settings import get_settings

    home = tmp_path_factory.mktemp("twin-home")
    return get_settings().model_copy(update={"home": home, "ray_num_cpus": 2, "ray_dashboard": False})


@pytest.fixture(scope="session")
def local_ray(training_settings):
    import ray

    from training.pipeline import ensure_ray

    started = not ray.is_initialized()
    ensure_ray(training_settings)
    yield
    if started:
        ray.shutdown()


@pytest.fixture
def user_id() -> int:
    return random.randint(10**9, 2 * 10**9)


@pytest.fixture
def corpus_rows(user_id) -> list[dict]:
    return sft_rows(user_id)
