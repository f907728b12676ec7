from django.apps import AppConfig


class CustodyConfig(AppConfig):
    name = "vinex.custody"
    label = "custody"
    verbose_name = "Custody"
