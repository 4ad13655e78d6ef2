from django.apps import AppConfig


class CollectionConfig(AppConfig):
    name = "webapp.collection"
    label = "collection"
