"""What every ``twin`` command shares: the console, errors that exit, and settings loading."""

from __future__ import annotations

import typer
from rich.console import Console

from twin.core.settings import SettingsError, get_settings

console = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def settings_or_exit():
    try:
        return get_settings()
    except SettingsError as exc:
        raise fail(str(exc), 2)


def service_settings(*required: str, component: str):
    """Settings for a command that starts a service: on the embedded database (a local installation)
    random secrets are generated once into $TWIN_HOME/secrets.env; the shipped defaults of
    ``required`` are refused unless TWIN_DEBUG is on."""
    from twin.core.local_secrets import local_settings
    from twin.core.settings import require_secrets

    settings_or_exit()  # invalid settings: a clear error first
    settings = local_settings()
    try:
        require_secrets(settings, *required, component=component)
    except SettingsError as exc:
        raise fail(str(exc), 2)
    return settings


AIRFLOW_SECRETS = ("airflow_password", "secret_key", "database_url", "airflow_jwt_secret", "airflow_broker_url")
WEB_SECRETS = ("secret_key", "serving_token", "database_url")
SERVING_SECRETS = ("serving_token", "database_url")


def where_password(settings) -> str:
    from twin.core.local_secrets import read_local_secret, secrets_path

    if read_local_secret(settings, "TWIN_AIRFLOW_PASSWORD") == settings.airflow_password.get_secret_value():
        return f"generated, in {secrets_path(settings)}"
    return "as set in your environment"
