from django.apps import AppConfig


class TwinsConfig(AppConfig):
    name = "webapp.twins"
    label = "twins"
    verbose_name = "Twin models"
