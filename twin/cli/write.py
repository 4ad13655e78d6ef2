"""``twin write``: ask the twin for a post from the command line.

Through the serving app when it answers at ``TWIN_SERVING_URL`` (``POST /v1/posts``), otherwise in
this process on the same code path (:class:`serving.pipeline.InProcessTwin`). Either way the
response has the shape of ``POST /v1/posts``; ``--json`` prints exactly that.

Exit codes: 0 written, 1 an error (unknown user, database or serving unavailable, request refused),
2 bad arguments, 3 the twin could not write a post that passes the quality check.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from twin.cli.common import console, fail, settings_or_exit

app = typer.Typer()

QUALITY_FAILED = "The twin could not write a post that passes the quality check"
HEALTH_TIMEOUT_S = 2.0
EXIT_QUALITY_FAILED = 3
OPTION_OF_FIELD = {
    "prompt": "PROMPT",
    "links": "--link",
    "k": "--k",
    "max_new_tokens": "--max-new-tokens",
    "temperature": "--temperature",
    "user": "--user",
}


class WriteError(Exception):
    """A failure to show as one line; ``code`` is the exit code."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


# --- where the post is written ---------------------------------------------------------------------


def serving_answers(base_url: str, timeout_s: float = HEALTH_TIMEOUT_S) -> bool:
    """True when the serving app's ``GET /healthz`` answers 200 within ``timeout_s``."""
    import httpx

    try:
        return httpx.get(f"{base_url}/healthz", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def _detail(response) -> str:
    try:
        detail = response.json().get("detail", "")
    except (ValueError, AttributeError):
        return response.text.strip()[:300] or f"HTTP {response.status_code}"
    if isinstance(detail, list):  # FastAPI validation errors
        return "; ".join(_validation_error(error) for error in detail if isinstance(error, dict)) or "invalid request"
    return str(detail)[:300]


def _validation_error(error: dict) -> str:
    loc = [str(part) for part in error.get("loc", []) if part != "body"]
    return f"{'.'.join(loc) + ': ' if loc else ''}{error.get('msg', '')}"


def write_over_http(settings, body: dict) -> dict:
    """``POST /v1/posts`` on the serving app; HTTP errors become :class:`WriteError`."""
    import httpx

    base = str(settings.serving_url).rstrip("/")
    from twin.core.user_tokens import authorization_header

    headers = {
        **authorization_header(settings.serving_token.get_secret_value(), body["user"], issuer="twin-cli"),
        "User-Agent": "twin-cli",
    }
    timeout = settings.serving_timeout_s
    try:
        response = httpx.post(
            f"{base}/v1/posts", json=body, headers=headers, timeout=httpx.Timeout(timeout, connect=5.0)
        )
    except httpx.TimeoutException:
        raise WriteError(
            f"the serving app at {base} did not answer within {timeout:g} s (TWIN_SERVING_TIMEOUT_S)"
        ) from None
    except httpx.TransportError as exc:
        raise WriteError(f"the serving app at {base} could not be reached: {type(exc).__name__}: {exc}") from None
    status = response.status_code
    if status == 200:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or "post" not in data:
            raise WriteError(f"the serving app at {base} sent a response without a post")
        return data
    detail = _detail(response)
    if status in (401, 403):
        raise WriteError(
            f"the serving app at {base} refused the user token ({detail}): set TWIN_SERVING_TOKEN to the secret it uses"
        )
    if status == 404:
        raise WriteError(_unknown_user_message(detail, body["user"]))
    if status == 422:
        raise WriteError(f"the serving app refused the request: {detail}")
    if status == 503:
        raise WriteError(f"the serving app is unavailable: {detail}")
    raise WriteError(f"the serving app answered HTTP {status}: {detail}")


def _unknown_user_message(detail: str, user) -> str:
    hint = f" (create it with `twin user create {user}`)" if "@" in str(user) else ""
    return f"{detail}{hint}"


def load_serving_config(path: Path):
    from serving.config import parse_args, read_config_file

    document = read_config_file(path)
    return parse_args(document["applications"][0].get("args"))


def write_in_process(settings, config, request) -> dict:
    """The pipeline in this process (:class:`serving.pipeline.InProcessTwin`): the user and the
    database are checked first, before any model is loaded."""
    import asyncio

    from serving.context import Database, ServiceUnavailable, UserNotFound, resolve_user
    from serving.pipeline import InProcessTwin

    database = Database(settings)
    try:
        database.run(lambda conn: resolve_user(conn, request.user))
    except UserNotFound as exc:
        raise WriteError(_unknown_user_message(str(exc), request.user)) from None
    except ServiceUnavailable as exc:
        hint = " (start it with `twin db start`)" if settings.uses_embedded_db else ""
        raise WriteError(f"{exc}{hint}") from None
    finally:
        database.dispose()

    # the per-request log line is for the serving app's logs, not for this terminal
    logging.getLogger("ray.serve.twin").setLevel(logging.WARNING)
    twin = None
    try:
        twin = InProcessTwin(config, settings)
        return asyncio.run(twin.write(request))
    except (UserNotFound, ServiceUnavailable) as exc:
        raise WriteError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - one line, like the serving app's 500
        first_line = (str(exc).strip().splitlines() or [""])[0]
        raise WriteError(f"writing failed: {type(exc).__name__}: {first_line}") from None
    finally:
        if twin is not None:
            twin.database.dispose()


# --- output ----------------------------------------------------------------------------------------


def adapter_used(model: dict) -> bool:
    if "adapter_used" in model:
        return bool(model["adapter_used"])
    return bool(model.get("adapter")) and not model.get("fallback", False)


def model_lines(model: dict) -> list[str]:
    """``Model: ...`` (base model, whether the user's adapter wrote it and if not why), then the
    test-model warning when there is one."""
    base = model.get("base") or model.get("base_model") or "unknown model"
    if adapter_used(model):
        line = f"Model: {base} with your adapter" + (f" ({model['model_id']})" if model.get("model_id") else "")
    else:
        reason = model.get("fallback_reason") or "no trained adapter yet"
        line = f"Model: {base}, without your adapter ({reason})"
    lines = [line]
    if model.get("test_model") or model.get("notice"):
        lines.append(f"Warning: {model.get('notice') or f'{base} is a test model: this text is not meaningful'}")
    return lines


def _source_line(source: dict) -> str:
    title = source.get("title") or source.get("url") or "untitled"
    platform = f" ({source['platform']})" if source.get("platform") else ""
    return f"  {title} <{source.get('url') or ''}>{platform}"


def render(response: dict) -> str:
    """The post, its sources (earlier writing and new links apart), links that could not be used,
    and the model line."""
    sources = response.get("sources") or []
    retrieved = [source for source in sources if source.get("origin") != "link"]
    linked = [source for source in sources if source.get("origin") == "link"]
    parts = [(response.get("post") or "").rstrip(), ""]
    if retrieved:
        parts += ["Sources from your earlier writing:", *map(_source_line, retrieved)]
    else:
        parts.append("No earlier writing was used.")
    if linked:
        parts += ["Sources from new links you shared:", *map(_source_line, linked)]
    unread = [link for link in response.get("links") or [] if link.get("status") not in ("ok", None)]
    if unread:
        parts.append("Links that could not be used:")
        parts += [
            f"  {link.get('url')}: {link.get('status')}" + (f": {link['error']}" if link.get("error") else "")
            for link in unread
        ]
    parts += ["", *model_lines(response.get("model") or {})]
    return "\n".join(parts)


def quality_failed(response: dict) -> bool:
    return (response.get("quality") or {}).get("passed") is False


def report_quality_failure(response: dict) -> None:
    quality = response.get("quality") or {}
    attempts = quality.get("attempts")
    after = f" (after {attempts} attempt{'s' if attempts != 1 else ''})" if attempts else ""
    console.print(f"[bold red]{QUALITY_FAILED}{after}.[/]", highlight=False)
    for problem in quality.get("problems") or []:
        console.print(f"  - {problem}", highlight=False, markup=False)
    for line in model_lines(response.get("model") or {}):
        console.print(line, highlight=False, markup=False)


# --- the command -----------------------------------------------------------------------------------


def _check_arguments(request, limits) -> None:
    from serving.schemas import request_errors

    errors = request_errors(request, limits)
    if errors:
        raise WriteError(
            "; ".join(f"{OPTION_OF_FIELD.get(error['loc'][-1], error['loc'][-1])}: {error['msg']}" for error in errors),
            2,
        )


def _config_path(settings, config: Path | None) -> Path:
    from twin.core.settings import PROJECT_ROOT

    path = config or settings.serving_config
    return path if path.is_absolute() or path.exists() else PROJECT_ROOT / path


@app.command("write")
def write_command(
    prompt: Annotated[str, typer.Argument(help="what the post is about")],
    user: Annotated[str, typer.Option("--user", "-u", help="the user's email (or numeric id)")],
    link: Annotated[list[str] | None, typer.Option("--link", "-l", help="a new link to use (repeatable)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the POST /v1/posts response as JSON")] = False,
    k: Annotated[int, typer.Option("--k", "-k", min=1, help="documents retrieved from the user's own writing")] = 5,
    max_new_tokens: Annotated[
        int | None, typer.Option("--max-new-tokens", min=1, help="generation length (default: serving's, 400)")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(min=0, max=2, help="0 = greedy (default: serving's, 0.7)")
    ] = None,
    local: Annotated[
        bool, typer.Option("--local", help="write in this process even if the serving app is running")
    ] = False,
    config: Annotated[
        Path | None, typer.Option(help="Serve config for the in-process path (default: TWIN_SERVING_CONFIG)")
    ] = None,
) -> None:
    """Write a LinkedIn post in the user's voice, with its sources and the model that wrote it.

    Uses the serving app at TWIN_SERVING_URL when it answers (`twin serve`), else the same pipeline in this process.

    Exit codes: 0 written, 1 error, 2 bad arguments, 3 no post passed the quality check.
    """
    from pydantic import ValidationError

    from serving.config import LimitsConfig, ServingConfigError
    from serving.schemas import PostRequest

    settings = settings_or_exit()
    body: dict[str, Any] = {
        "user": user.strip(),
        "prompt": prompt,
        "links": list(link or []),
        "k": k,
        "max_new_tokens": max_new_tokens,
    }
    if temperature is not None:
        body["temperature"] = temperature
    base = str(settings.serving_url).rstrip("/")
    try:
        try:
            request = PostRequest(**body)
        except ValidationError as exc:
            raise WriteError("; ".join(_validation_error(error) for error in exc.errors()), 2) from None
        use_http = not local and serving_answers(base)
        serving_config = None
        try:
            serving_config = load_serving_config(_config_path(settings, config))
        except ServingConfigError as exc:
            if not use_http:
                raise WriteError(str(exc), 2) from None
        _check_arguments(request, serving_config.limits if serving_config else LimitsConfig())
        if use_http:
            with console.status(f"your twin is writing (serving app at {base})..."):
                response = write_over_http(settings, body)
        else:
            if not local:
                console.print(f"The serving app does not answer at {base}: writing in this process.", highlight=False)
            with console.status("loading the models and writing in this process..."):
                response = write_in_process(settings, serving_config, request)
    except WriteError as exc:
        raise fail(escape(str(exc)), exc.code)

    if as_json:
        typer.echo(json.dumps(response, ensure_ascii=False, indent=2, default=str))
    if quality_failed(response):
        report_quality_failure(response)
        raise typer.Exit(EXIT_QUALITY_FAILED)
    if not as_json:
        typer.echo(render(response))
