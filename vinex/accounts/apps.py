from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AccountsConfig(AppConfig):
    name = "vinex.accounts"
    label = "accounts"
    default = True

    def ready(self) -> None:
        from vinex.accounts import signals

        signals.connect()


class VinexAdminConfig(admin_apps.AdminConfig):
    """``django.contrib.admin`` with vinex's MFA-protected site as ``admin.site``
    (listed in INSTALLED_APPS in place of ``django.contrib.admin``)."""

    default = False
    default_site = "vinex.accounts.admin_site.VinexAdminSite"
