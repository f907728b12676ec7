from django.apps import AppConfig


class HotlineConfig(AppConfig):
    name = "vinex.hotline"
    label = "hotline"
