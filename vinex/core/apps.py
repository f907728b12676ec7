from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "vinex.core"
    label = "core"
    verbose_name = "vinex core"

    def ready(self) -> None:
        from vinex.core.connections import read_times_compiled, skip_fresh_health_checks

        skip_fresh_health_checks()
        read_times_compiled()
