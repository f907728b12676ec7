"""Advocate organisations in the admin site: administrators name the agencies each serves. Members are
added with ``vinex advocates member`` (which also records where alerts go); consents and escalations
are shown read-only, as records of what happened."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from vinex.advocates.models import Consent, Escalation, Membership, Organisation


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "created_at")
    search_fields = ("code", "name")
    filter_horizontal = ("agencies",)

    def get_readonly_fields(self, request: HttpRequest, obj: Organisation | None = None) -> Any:
        return ("code",) if obj is not None else ()  # registrations name it by code


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ("user", "organisation", "created_at")
    list_filter = ("organisation",)
    exclude = ("alert_contact",)


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ("registration", "organisation", "method", "text_version", "given_at")
    list_filter = ("organisation", "method")


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    list_display = ("registration", "event", "channels", "notified", "raised_at")
