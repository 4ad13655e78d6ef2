"""Torch processes side by side: each with every core's worth of threads vs each with its share.

Runs --processes processes at once (default 2), each scoring the held-out perplexity of the control
passages under the shipped SmolLM2-135M-Instruct (the forward passes that training's evaluation and
serving's quality check run), first with torch's default of one thread per core in every process,
then with the cores divided among the processes (what TWIN_TORCH_THREADS and OMP_NUM_THREADS set,
and what the test suite's xdist workers use), and one process alone with every core for reference.
Prints each configuration's seconds per process and the ratio.

    .venv/bin/python benchmarks/torch_threads.py [--processes 2] [--passages 12]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WORKLOAD = """
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
from training.evaluate import control_samples, perplexity
from twin.core.base_models import SHIPPED_MODEL_ID
from twin.core.model_loading import load_for_inference
model, tokenizer = load_for_inference(None, SHIPPED_MODEL_ID)
passages = control_samples(int(sys.argv[2]))
perplexity(model, tokenizer, passages[:1], 384)  # warm-up
print("READY", flush=True)
sys.stdin.readline()  # every process starts timing together
started = time.perf_counter()
perplexity(model, tokenizer, passages, 384)
print(f"SECONDS {time.perf_counter() - started:.2f}", flush=True)
"""


def run_side_by_side(processes: int, threads: int, passages: int) -> list[float]:
    """Seconds each of ``processes`` processes of ``threads`` torch threads took, timed together."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WORKLOAD, str(threads), str(passages)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(processes)
    ]
    for child in children:
        if child.stdout.readline().strip() != "READY":
            raise SystemExit(f"a workload process failed to load the model (exit {child.wait()})")
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    seconds = []
    for child in children:
        line = child.stdout.readline()
        child.wait()
        seconds.append(float(line.split()[1]))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2, help="processes running at once (default 2)")
    parser.add_argument("--passages", type=int, default=12, help="control passages each scores (default 12)")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    cores = os.cpu_count() or 1
    share = max(1, cores // args.processes)
    console = Console()
    console.print(f"{cores} cores, {args.processes} processes, {args.passages} passages of up to 384 tokens each")
    rows = []
    with console.status("timing..."):
        rows.append((f"1 process x {cores} threads (alone)", run_side_by_side(1, cores, args.passages)))
        rows.append(
            (f"{args.processes} processes x {cores} threads", run_side_by_side(args.processes, cores, args.passages))
        )
        rows.append(
            (f"{args.processes} processes x {share} threads", run_side_by_side(args.processes, share, args.passages))
        )
    table = Table("configuration", "seconds per process", "passages/s, all processes")
    for name, seconds in rows:
        table.add_row(
            name, " ".join(f"{value:.1f}" for value in seconds), f"{args.passages * len(seconds) / max(seconds):.2f}"
        )
    console.print(table)
    oversubscribed, shared = max(rows[1][1]), max(rows[2][1])
    console.print(
        f"every core's threads in each process / its share of the cores: {oversubscribed / shared:.2f}x the time"
    )


if __name__ == "__main__":
    main()
