from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "vinex.accounts"
    label = "accounts"
