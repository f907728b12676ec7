from django.apps import AppConfig


class AdvocatesConfig(AppConfig):
    name = "vinex.advocates"
    label = "advocates"
