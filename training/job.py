"""The entrypoint of a Ray job on a cluster (``python -m training.job --user-id ...``): the same
pipeline as ``twin train``, run by the job's driver."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

CONFIG_ENV_VAR = "TWIN_TRAIN_CONFIG_YAML"  # a config from outside the project, shipped by `twin train`


def main(argv: list[str] | None = None) -> int:
    """Entrypoint of a Ray job on a cluster: the same pipeline as ``twin train``."""
    import argparse

    from training.config import DEFAULT_CONFIG
    from training.pipeline import TrainingFailed, fine_tune

    parser = argparse.ArgumentParser(description="Fine-tune a user's writing twin on Ray Train.")
    parser.add_argument("--user-id", type=int, required=True)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="a training config inside the project")
    parser.add_argument("--config-from-env", metavar="VAR", help="read the config's YAML from this variable")
    parser.add_argument("--resume", default=None, help="registry model id of an interrupted run")
    args = parser.parse_args(argv)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    with tempfile.TemporaryDirectory(prefix="twin-job-") as scratch:
        config = args.config
        if args.config_from_env:
            if not os.environ.get(args.config_from_env):
                parser.error(f"{args.config_from_env} is not set in the job's environment")
            config = Path(scratch) / "config.yaml"
            config.write_text(os.environ[args.config_from_env])
        try:
            outcome = fine_tune(args.user_id, config, resume_model_id=args.resume)
        except TrainingFailed as exc:
            print(f"training failed (run {exc.model_id}): {exc}")
            return 1
    print(
        json.dumps(
            {
                "model_id": str(outcome.model_id),
                "status": outcome.status,
                "adapter_uri": outcome.adapter_uri,
                "metrics": outcome.metrics,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
