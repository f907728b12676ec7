from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "vinex.feeds"
    label = "feeds"
