from django.apps import AppConfig


class ComposeConfig(AppConfig):
    name = "webapp.compose"
    label = "compose"
