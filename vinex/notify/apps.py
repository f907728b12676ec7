from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "vinex.notify"
    label = "notify"
    verbose_name = "Notifications"
