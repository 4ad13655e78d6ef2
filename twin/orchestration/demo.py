"""`twin demo`: the whole twin on the bundled sample persona, and `twin up` without it.

The demo serves the persona (demo/persona) on a local sample site, creates the demo user with
their sources and LinkedIn export, runs `twin_collect` through Airflow, waits for the
`twin_finetune` run that the new training data triggers, then starts Ray Serve and the web app.
With ``headless`` it asks the twin for one post, prints it, and stops everything.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from twin.core.settings import PROJECT_ROOT, Settings
from twin.core.user_tokens import authorization_header

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "twin-demo-password"
DEMO_PROMPT = "Write a post about why we review runbooks like code, and what small pull requests taught us."

Say = Callable[[str], None]


class DemoError(RuntimeError):
    pass


@dataclass
class StepTimer:
    """Where the time goes: each step's wall time, printed at the end."""

    steps: list[tuple[str, float]] = field(default_factory=list)
    _started: float = field(default_factory=time.perf_counter)

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.steps.append((name, now - self._started))
        self._started = now

    def report(self) -> str:
        total = sum(seconds for _, seconds in self.steps)
        lines = [f"  {name:<42} {seconds:7.1f} s" for name, seconds in self.steps]
        return "\n".join([*lines, f"  {'total':<42} {total:7.1f} s"])


def prepare_database(settings: Settings) -> tuple[str, bool]:
    """Start the embedded server if it is the one in use, migrate; returns (URL, whether we started it)."""
    from twin.core.db import embedded_server, prepare_server
    from twin.core.migrate import migrate

    started = settings.uses_embedded_db and not embedded_server(settings).status().running
    url = prepare_server(settings)
    migrate(url, settings)
    return url, started


def stop_database_if_started(settings: Settings, started: bool) -> None:
    from twin.core.db import embedded_server

    if started:
        embedded_server(settings).stop()


def ensure_demo_user(database_url: str) -> int:
    """The demo user (a Django admin too); created once, found afterwards."""
    from twin.core.db import get_engine
    from twin.core.users import UserNotFound, create_user, user_id_for_email

    with get_engine().connect() as conn:
        try:
            return user_id_for_email(conn, DEMO_EMAIL)
        except UserNotFound:
            pass
    user_id, _ = create_user(DEMO_EMAIL, DEMO_PASSWORD, database_url, admin=True)
    return user_id


def add_sources(sources: list[tuple[str, str]], env: dict[str, str]) -> None:
    """Through the web app's own validation (a management command: nothing here imports Django)."""
    for platform, url in sources:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "webapp.manage",
                "twin_source_add",
                DEMO_EMAIL,
                platform,
                url,
                "--own",
            ],  # the persona's publications hold only the persona's writing
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise DemoError(f"could not add the source {url}: {result.stderr.strip().splitlines()[-1:]}")


def pause_demo_sources(env: dict[str, str]) -> int:
    """`twin up`: the demo user's sources point at `twin demo`'s sample site, which runs only with the
    demo; they are paused so that collection does not try sources it cannot reach (the demo resumes them)."""
    result = subprocess.run(
        [sys.executable, "-m", "webapp.manage", "twin_sources_pause", DEMO_EMAIL],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise DemoError(f"could not pause the demo user's sources: {result.stderr.strip().splitlines()[-1:]}")
    return int(result.stdout.split()[1]) if result.stdout.startswith("paused ") else 0


def import_linkedin(site, user_id: int) -> dict:
    from crawlers.importers import import_export

    summary = import_export("linkedin", site.linkedin_export_zip(), user_id)
    return summary.counts


def end_leftover_runs(client, say: Say, dag_ids: tuple[str, ...] = ("twin_collect", "twin_finetune")) -> None:
    """Runs an interrupted demo left queued or running would hold up this one (one active run per DAG)."""
    for dag_id in dag_ids:
        for run in client.list_runs(dag_id, limit=100):
            if run.state in ("queued", "running"):
                client.set_run_state(dag_id, run.dag_run_id, "failed")
                say(f"ended the leftover {dag_id} run {run.dag_run_id}")


def run_collect(client, user_id: int, say: Say, timeout: float = 1800.0) -> str:
    run = client.trigger("twin_collect", {"user_id": user_id})
    say(f"twin_collect run {run.dag_run_id} started (watch it in the Airflow UI)")
    run = client.wait("twin_collect", run.dag_run_id, timeout=timeout, poll=2)
    failed = [task.task_id for task in client.task_states("twin_collect", run.dag_run_id) if task.state == "failed"]
    if run.state != "success" or failed:
        raise DemoError(
            f"twin_collect ended {run.state} (failed tasks: {failed or 'none'}): "
            "see the Airflow UI or $TWIN_HOME/airflow/logs"
        )
    return run.dag_run_id


def wait_for_finetune(client, user_id: int, known_runs: set[str], say: Say, timeout: float = 1800.0) -> str:
    """The twin_finetune run that twin_collect's new training data triggered (started by hand if none shows up)."""
    deadline = time.monotonic() + 120
    while True:
        new_runs = [run for run in client.list_runs("twin_finetune") if run.dag_run_id not in known_runs]
        if new_runs:
            run = new_runs[-1]
            say(f"twin_finetune run {run.dag_run_id} was triggered by the new training data")
            break
        if time.monotonic() > deadline:
            run = client.trigger("twin_finetune", {"user_id": user_id})
            say(f"twin_finetune run {run.dag_run_id} started")
            break
        time.sleep(2)
    run = client.wait("twin_finetune", run.dag_run_id, timeout=timeout, poll=3)
    if run.state != "success":
        raise DemoError(f"twin_finetune ended {run.state}: see the Airflow UI or $TWIN_HOME/airflow/logs")
    return run.dag_run_id


def ask_for_a_post(
    settings: Settings,
    prompt: str = DEMO_PROMPT,
    *,
    links: list[str] | None = None,
    adapter: bool = True,
    max_new_tokens: int = 160,
) -> dict:
    """``POST /v1/posts`` for the demo user (``adapter=False``: the base model alone, same prompt and sources)."""
    response = httpx.post(
        f"{str(settings.serving_url).rstrip('/')}/v1/posts",
        headers=authorization_header(settings.serving_token.get_secret_value(), DEMO_EMAIL, issuer="twin-demo"),
        json={
            "user": DEMO_EMAIL,
            "prompt": prompt,
            "links": links or [],
            "k": 4,
            "max_new_tokens": max_new_tokens,
            "adapter": adapter,
        },
        timeout=900,
    )
    if response.status_code != 200:
        raise DemoError(f"serving answered {response.status_code}: {response.text[:500]}")
    return response.json()


def latest_training(user_id: int) -> dict:
    """The demo user's newest finished run: its status and metrics (from the registry)."""
    from twin.core.db import get_engine
    from twin.core.model_registry import list_models

    with get_engine().connect() as conn:
        finished = [record for record in list_models(conn, user_id) if record.status in ("active", "ready")]
    if not finished:
        raise DemoError("twin_finetune left no finished model in the registry")
    record = finished[0]  # newest first
    return {"model_id": str(record.model_id), "status": record.status, "metrics": record.metrics or {}}


def _number(value, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _change(new, old) -> str:
    if new is None or old is None or old <= 0:
        return ""
    return f"  ({(new - old) / old:+.0%})"


def training_report(training: dict) -> str:
    """Base vs tuned on the held-out split: the author's perplexity, the control's, the style score."""
    metrics = training["metrics"]
    evaluation = metrics.get("evaluation") or {}
    base, tuned = evaluation.get("base") or {}, evaluation.get("tuned") or {}
    run = metrics.get("training") or {}
    dataset = metrics.get("dataset") or {}
    rows = [
        ("author perplexity (held-out, lower is better)", base.get("perplexity"), tuned.get("perplexity"), 1),
        (
            "control perplexity (another author's text)",
            base.get("control_perplexity"),
            tuned.get("control_perplexity"),
            1,
        ),
        (
            "style score of generations (higher is better)",
            base.get("style", {}).get("score"),
            tuned.get("style", {}).get("score"),
            3,
        ),
    ]
    lines = [
        f"Fine-tuned model {training['model_id']} ({training['status']}), base "
        f"{metrics.get('base_model_name', '?')}: {dataset.get('train_samples', '?')} training samples, "
        f"{run.get('global_step', '?')} steps in {_number(run.get('train_seconds'), 0)} s"
        + (" (stopped by the time limit)" if run.get("stopped_by_time_limit") else "")
    ]
    for label, before, after, digits in rows:
        change = _change(after, before) if digits == 1 else ""
        lines.append(f"  {label:<47} base {_number(before, digits):>7}  tuned {_number(after, digits):>7}{change}")
    return "\n".join(lines)


def describe_post(title: str, answer: dict) -> str:
    """A post as the demo prints it: which model wrote it, the text (or why there is none), its quality."""
    model = answer.get("model") or {}
    quality = answer.get("quality") or {}
    who = model.get("base", "?") + (
        f" + adapter {model.get('model_id')}"
        if model.get("adapter_used")
        else f" alone ({model.get('fallback_reason') or 'no adapter'})"
    )
    lines = [f"{title} [{who}]"]
    if answer.get("post"):
        lines.append(answer["post"])
        if quality.get("perplexity") is not None:
            lines.append(
                f"(quality check passed: perplexity {quality['perplexity']:.0f} under the base, at most "
                f"{quality.get('threshold') or 0:.0f}; {quality.get('attempts', 1)} draft(s))"
            )
    else:
        lines.append("No post: no draft passed the quality check: " + "; ".join(quality.get("problems") or []))
    return "\n".join(lines)
