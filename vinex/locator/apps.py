from django.apps import AppConfig


class LocatorConfig(AppConfig):
    name = "vinex.locator"
    label = "locator"
