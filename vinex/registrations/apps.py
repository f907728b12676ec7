from django.apps import AppConfig


class RegistrationsConfig(AppConfig):
    name = "vinex.registrations"
    label = "registrations"
