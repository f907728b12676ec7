from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "vinex.audit"
    label = "audit"
