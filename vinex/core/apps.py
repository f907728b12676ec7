from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "vinex.core"
    label = "core"
    verbose_name = "vinex core"
