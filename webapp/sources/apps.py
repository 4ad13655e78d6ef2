from django.apps import AppConfig


class SourcesConfig(AppConfig):
    name = "webapp.sources"
    label = "sources"
