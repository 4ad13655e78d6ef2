"""The web app's Airflow client, configured from Django settings (collections and uploads both
start Airflow runs)."""

from __future__ import annotations

from django.conf import settings

from twin.orchestration.airflow_client import AirflowClient


def airflow_client() -> AirflowClient:
    return AirflowClient(
        settings.TWIN_AIRFLOW_URL,
        settings.TWIN_AIRFLOW_USER,
        settings.TWIN_AIRFLOW_PASSWORD,
        timeout=settings.TWIN_AIRFLOW_TIMEOUT_S,
    )
