from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The composition layer: what puts the apps together (processes, demo data, metrics, health). It may
    import any app."""

    name = "vinex.site"
    label = "site"
    verbose_name = "vinex site"
