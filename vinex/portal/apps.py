from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "vinex.portal"
    label = "portal"
