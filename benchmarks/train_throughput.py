"""Training throughput of the Ray Train path vs the same trl SFT loop run directly in one process.

Both train the tiny local model on the fixture corpus with the same config (training/configs/tiny.yaml,
one worker unless --workers says otherwise). Prints tokens/s inside the training loop (trainer
runtime) and end to end (wall time: Ray's worker start-up, model loading, checkpoint reporting
included), and the Ray/direct ratios. Ray itself is started before timing begins.

    .venv/bin/python benchmarks/train_throughput.py [--workers 1] [--epochs 12]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _throughput(log_history: list[dict], wall_s: float) -> dict[str, float]:
    tokens = max(entry["num_tokens"] for entry in log_history if "num_tokens" in entry)
    runtime = next(entry["train_runtime"] for entry in log_history if "train_runtime" in entry)
    return {"tokens": tokens, "loop_tokens_per_s": tokens / runtime, "end_to_end_tokens_per_s": tokens / wall_s,
            "wall_s": wall_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1, help="Ray Train workers (default 1: same compute as direct)")
    parser.add_argument("--epochs", type=float, default=12)
    args = parser.parse_args()

    import torch

    from tests.training.corpus import sft_rows
    from training.config import load_config
    from training.dataset import prepare_dataset
    from training.pipeline import ensure_ray
    from training.tiny_model import build_tiny_model
    from training.train import build_sft_trainer, fit
    from twin.settings import get_settings

    work = Path(tempfile.mkdtemp(prefix="twin-bench-"))
    config = load_config(epochs=args.epochs, scaling={"num_workers": args.workers, "resources_per_worker": {"CPU": 1}})
    snapshot = prepare_dataset(1, work, rows=sft_rows(1))
    base_model = str(build_tiny_model(snapshot.corpus, config.tiny_model, work, config.seed))
    loop_config = {
        "training": config.model_dump(mode="json"),
        "base_model": base_model,
        "train_records": [{"prompt": s.prompt, "completion": s.response} for s in snapshot.train],
        "validation_records": [{"prompt": s.prompt, "completion": s.response} for s in snapshot.validation],
    }

    torch.set_num_threads(1)  # what each Ray worker gets with CPU: 1
    started = time.perf_counter()
    trainer = build_sft_trainer(loop_config, str(work / "direct"))
    trainer.train()
    direct = _throughput(trainer.state.log_history, time.perf_counter() - started)

    ensure_ray(get_settings().model_copy(update={"ray_num_cpus": max(2, args.workers), "ray_dashboard": False}))
    started = time.perf_counter()
    summary = fit(loop_config, storage_path=str(work / "ray"), name="bench", adapter_dir=work / "adapter")
    ray_path = _throughput(summary["log_history"], time.perf_counter() - started)

    print(f"tiny model, {len(snapshot.train)} samples x {args.epochs:g} epochs, Ray workers: {args.workers}")
    print(f"{'':14}{'tokens':>10}{'loop tok/s':>12}{'e2e tok/s':>12}{'wall s':>9}")
    for name, result in (("direct", direct), ("ray train", ray_path)):
        print(f"{name:14}{result['tokens']:>10.0f}{result['loop_tokens_per_s']:>12.0f}"
              f"{result['end_to_end_tokens_per_s']:>12.0f}{result['wall_s']:>9.1f}")
    print(f"ratio ray/direct: loop {ray_path['loop_tokens_per_s'] / direct['loop_tokens_per_s']:.2f}, "
          f"end to end {ray_path['end_to_end_tokens_per_s'] / direct['end_to_end_tokens_per_s']:.2f} "
          f"(Ray overhead ratio = direct/ray end to end: "
          f"{direct['end_to_end_tokens_per_s'] / ray_path['end_to_end_tokens_per_s']:.2f}x)")


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
