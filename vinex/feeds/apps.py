from django.apps import AppConfig


class FeedsConfig(AppConfig):
    name = "vinex.feeds"
    label = "feeds"

    def ready(self) -> None:
        from vinex.feeds import receivers  # noqa: F401  (connects the operational alerts it delivers)
