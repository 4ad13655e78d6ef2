from django.conf import settings


def twin_links(request):
    """Links to the other components' own UIs, for the page footer and the Twin page."""
    return {"airflow_ui_url": settings.TWIN_AIRFLOW_URL, "ray_dashboard_url": settings.TWIN_RAY_DASHBOARD_URL}
