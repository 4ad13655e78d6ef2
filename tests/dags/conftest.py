from tests.training.conftest import local_ray, training_settings  # noqa: F401  (one local Ray for training DAG runs)
