"""One fine-tuning run end to end: dataset snapshot → base model → Ray Train (SFT + LoRA) →
evaluation against the base (and the current active adapter) → registry.

Every run has a ``registry.models`` row from its first step; whatever goes wrong turns it into
``failed`` with a readable reason (and removes a half-copied adapter), so nothing is left half
registered. An interrupted run keeps its Ray checkpoints and continues with ``resume_model_id``.
"""

from __future__ import annotations

import errno
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from training import registry
from training.config import CONFIG_DIR, DEFAULT_CONFIG, ConfigError, TrainingConfig, parse_config, read_config_file
from training.dataset import DatasetError, DatasetSnapshot, load_snapshot, prepare_dataset
from twin.core import model_registry, storage
from twin.core.model_loading import BaseModelNotFound
from twin.core.settings import PROJECT_ROOT, Settings, get_settings

# What not to upload when the project is shipped to a Ray cluster as a working dir.
WORKING_DIR_EXCLUDES = [".venv/", ".twin/", ".git/", "node_modules/", "*.pyc"]

Progress = Callable[[str, "int | None", "int | None"], None]
"""Called with (what is happening, steps done, steps in total) — the step counts during training only."""


class TrainingFailed(RuntimeError):
    def __init__(self, reason: str, model_id: uuid.UUID):
        super().__init__(reason)
        self.model_id = model_id


class DiskSpaceError(OSError):
    pass


@dataclass(frozen=True)
class FineTuneOutcome:
    model_id: uuid.UUID
    status: str  # active or ready
    adapter_uri: str
    base_model: str
    dataset_snapshot: str
    metrics: dict[str, Any]
    report_path: Path
    plot_path: Path


def default_config(settings: Settings | None = None) -> Path | TrainingConfig:
    """TWIN_TRAINING_CONFIG when set; else the shipped config whose base_model is TWIN_BASE_MODEL
    (tiny.yaml for tiny-local, the CPU config for the shipped SmolLM2); for any other base (a hub id,
    a local folder) the default CPU config with that base_model, so a base without a config of its
    own still trains."""
    settings = settings or get_settings()
    if settings.training_config is not None:
        return settings.training_config
    base_model = settings.base_model
    for path in sorted(CONFIG_DIR.glob("*.yaml")):
        raw = read_config_file(path)
        if isinstance(raw, dict) and raw.get("base_model") == base_model:
            return path
    spec = parse_config(read_config_file(DEFAULT_CONFIG), str(DEFAULT_CONFIG))
    return spec.model_copy(update={"base_model": base_model})


def config_location(config: str | Path) -> Path:
    """A config path, or the name of a shipped config (``smollm2-135m-cpu``, ``tiny.yaml``)."""
    path = Path(config)
    if path.exists() or path.is_absolute() or len(path.parts) > 1:
        return path
    for candidate in (CONFIG_DIR / path.name, CONFIG_DIR / f"{path.name}.yaml"):
        if candidate.is_file():
            return candidate
    return path


def ensure_ray(settings: Settings) -> None:
    """Join the project's Ray (see :mod:`twin.core.ray_cluster`): RAY_ADDRESS, else the cluster `twin up`
    started (``$TWIN_HOME/ray.json``), else a private local Ray (with the dashboard when its port is free)."""
    import ray

    from twin.core.ray_cluster import connect_or_start, resolve_address

    if ray.is_initialized():
        return
    env_vars = {
        # "." for workers of a Ray job that shipped the project as its working_dir, the checkout for
        # workers on this machine (the stack's head, a private Ray)
        "PYTHONPATH": os.pathsep.join(filter(None, [".", str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        "RAY_TRAIN_ENABLE_PRINT_PATCH": "0",  # its print hook leaks dill's captured disassembly into the logs
        "TOKENIZERS_PARALLELISM": "false",
    }
    runtime_env: dict = {"env_vars": env_vars}
    kind, _ = resolve_address(settings)
    if kind == "remote":  # a driver here, the cluster elsewhere: ship the project
        runtime_env = {
            "working_dir": str(PROJECT_ROOT),
            "env_vars": {**env_vars, "PYTHONPATH": "."},
            "excludes": WORKING_DIR_EXCLUDES,
        }
    connect_or_start(settings, runtime_env=runtime_env)


def _check_disk(spec: TrainingConfig, paths: Iterable[Path]) -> None:
    for path in paths:
        path.mkdir(parents=True, exist_ok=True)
        free_gb = shutil.disk_usage(path).free / 1e9
        if free_gb < spec.min_free_disk_gb:
            raise DiskSpaceError(
                errno.ENOSPC,
                f"out of disk space: {free_gb:.2f} GB free under {path}, the config "
                f"needs at least {spec.min_free_disk_gb} GB (min_free_disk_gb)",
            )


def describe_failure(exc: BaseException) -> str:
    """One readable reason for the registry and the CLI."""
    if isinstance(exc, (ConfigError, DatasetError, BaseModelNotFound, DiskSpaceError)):
        return exc.strerror if isinstance(exc, DiskSpaceError) else str(exc)
    text = f"{type(exc).__name__}: {exc}"
    if (isinstance(exc, OSError) and exc.errno == errno.ENOSPC) or "No space left on device" in text:
        return f"out of disk space while training: {exc}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # Ray wraps a worker's exception with its traceback: the last "SomeError: ..." line is the cause
    causes = [line for line in lines if line.split(":", 1)[0].endswith(("Error", "Exception", "Training"))]
    return (causes[-1] if causes else lines[0])[:2000]


def _poll_progress(progress_file: Path, progress: Progress, stop: threading.Event) -> None:
    import json

    last = None
    while not stop.wait(0.5):
        try:
            record = json.loads(progress_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if record != last:
            last = record
            logs = record.get("logs", {})
            detail = f" loss {logs['loss']:.3f}" if "loss" in logs else ""
            detail += f" held-out loss {logs['eval_loss']:.3f}" if "eval_loss" in logs else ""
            progress(f"training{detail}", record["step"], record["max_steps"])


def _evaluate(
    spec: TrainingConfig,
    base_model: str,
    adapters: dict[str, str | None],
    snapshot: DatasetSnapshot,
    embedding_model: str,
    max_threads: int | None = None,
) -> dict[str, Any]:
    """Each model on the held-out split, in a Ray task (on a GPU when the run trains on GPUs), with
    at most ``max_threads`` torch threads each (TWIN_TORCH_THREADS)."""
    import ray

    from training.evaluate import control_samples, evaluate_variant

    task = ray.remote(evaluate_variant).options(num_cpus=1, num_gpus=1 if spec.scaling.use_gpu else 0)
    threads = max(1, (os.cpu_count() or 1) // len(adapters))  # the variants run side by side
    threads = min(threads, max_threads or threads)
    options = dict(
        max_length=spec.max_seq_length,
        max_samples=spec.evaluation.max_samples,
        max_new_tokens=spec.evaluation.max_new_tokens,
        embedding_model=embedding_model,
        control=control_samples(spec.evaluation.control_passages, spec.system_prompt),
        threads=threads,
    )
    refs = {
        name: task.remote(base_model, adapter, snapshot.validation, **options) for name, adapter in adapters.items()
    }
    return {name: ray.get(ref) for name, ref in refs.items()}


def fine_tune(
    user_id: int,
    config: str | Path | TrainingConfig | None = None,
    *,
    rows: Iterable[Mapping] | None = None,
    resume_model_id: uuid.UUID | str | None = None,
    settings: Settings | None = None,
    engine: sa.Engine | None = None,
    progress: Progress | None = None,
    interrupt_after_step: int | None = None,
) -> FineTuneOutcome:
    """Fine-tune ``user_id``'s twin; raises :class:`TrainingFailed` (row marked failed) on any problem.

    ``rows`` replaces reading ``marts.sft_samples`` (tests, imports); ``interrupt_after_step``
    stops the run after that checkpoint as if it were killed, to exercise resuming.
    """
    from twin.core.db import get_engine

    settings = settings or get_settings()
    engine = engine or get_engine(settings)
    progress = progress or (lambda message, done=None, total=None: None)

    model_id, spec, setup_error, run = _open_run(engine, settings, user_id, config, resume_model_id)
    adapter_dir = settings.home / "adapters" / str(user_id) / str(model_id)
    try:
        if setup_error is not None:
            raise setup_error
        return _run(engine, settings, user_id, model_id, spec, run, adapter_dir, rows, progress, interrupt_after_step)
    except Exception as exc:
        reason = describe_failure(exc)
        with engine.begin() as conn:
            registry.fail_run(conn, model_id, reason)
        shutil.rmtree(adapter_dir, ignore_errors=True)
        storage.remove(_adapter_location(settings, user_id, model_id))
        raise TrainingFailed(reason, model_id) from exc


def _adapter_location(settings: Settings, user_id: int, model_id: uuid.UUID) -> str:
    """Where a run's adapter is stored for serving (``adapters/<user>/<model>`` in TWIN_STORAGE_URI;
    by default the local adapter folder itself)."""
    return storage.location_for(settings, "adapters", str(user_id), str(model_id))


def start_fine_tune(
    user_id: int, config: str | Path | None = None, *, settings: Settings | None = None, engine: sa.Engine | None = None
) -> uuid.UUID:
    """The first step of a run on its own (the ``twin_finetune`` DAG's export task): open the registry
    row and export the dataset snapshot. :func:`fine_tune` with ``resume_model_id`` does the rest,
    reusing the snapshot. Failures are recorded on the row and raised as :class:`TrainingFailed`."""
    from twin.core.db import get_engine

    settings = settings or get_settings()
    engine = engine or get_engine(settings)
    model_id, spec, setup_error, run = _open_run(engine, settings, user_id, config, None)
    try:
        if setup_error is not None:
            raise setup_error
        _export_snapshot(engine, settings, user_id, model_id, spec, run, rows=None)
    except Exception as exc:
        reason = describe_failure(exc)
        with engine.begin() as conn:
            registry.fail_run(conn, model_id, reason)
        raise TrainingFailed(reason, model_id) from exc
    return model_id


def _export_snapshot(
    engine, settings, user_id, model_id, spec: TrainingConfig, run, rows
) -> tuple[DatasetSnapshot, dict]:
    """The run's dataset snapshot: the one it already recorded, or a new export recorded on its row."""
    if run.get("dataset_snapshot"):
        return load_snapshot(storage.local_copy(run["dataset_snapshot"], settings)), run
    connection = None if rows is not None else engine.connect()
    try:
        snapshot = prepare_dataset(
            user_id,
            settings.home,
            rows=rows,
            conn=connection,
            system_prompt=spec.system_prompt,
            min_train=spec.min_train_samples,
            min_validation=spec.min_validation_samples,
            max_train=spec.max_train_samples,
            retrieve=_context_retriever(engine, settings, user_id) if spec.context_tokens else None,
            context_tokens=spec.context_tokens,
            count_tokens=_token_counter(spec),
        )
    finally:
        if connection is not None:
            connection.close()
    # kept where a resumed run on another machine finds it (by default: where it was written)
    location = storage.upload_dir(
        snapshot.path, storage.location_for(settings, "datasets", str(user_id), snapshot.snapshot_id)
    )
    run = {**run, "dataset_snapshot": location}
    with engine.begin() as conn:
        record = model_registry.get_model(conn, model_id)
        registry.update_run(conn, model_id, dataset_snapshot=location, config={**record.config, "run": run})
    return snapshot, run


def _context_retriever(engine: sa.Engine, settings: Settings, user_id: int):
    """Passages of the author's own posts and articles for a training prompt: the same hybrid search
    serving uses (nothing when the user's chunks are not embedded yet)."""
    from twin.core.prompting import ContextItem

    state: dict[str, Any] = {}

    def retrieve(query: str, k: int) -> list[ContextItem]:
        from twin.core.embedding import load_embedding_model
        from twin.core.retrieval import SearchFilters, search_documents

        if state.get("unavailable"):
            return []
        if "model" not in state:
            state["model"] = load_embedding_model(settings.embedding_model)
        try:
            hits = search_documents(
                engine,
                user_id,
                query,
                k=k,
                model=state["model"],
                model_name=settings.embedding_model,
                filters=SearchFilters(kinds=["post", "article"]),
            )
        except sa.exc.ProgrammingError:  # no marts/vectors yet: train without context
            state["unavailable"] = True
            return []
        return [
            ContextItem(
                origin="retrieval",
                key=hit.chunk_id,
                text=hit.text,
                url=hit.url,
                title=hit.title,
                platform=hit.platform,
                kind=hit.kind,
                score=hit.score,
                document_id=hit.document_id,
            )
            for hit in hits
        ]

    return retrieve


def _token_counter(spec: TrainingConfig):
    """Token counts in the base model's tokenizer (a character estimate for the tiny model, whose
    tokenizer is only trained after the export)."""
    if spec.is_tiny_local or not spec.context_tokens:
        return lambda text: len(text) // 4 + 1
    from twin.core.model_loading import check_base_model, load_tokenizer

    check_base_model(spec.base_model)  # a missing model fails here with advice, not deep in the tokenizer
    tokenizer = load_tokenizer(spec.base_model)
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False))


def _open_run(engine, settings, user_id, config, resume_model_id):
    """Create (or, resuming, reopen) the registry row; a config problem is returned, not raised, so it
    is recorded on the row like every other failure."""
    if resume_model_id is not None:
        model_id = uuid.UUID(str(resume_model_id))
        with engine.begin() as conn:
            record = model_registry.get_model(conn, model_id)
            if record is None or record.user_id != user_id:
                raise TrainingFailed(f"no training run {model_id} for user {user_id}", model_id)
            if record.status not in ("failed", "training") or "run" not in record.config:
                raise TrainingFailed(f"run {model_id} is {record.status} and cannot be resumed", model_id)
            registry.restart_run(conn, model_id)
        return model_id, TrainingConfig.model_validate(record.config["training"]), None, record.config["run"]

    model_id = uuid.uuid4()
    config = config if config is not None else default_config(settings)
    spec, error, document = None, None, {}
    try:
        if isinstance(config, TrainingConfig):
            spec = config
        else:
            config = config_location(config)
            document = {"config_path": str(config)}
            raw = read_config_file(config)
            document["raw"] = raw
            spec = parse_config(raw, str(config))
    except ConfigError as exc:
        error = exc
    run = None
    if spec is not None:
        storage_path = spec.storage_path or storage.location_for(settings, "ray_results")
        run = {"storage_path": storage_path, "name": f"user{user_id}-{model_id}", "dataset_snapshot": None}
        document = {"config_path": document.get("config_path"), "training": spec.model_dump(mode="json"), "run": run}
    raw_base = document.get("raw", {}).get("base_model") if isinstance(document.get("raw"), dict) else None
    base_model = spec.base_model if spec else str(raw_base or settings.base_model)
    with engine.begin() as conn:
        registry.start_run(conn, user_id, base_model, document, model_id)
    return model_id, spec, error, run


def _run(
    engine,
    settings,
    user_id,
    model_id,
    spec: TrainingConfig,
    run,
    adapter_dir: Path,
    rows,
    progress,
    interrupt_after_step,
) -> FineTuneOutcome:
    from training.train import fit
    from twin.core.model_loading import check_base_model
    from twin.core.tiny_model import build_tiny_model

    progress("exporting the dataset snapshot", None, None)
    snapshot, run = _export_snapshot(engine, settings, user_id, model_id, spec, run, rows)

    _check_disk(
        spec,
        [Path(run["storage_path"]), settings.home] if not storage.has_scheme(run["storage_path"]) else [settings.home],
    )

    progress("preparing the base model", None, None)
    if spec.is_tiny_local:
        base_model = str(build_tiny_model(snapshot.corpus, spec.tiny_model, settings.home, spec.seed))
    else:
        check_base_model(spec.base_model)
        base_model = spec.base_model
    with engine.begin() as conn:
        registry.update_run(conn, model_id, base_model=base_model)

    progress(f"starting Ray Train ({spec.scaling.num_workers} workers)", None, None)
    ensure_ray(settings)
    # rank 0 writes its progress where this driver polls it: a local folder (a worker on another node
    # without a shared TWIN_HOME only costs the progress bar)
    progress_dir = (
        settings.home / "ray_results" if storage.has_scheme(run["storage_path"]) else Path(run["storage_path"])
    )
    progress_dir.mkdir(parents=True, exist_ok=True)
    progress_file = progress_dir / f"{run['name']}.progress.json"
    loop_config = {
        "training": spec.model_dump(mode="json"),
        "max_torch_threads": settings.torch_threads,
        "base_model": base_model,
        "train_records": [sample.trainer_record() for sample in snapshot.train],
        "validation_records": [sample.trainer_record() for sample in snapshot.validation],
        "progress_file": str(progress_file),
        "interrupt_after_step": interrupt_after_step,
    }
    stop = threading.Event()
    poller = threading.Thread(target=_poll_progress, args=(progress_file, progress, stop), daemon=True)
    poller.start()
    try:
        summary = fit(loop_config, storage_path=run["storage_path"], name=run["name"], adapter_dir=adapter_dir)
    finally:
        stop.set()
        poller.join()
        progress_file.unlink(missing_ok=True)

    # stored before evaluating: the evaluation tasks may run on any node and read it from there
    adapter_uri = storage.upload_dir(adapter_dir, _adapter_location(settings, user_id, model_id))
    progress("evaluating base and tuned models on the held-out split", None, None)
    with engine.connect() as conn:
        active = model_registry.active_model(conn, user_id)
    adapters = {"base": None, "tuned": adapter_uri}
    if active and active.base_model == base_model and active.adapter_uri and storage.exists(active.adapter_uri):
        adapters["active"] = active.adapter_uri
    evaluation = _evaluate(spec, base_model, adapters, snapshot, settings.embedding_model, settings.torch_threads)
    baseline = "active" if "active" in evaluation else "base"

    from training.evaluate import loss_curve, relative_change, write_report

    metrics = {
        "model_id": str(model_id),
        "base_model_name": spec.base_model,
        "dataset": {
            "snapshot_id": snapshot.snapshot_id,
            "train_samples": len(snapshot.train),
            "validation_samples": len(snapshot.validation),
        },
        "training": {
            "global_step": summary["global_step"],
            "resumed_from_step": summary["resumed_from_step"],
            "world_size": summary["world_size"],
            "worker_nodes": summary.get("worker_nodes", []),
            "max_steps": summary.get("max_steps"),
            "stopped_by_time_limit": summary.get("stopped_by_time_limit", False),
            "train_seconds": summary.get("train_seconds"),
            "loss_curve": loss_curve(summary["log_history"]),
        },
        "evaluation": evaluation,
        "perplexity": evaluation["tuned"]["perplexity"],
        "base_perplexity": evaluation["base"]["perplexity"],
        "style_score": evaluation["tuned"]["style"]["score"],
        "base_style_score": evaluation["base"]["style"]["score"],
        "author_perplexity_change": relative_change(
            evaluation["tuned"]["perplexity"], evaluation["base"]["perplexity"]
        ),
        "control_perplexity_change": relative_change(
            evaluation["tuned"].get("control_perplexity"), evaluation["base"].get("control_perplexity")
        ),
        "compared_with": {
            "name": baseline,
            "model_id": str(active.model_id) if baseline == "active" else None,
            "perplexity": evaluation[baseline]["perplexity"],
        },
    }
    metrics = registry.json_safe(metrics)  # an infinite perplexity (a random model) becomes null, not invalid JSON
    report_path, plot_path = write_report(metrics, adapter_dir)
    metrics["report"] = {"json": str(report_path), "plot": str(plot_path)}
    storage.upload_dir(adapter_dir, adapter_uri)  # again, with the report
    with engine.begin() as conn:
        status = registry.finish_run(
            conn,
            model_id,
            adapter_uri=adapter_uri,
            metrics=metrics,
            perplexity=evaluation["tuned"]["perplexity"],
            baseline_perplexity=evaluation[baseline]["perplexity"],
        )
    return FineTuneOutcome(
        model_id, status, adapter_uri, base_model, run["dataset_snapshot"], metrics, report_path, plot_path
    )


__all__ = [
    "DEFAULT_CONFIG",
    "FineTuneOutcome",
    "TrainingFailed",
    "config_location",
    "default_config",
    "describe_failure",
    "ensure_ray",
    "fine_tune",
]
