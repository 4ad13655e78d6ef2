from django.apps import AppConfig


class DataplaneConfig(AppConfig):
    name = "webapp.dataplane"
    label = "dataplane"
    verbose_name = "Data plane (read-only)"
