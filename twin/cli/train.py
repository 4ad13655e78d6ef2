"""``twin train``: fine-tune a user's writing twin on Ray Train and register the adapter."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated

import typer

from twin.cli.common import console, fail, settings_or_exit

app = typer.Typer()


@app.command("train")
def train(
    user: Annotated[str, typer.Option("--user", help="the user's email")],
    config: Annotated[
        Path | None,
        typer.Option(help="training config YAML (default: the one in training/configs/ for TWIN_BASE_MODEL)"),
    ] = None,
    resume: Annotated[
        str | None, typer.Option(help="model id of an interrupted run to continue from its last checkpoint")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON on stdout")] = False,
) -> None:
    """Fine-tune a LoRA adapter on the user's own writing (marts.sft_samples), evaluate it against the
    base model on held-out posts, and register it; it becomes the active one only if it is better.

    Runs on a local Ray (dashboard on http://127.0.0.1:8265) or, with RAY_ADDRESS=http://HEAD:8265,
    submits the same run as a Ray job to that cluster.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from twin.core import db as twin_db
    from twin.core.users import UserNotFound, user_id_for_email

    settings = settings_or_exit()
    try:
        with twin_db.get_engine(settings).connect() as conn:
            user_id = user_id_for_email(conn, user)
    except (UserNotFound, twin_db.DatabaseUnavailable) as exc:
        raise fail(str(exc))

    if settings.ray_address and settings.ray_address.startswith(("http://", "https://")):
        _submit_job(settings.ray_address, user_id, config, resume)
        return

    from training.config import ConfigError
    from training.pipeline import TrainingFailed, default_config, fine_tune

    try:
        config = config or default_config(settings)
    except ConfigError as exc:
        raise fail(str(exc), 2)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)

        def show(message: str, done: int | None, total: int | None) -> None:
            bar.update(task, description=message, completed=done or 0, total=total)

        try:
            outcome = fine_tune(user_id, config, resume_model_id=resume, settings=settings, progress=show)
        except TrainingFailed as exc:
            raise fail(f"training run {exc.model_id} failed: {exc}")

    metrics = outcome.metrics
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "model_id": str(outcome.model_id),
                    "status": outcome.status,
                    "adapter_uri": outcome.adapter_uri,
                    "metrics": metrics,
                }
            )
        )
    evaluation = metrics["evaluation"]
    console.print(f"Run {outcome.model_id}: [bold]{outcome.status}[/]", highlight=False)
    for name, result in evaluation.items():
        console.print(
            f"  {name:>6}: held-out perplexity {result['perplexity']:.2f}, style score {result['style']['score']:.3f}",
            highlight=False,
        )
    if outcome.status != "active":
        console.print(
            f"  not activated: perplexity {metrics['perplexity']:.2f} does not beat the "
            f"{metrics['compared_with']['name']} model's {metrics['compared_with']['perplexity']:.2f}",
            highlight=False,
        )
    console.print(
        f"Adapter: {outcome.adapter_uri}\nReport:  {outcome.report_path} and {outcome.plot_path.name}", highlight=False
    )


def _submit_job(address: str, user_id: int, config: Path | None, resume: str | None) -> None:
    """Hand the run to a Ray cluster's job server; its driver runs ``python -m training.job``."""
    from ray.job_submission import JobSubmissionClient

    from training.job import CONFIG_ENV_VAR
    from training.pipeline import WORKING_DIR_EXCLUDES
    from twin.core.settings import PROJECT_ROOT

    entrypoint = f"python -m training.job --user-id {user_id}"
    runtime_env = {"working_dir": str(PROJECT_ROOT), "excludes": WORKING_DIR_EXCLUDES}
    if config:
        config = config.resolve()
        if config.is_relative_to(PROJECT_ROOT):  # uploaded with the project
            entrypoint += f" --config {shlex.quote(str(config.relative_to(PROJECT_ROOT)))}"
        else:  # a config of your own elsewhere travels in the job's environment
            try:
                runtime_env["env_vars"] = {CONFIG_ENV_VAR: config.read_text()}
            except OSError as exc:
                raise fail(f"cannot read the training config {config}: {exc}")
            entrypoint += f" --config-from-env {CONFIG_ENV_VAR}"
    if resume:
        entrypoint += f" --resume {shlex.quote(resume)}"
    try:
        job_id = JobSubmissionClient(address).submit_job(entrypoint=entrypoint, runtime_env=runtime_env)
    except Exception as exc:  # the job client raises plain RuntimeError/ConnectionError with the cause
        raise fail(f"could not submit the training job to {address}: {exc}")
    console.print(
        f"Submitted Ray job {job_id} to {address}. Follow it with `ray job logs -f {job_id} "
        f"--address {address}` or in the dashboard.",
        highlight=False,
    )
