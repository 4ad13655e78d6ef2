"""Training throughput of the Ray Train path vs the same trl SFT loop run directly in one process.

Both train the same model on the same samples with the same config, one worker unless --workers
says otherwise (a Ray worker gets the machine's cores divided among the workers, as in production;
the direct loop gets all of them). --model default: the shipped SmolLM2-135M-Instruct with
training/configs/smollm2-135m-cpu.yaml on --samples samples of the fixture corpus for --epochs
epochs; the defaults (32 samples x 2 epochs = 16 steps of 4) are the default config's own workload,
64 samples in one epoch (the fixture corpus has 32 training samples). --model tiny: the tiny random
model with training/configs/tiny.yaml. Prints tokens/s inside the training loop (trainer runtime)
and end to end (wall time: Ray's worker start-up, model loading, checkpoint reporting included),
and the Ray/direct ratios. Ray is started before timing (a running Ray is reused, as `twin up`'s is).
--rounds N repeats both, alternating which goes first, and prints the median ratios.

    .venv/bin/python benchmarks/train_throughput.py [--model default] [--samples 32] [--epochs 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _throughput(log_history: list[dict], wall_s: float) -> dict[str, float]:
    tokens = max(entry["num_tokens"] for entry in log_history if "num_tokens" in entry)
    runtime = next(entry["train_runtime"] for entry in log_history if "train_runtime" in entry)
    return {
        "tokens": tokens,
        "loop_tokens_per_s": tokens / runtime,
        "end_to_end_tokens_per_s": tokens / wall_s,
        "wall_s": wall_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        choices=["default", "tiny"],
        default="default",
        help="default: the shipped SmolLM2-135M-Instruct; tiny: the random test model",
    )
    parser.add_argument("--samples", type=int, default=32, help="training samples (default model; default 32)")
    parser.add_argument("--workers", type=int, default=1, help="Ray Train workers (default 1: same compute as direct)")
    parser.add_argument("--epochs", type=float, default=None, help="epochs (default: 2 for the default model, 12 tiny)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat both paths, alternating the order (default 1)")
    args = parser.parse_args()

    import torch

    from testing.corpus import sft_rows
    from training.config import DEFAULT_CONFIG, TINY_CONFIG, load_config
    from training.dataset import prepare_dataset
    from training.pipeline import ensure_ray
    from training.train import build_sft_trainer, fit, set_threads
    from twin.core.model_loading import resolve
    from twin.core.settings import get_settings
    from twin.core.tiny_model import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="twin-bench-"))
    tiny = args.model == "tiny"
    epochs = args.epochs or (12 if tiny else 2)
    config = load_config(
        TINY_CONFIG if tiny else DEFAULT_CONFIG,
        epochs=epochs,
        max_train_minutes=None,
        max_train_samples=None if tiny else args.samples,
        scaling={"num_workers": args.workers, "resources_per_worker": {"CPU": 1}},
    )
    snapshot = prepare_dataset(1, work, rows=sft_rows(1), max_train=config.max_train_samples)
    if tiny:
        base_model = str(build_tiny_model(snapshot.corpus, config.tiny_model, work, config.seed))
    else:
        base_model = resolve(config.base_model)
    loop_config = {
        "training": config.model_dump(mode="json"),
        "base_model": base_model,
        "train_records": [sample.trainer_record() for sample in snapshot.train],
        "validation_records": [sample.trainer_record() for sample in snapshot.validation],
    }

    threads = set_threads(loop_config, 1)  # what the one Ray worker of this node gets too

    def direct() -> dict[str, float]:
        started = time.perf_counter()
        trainer = build_sft_trainer(loop_config, str(work / "direct"))
        trainer.train()
        result = _throughput(trainer.state.log_history, time.perf_counter() - started)
        del trainer
        torch.set_num_threads(threads)
        return result

    def ray_train(round_index: int) -> dict[str, float]:
        started = time.perf_counter()
        summary = fit(
            loop_config, storage_path=str(work / "ray"), name=f"bench-{round_index}", adapter_dir=work / "adapter"
        )
        return _throughput(summary["log_history"], time.perf_counter() - started)

    ensure_ray(
        get_settings().model_copy(
            update={"ray_num_cpus": max(2, args.workers), "ray_dashboard": False, "ray_address": None}
        )
    )
    rounds = []
    for round_index in range(args.rounds):
        if round_index % 2 == 0:
            rounds.append((direct(), ray_train(round_index)))
        else:
            ray_result = ray_train(round_index)
            rounds.append((direct(), ray_result))

    print(
        f"{config.base_model}, {len(snapshot.train)} samples x {epochs:g} epochs, max {config.max_seq_length} "
        f"tokens, batch {config.per_device_batch_size}; Ray workers: {args.workers}; {threads} torch threads"
    )
    print(
        f"{'round':7}{'':12}{'tokens':>10}{'loop tok/s':>12}{'e2e tok/s':>12}{'wall s':>9}{'ray/direct loop, e2e':>24}"
    )
    loop_ratios, end_to_end_ratios = [], []
    for round_index, (direct_result, ray_result) in enumerate(rounds):
        loop_ratios.append(ray_result["loop_tokens_per_s"] / direct_result["loop_tokens_per_s"])
        end_to_end_ratios.append(ray_result["end_to_end_tokens_per_s"] / direct_result["end_to_end_tokens_per_s"])
        first = "direct first" if round_index % 2 == 0 else "ray first"
        for name, result in (("direct", direct_result), ("ray train", ray_result)):
            ratios = f"{loop_ratios[-1]:.2f}, {end_to_end_ratios[-1]:.2f}" if name == "ray train" else first
            print(
                f"{round_index + 1:<7}{name:12}{result['tokens']:>10.0f}{result['loop_tokens_per_s']:>12.1f}"
                f"{result['end_to_end_tokens_per_s']:>12.1f}{result['wall_s']:>9.1f}{ratios:>24}"
            )
    print(
        f"median ratio ray/direct over {len(rounds)} round(s): loop {statistics.median(loop_ratios):.2f}, "
        f"end to end {statistics.median(end_to_end_ratios):.2f}"
    )


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
