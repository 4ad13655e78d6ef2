"""Ray Train entrypoint: ``train_loop`` runs trl's SFTTrainer with a LoRA adapter on every worker;
``fit`` builds the TorchTrainer (ScalingConfig, RunConfig with checkpoints under the storage path).

A run is named after its registry row, so running the same run again (``twin train --resume``, or
Ray restarting the worker group after a failure) continues from the last reported checkpoint.
The entrypoint of a Ray job on a cluster is :mod:`training.job`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

FINAL_ADAPTER_DIR = "adapter"
TRAINER_CHECKPOINT_DIR = "checkpoint"  # what RayTrainReportCallback names the HF checkpoint inside a Ray one
SUMMARY_FILE = "training_summary.json"


class StopTraining(RuntimeError):
    """Raised by the interrupt hook: stands in for a killed worker (tests, chaos drills)."""


def _callbacks(config: dict[str, Any]):
    from transformers import TrainerCallback

    class ProgressFile(TrainerCallback):
        """Rank 0 writes step/loss to a small JSON file the driver polls for its progress bar."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if state.is_world_process_zero and config.get("progress_file"):
                record = {"step": state.global_step, "max_steps": state.max_steps, "logs": logs or {}}
                Path(config["progress_file"]).write_text(json.dumps(record), encoding="utf-8")

    class InterruptAfterStep(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.global_step >= config["interrupt_after_step"]:
                import time

                # Ray's controller collects a reported checkpoint when it next polls the workers
                # (every 2 s) and drops it if the worker has failed by then: die after that, as a
                # worker killed later in the next step would
                time.sleep(5)
                raise StopTraining(f"interrupted after step {state.global_step} (interrupt_after_step)")

    class WallClockLimit(TrainerCallback):
        """Stop after the step that crosses ``max_train_minutes`` (saving a checkpoint there), so a user
        with a huge corpus still gets an adapter in bounded time."""

        def __init__(self, minutes: float):
            import time

            self.deadline = time.monotonic() + minutes * 60

        def on_step_end(self, args, state, control, **kwargs):
            import time

            if time.monotonic() >= self.deadline and not control.should_training_stop:
                control.should_training_stop = True
                control.should_save = True
                state.stopped_by_time_limit = True  # read back into the summary

    callbacks = [ProgressFile()]
    minutes = config["training"].get("max_train_minutes")
    if minutes:
        callbacks.append(WallClockLimit(float(minutes)))
    if config.get("interrupt_after_step"):
        callbacks.append(InterruptAfterStep())  # after RayTrainReportCallback: the checkpoint is reported first
    return callbacks


def build_sft_trainer(config: dict[str, Any], output_dir: str, extra_callbacks=()):
    """The SFTTrainer for ``config`` (the same object in Ray workers and in the one-process benchmark)."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM
    from trl import SFTConfig, SFTTrainer

    from training.config import TrainingConfig
    from twin.core.model_loading import load_tokenizer, resolve

    spec = TrainingConfig.model_validate(config["training"])
    tokenizer = load_tokenizer(config["base_model"])
    model = AutoModelForCausalLM.from_pretrained(
        resolve(config["base_model"]), dtype=torch.bfloat16 if spec.bf16 else torch.float32
    )
    args = SFTConfig(
        output_dir=output_dir,
        num_train_epochs=spec.epochs,
        max_steps=spec.max_steps,
        per_device_train_batch_size=spec.per_device_batch_size,
        per_device_eval_batch_size=spec.per_device_batch_size,
        gradient_accumulation_steps=spec.gradient_accumulation_steps,
        learning_rate=spec.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=spec.warmup_ratio,
        weight_decay=spec.weight_decay,
        logging_steps=spec.logging_steps,
        save_strategy="steps",
        save_steps=spec.save_steps,
        save_total_limit=1,
        eval_strategy="steps",
        eval_steps=spec.save_steps,
        bf16=spec.bf16,
        activation_checkpointing=spec.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if spec.gradient_checkpointing else None,
        max_length=spec.max_seq_length,
        packing=spec.packing,
        seed=spec.seed,
        use_cpu=not spec.scaling.use_gpu,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,
    )
    lora = LoraConfig(
        r=spec.lora.r,
        lora_alpha=spec.lora.alpha,
        lora_dropout=spec.lora.dropout,
        target_modules=list(spec.lora.target_modules),
        modules_to_save=list(spec.lora.modules_to_save) or None,
        task_type="CAUSAL_LM",
    )
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(config["train_records"]),
        eval_dataset=Dataset.from_list(config["validation_records"]),
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=list(extra_callbacks),
    )


def set_threads(config: dict[str, Any], workers_on_this_node: int) -> int:
    """Ray starts CPU workers with OMP_NUM_THREADS=1, which halves training speed on a small machine:
    give each worker its share of the cores (or the config's ``torch_threads``), at most the
    run's ``max_torch_threads`` (TWIN_TORCH_THREADS)."""
    import torch

    threads = config["training"].get("torch_threads") or max(1, (os.cpu_count() or 1) // max(1, workers_on_this_node))
    threads = min(threads, config.get("max_torch_threads") or threads)
    torch.set_num_threads(threads)
    return threads


def worker_placement(context) -> list[dict[str, Any]]:
    """Where every rank of the worker group runs (Ray node id, IP, pid), gathered over the group's
    process group, so the driver can report it (and a test check SPREAD placement)."""
    import ray
    import torch.distributed as dist

    record = {
        "rank": context.get_world_rank(),
        "node_id": ray.get_runtime_context().get_node_id(),
        "node_ip": ray.util.get_node_ip_address(),
        "pid": os.getpid(),
    }
    if context.get_world_size() == 1 or not (dist.is_available() and dist.is_initialized()):
        return [record]
    gathered: list[Any] = [None] * context.get_world_size()
    dist.all_gather_object(gathered, record)
    return gathered


def train_loop(config: dict[str, Any]) -> None:
    """One Ray Train worker: SFT with LoRA, reporting checkpoints to Ray; resumes from the latest one."""
    import ray.train
    from ray.train import Checkpoint
    from ray.train.huggingface.transformers import RayTrainReportCallback, prepare_trainer

    context = ray.train.get_context()
    set_threads(config, context.get_local_world_size())
    placement = worker_placement(context)
    scratch = Path(tempfile.mkdtemp(prefix=f"twin-train-rank{context.get_world_rank()}-"))
    trainer = build_sft_trainer(config, str(scratch / "hf"), [RayTrainReportCallback(), *_callbacks(config)])
    trainer = prepare_trainer(trainer)

    checkpoint = ray.train.get_checkpoint()
    resumed_from_step = 0
    if checkpoint is None:
        trainer.train()
    else:
        with checkpoint.as_directory() as directory:
            if (Path(directory) / FINAL_ADAPTER_DIR).is_dir():
                # the run had finished: report its result again instead of training twice
                summary = json.loads((Path(directory) / SUMMARY_FILE).read_text())
                ray.train.report(summary, checkpoint=checkpoint if context.get_world_rank() == 0 else None)
                return
            hf_checkpoint = Path(directory) / TRAINER_CHECKPOINT_DIR
            resumed_from_step = json.loads((hf_checkpoint / "trainer_state.json").read_text())["global_step"]
            trainer.train(resume_from_checkpoint=str(hf_checkpoint))

    summary = {
        "global_step": trainer.state.global_step,
        "max_steps": trainer.state.max_steps,
        "stopped_by_time_limit": bool(getattr(trainer.state, "stopped_by_time_limit", False)),
        "train_seconds": round(sum(entry.get("train_runtime", 0) for entry in trainer.state.log_history), 1),
        "resumed_from_step": resumed_from_step,
        "world_size": context.get_world_size(),
        "worker_nodes": placement,
        "log_history": trainer.state.log_history,
    }
    final = scratch / "final"
    trainer.save_model(str(final / FINAL_ADAPTER_DIR))  # writes on rank 0 only (args.should_save)
    if context.get_world_rank() == 0:
        (final / SUMMARY_FILE).write_text(json.dumps(summary), encoding="utf-8")
        ray.train.report(summary, checkpoint=Checkpoint.from_directory(str(final)))
    else:
        ray.train.report(summary, checkpoint=None)


def fit(loop_config: dict[str, Any], *, storage_path: str, name: str, adapter_dir: Path) -> dict[str, Any]:
    """Run ``train_loop`` on Ray Train workers as the config's ``scaling`` section says, copy the final
    adapter to ``adapter_dir`` and return the training summary (step count, loss history)."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from training.config import TrainingConfig

    spec = TrainingConfig.model_validate(loop_config["training"])
    trainer = TorchTrainer(
        train_loop_per_worker=train_loop,
        train_loop_config=loop_config,
        scaling_config=ScalingConfig(
            num_workers=spec.scaling.num_workers,
            use_gpu=spec.scaling.use_gpu,
            resources_per_worker=dict(spec.scaling.resources_per_worker),
            placement_strategy=spec.scaling.placement_strategy,
        ),
        run_config=RunConfig(
            storage_path=storage_path,
            name=name,
            checkpoint_config=CheckpointConfig(num_to_keep=spec.checkpoints_to_keep),
            failure_config=FailureConfig(max_failures=spec.max_failures),
        ),
    )
    result = trainer.fit()
    with result.checkpoint.as_directory() as directory:
        shutil.copytree(Path(directory) / FINAL_ADAPTER_DIR, adapter_dir, dirs_exist_ok=True)
        return json.loads((Path(directory) / SUMMARY_FILE).read_text(encoding="utf-8"))
