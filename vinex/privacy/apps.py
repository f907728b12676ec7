from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "vinex.privacy"
    label = "privacy"
    verbose_name = "Privacy"
