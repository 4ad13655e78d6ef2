"""``twin up`` (every service, for real use) and ``twin demo`` (the same on the sample persona)."""

from __future__ import annotations

import os
import signal
import time
from typing import Annotated

import typer

from twin.cli.common import (
    AIRFLOW_SECRETS,
    SERVING_SECRETS,
    WEB_SECRETS,
    console,
    fail,
    service_settings,
    where_password,
)

app = typer.Typer()

STACK_SECRETS = tuple(dict.fromkeys(AIRFLOW_SECRETS + WEB_SECRETS + SERVING_SECRETS))


def _print_urls(settings, web_url: str, serving_url: str, ray_address: str | None, login: str | None = None) -> None:
    lines = [
        f"web app        {web_url}/" + (f"   (log in as {login})" if login else "   (sign up, or `twin user create`)"),
        f"Airflow        {str(settings.airflow_url).rstrip('/')}/   (log in as {settings.airflow_user} / "
        f"TWIN_AIRFLOW_PASSWORD, {where_password(settings)})",
        f"serving API    {serving_url}/docs   (a user token signed with TWIN_SERVING_TOKEN)",
    ]
    if settings.ray_dashboard or settings.ray_address:
        lines.append(
            f"Ray dashboard  {str(settings.ray_dashboard_url).rstrip('/')}/   (serving, training runs and jobs)"
        )
    if ray_address and not settings.ray_address:
        lines.append(f"Ray            {ray_address}   (one Ray for every service; `twin train` by hand joins it too)")
    console.print("\n".join(lines), highlight=False)


def fail_interrupted_training() -> list:
    """Registry rows a crash left ``training`` (nothing trains before the stack is up)."""
    from training.registry import fail_interrupted
    from twin.core.db import get_engine

    with get_engine().begin() as conn:
        return fail_interrupted(conn)


def _stop_on_sigterm() -> None:
    """SIGTERM stops the services like Ctrl-C does (the `finally` below runs)."""

    def interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _run_until_interrupted(stack) -> None:
    console.print("Ctrl-C stops every service.")
    while not (dead := stack.dead()):
        time.sleep(1)
    raise fail(f"{', '.join(dead)} stopped unexpectedly; logs are in {stack.log_dir}")


@app.command("up")
def up() -> None:
    """Start everything for real use: database, one Ray, Airflow, Ray Serve and the web app (no demo data).

    Every service joins the same local Ray (started first, dashboard on TWIN_RAY_DASHBOARD_URL):
    the serving app, the training runs of the twin_finetune DAG, and `twin train` run by hand.
    """
    from twin.core.db import DatabaseUnavailable, EmbeddedPostgresError
    from twin.core.migrate import MigrationError
    from twin.orchestration.airflow import AirflowError
    from twin.orchestration.demo import DemoError, pause_demo_sources, prepare_database, stop_database_if_started
    from twin.orchestration.stack import Stack, StackError

    settings = service_settings(*STACK_SECRETS, component="twin up")
    stack = Stack.create(settings)
    started_database = False
    _stop_on_sigterm()
    try:
        with console.status("database and migrations..."):
            _, started_database = prepare_database(settings)
            paused = pause_demo_sources(stack.env)
            interrupted = fail_interrupted_training()
        for model_id in interrupted:
            console.print(
                f"training run {model_id} was interrupted when the stack last stopped: marked failed "
                f"(`twin train --resume {model_id}` continues it)",
                highlight=False,
            )
        if paused:
            console.print(
                f"paused {paused} source(s) of the demo user: they point at `twin demo`'s sample site, "
                "which only runs with the demo (`twin demo` resumes them)",
                highlight=False,
            )
        with console.status("starting Ray..."):
            stack.start_ray()
        with console.status("starting Airflow, Ray Serve (loading models) and the web app..."):
            web_url, serving_url = stack.start_services()
        _print_urls(settings, web_url, serving_url, stack.ray_address)
        _run_until_interrupted(stack)
    except (StackError, AirflowError, MigrationError, DatabaseUnavailable, EmbeddedPostgresError, DemoError) as exc:
        raise fail(str(exc))
    except KeyboardInterrupt:
        console.print("stopping...")
    finally:
        stack.stop()
        stop_database_if_started(settings, started_database)


@app.command("demo")
def demo(
    headless: Annotated[
        bool, typer.Option("--headless", help="print the comparison, stop everything and exit")
    ] = False,
    site_port: Annotated[int, typer.Option(help="port of the local sample site serving the persona")] = 8765,
) -> None:
    """The whole twin on the bundled sample persona: collect through Airflow, train, serve, web app.

    Starts a local sample site with the persona's LinkedIn export, Medium feed, Substack and GitHub
    repository; creates the demo user; runs twin_collect, then the twin_finetune run it triggers
    (on TWIN_BASE_MODEL, by default the shipped SmolLM2-135M-Instruct); starts Ray Serve and the web
    app; prints base vs tuned held-out perplexities (author and control) and style scores, then a
    post from the base model and one from the tuned twin for the same prompt and link; then the URLs
    and the demo login, and where the time went.
    """
    from demo.site import SampleSite
    from twin.core.settings import get_settings
    from twin.orchestration.airflow import AirflowError
    from twin.orchestration.airflow_client import AirflowClient, AirflowRejected, AirflowUnavailable
    from twin.orchestration.demo import (
        DEMO_EMAIL,
        DEMO_PASSWORD,
        DEMO_PROMPT,
        DemoError,
        StepTimer,
        add_sources,
        ask_for_a_post,
        describe_post,
        end_leftover_runs,
        ensure_demo_user,
        import_linkedin,
        latest_training,
        prepare_database,
        run_collect,
        stop_database_if_started,
        training_report,
        wait_for_finetune,
    )
    from twin.orchestration.stack import Stack, StackError

    service_settings(*STACK_SECRETS, component="the demo")
    timer = StepTimer()
    site = SampleSite(port=site_port).start()
    demo_env = {**site.crawl_env(polite=False), "TWIN_ALLOW_PRIVATE_URLS": "true", "TWIN_COLLECT_SCHEDULE": "none"}
    os.environ.update(demo_env)
    get_settings.cache_clear()
    settings = get_settings()
    stack = Stack.create(settings)
    say = lambda message: console.print(f"  {message}", highlight=False)  # noqa: E731
    started_database = False
    _stop_on_sigterm()
    try:
        with console.status("database and migrations..."):
            database_url, started_database = prepare_database(settings)
            fail_interrupted_training()
        timer.done("database + migrations")
        with console.status("starting Ray..."):
            stack.start_ray()
        timer.done("Ray start")
        with console.status("demo user, sources and LinkedIn export..."):
            user_id = ensure_demo_user(database_url)
            add_sources(site.sources(), stack.env)
            counts = import_linkedin(site, user_id)
        say(f"demo user {DEMO_EMAIL} (id {user_id}); LinkedIn export: {counts}")
        timer.done("demo user, sources, LinkedIn import")
        with console.status("starting Airflow..."):
            stack.start_airflow()
        timer.done("Airflow start")
        with AirflowClient.from_settings(settings) as client:
            for dag_id in ("twin_collect", "twin_finetune"):
                client.unpause(dag_id, wait_for_parsing=180)
            end_leftover_runs(client, say)
            known = {run.dag_run_id for run in client.list_runs("twin_finetune")}
            with console.status("collecting through Airflow (twin_collect)..."):
                run_collect(client, user_id, say)
            timer.done("twin_collect (crawl, dbt build, embed)")
            with console.status("training the twin (twin_finetune)..."):
                wait_for_finetune(client, user_id, known, say)
            timer.done("twin_finetune (export, Ray Train, evaluate)")
        with console.status("starting Ray Serve (loading models)..."):
            serving_url = stack.start_serving()
        timer.done("Ray Serve start")
        with console.status("starting the web app..."):
            web_url = stack.start_web()
        timer.done("web app start")
        console.print("\n" + training_report(latest_training(user_id)), highlight=False)
        links = [site.shared_article_url]
        console.print(
            f"\nThe same prompt and sources for the base model and for the twin:\n  {DEMO_PROMPT}\n"
            f"  new link: {links[0]}",
            highlight=False,
        )
        with console.status("the base model writes a post..."):
            base_answer = ask_for_a_post(settings, links=links, adapter=False)
        timer.done("a post from the base model")
        console.print("\n" + describe_post("Base model", base_answer), highlight=False)
        with console.status("the twin writes a post..."):
            answer = ask_for_a_post(settings, links=links)
            if not answer["post"].strip():  # every draft rejected: ask again, as a user would
                console.print("\n" + describe_post("Your twin", answer) + "\nAsking again.", highlight=False)
                answer = ask_for_a_post(settings, links=links)
        timer.done("a post from the twin")
        console.print("\n" + describe_post("Your twin", answer), highlight=False)
        console.print(
            "Sources:\n"
            + "\n".join(f"  - {s['title']} <{s['url']}> ({s['origin']}, {s['platform']})" for s in answer["sources"]),
            highlight=False,
        )
        if headless:
            console.print(f"\nWhere the time went:\n{timer.report()}", highlight=False)
            if not answer["post"].strip() or not answer["sources"]:
                raise DemoError("the twin wrote no post that passes the quality check, or cited no sources")
            return
        console.print(f"\nThe demo is ready. Where the time went:\n{timer.report()}\n", highlight=False)
        _print_urls(settings, web_url, serving_url, stack.ray_address, login=f"{DEMO_EMAIL} / {DEMO_PASSWORD}")
        console.print(f"sample site    {site.base}/", highlight=False)
        _run_until_interrupted(stack)
    except (StackError, DemoError, AirflowError, AirflowRejected, AirflowUnavailable, TimeoutError) as exc:
        raise fail(str(exc))
    except KeyboardInterrupt:
        console.print("stopping...")
    finally:
        stack.stop()
        site.stop()
        stop_database_if_started(settings, started_database)
