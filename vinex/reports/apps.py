from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "vinex.reports"
    label = "reports"
    verbose_name = "Quarterly reports"

    def ready(self) -> None:
        # Rejected events are counted as they happen: nothing else keeps them, and reports need the count.
        from vinex.reports import receivers  # noqa: F401
