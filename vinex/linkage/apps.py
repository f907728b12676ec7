from django.apps import AppConfig


class LinkageConfig(AppConfig):
    name = "vinex.linkage"
    label = "linkage"
