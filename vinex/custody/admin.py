from typing import Any

from django import forms
from django.contrib import admin

from vinex.audit.unit import Actor, audit_unit
from vinex.custody.models import Agency, ApiKey, CustodyEvent, Facility, Subject
from vinex.policy.sharing import sharing_policy_parse


class AgencyForm(forms.ModelForm):
    class Meta:
        model = Agency
        fields = ("code", "name", "jurisdiction_code", "sharing_policy", "public_locator", "support_name",
                  "support_phone")
        help_texts = {
            "sharing_policy": 'Only what is allowed is shared, e.g. {"allow_partners": ["*"], "allow_purposes": '
                              '["victim_notification", "court"], "deny_partners": ["ice-ero"]}.',
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A form that leaves the public-locator switch out keeps the agency's current setting.
        self.fields["public_locator"].required = False

    def clean_public_locator(self) -> str:
        return str(self.cleaned_data.get("public_locator") or self.instance.public_locator)

    def clean_sharing_policy(self) -> Any:
        raw = self.cleaned_data["sharing_policy"]
        try:
            policy = sharing_policy_parse(raw)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from None
        return policy.model_dump(mode="json", exclude_defaults=True)


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    form = AgencyForm
    list_display = ("code", "name", "jurisdiction_code")
    search_fields = ("code", "name")

    def save_model(self, request: Any, obj: Agency, form: forms.ModelForm, change: bool) -> None:
        with audit_unit(actor=Actor.staff(f"user:{request.user.pk}")) as unit:
            super().save_model(request, obj, form, change)
            if {"sharing_policy", "public_locator"} & set(form.changed_data):
                # Who opened or closed an agency's data to partners is a permission change: audit it.
                unit.add("permission_change", "agency_sharing_policy", obj.code)


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "agency", "timezone")
    list_filter = ("agency",)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "agency", "name", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "secret_hash", "created_at", "last_used_at")


@admin.register(Subject)
class SubjectAdmin(admin.ModelAdmin):
    list_display = ("agency_subject_id", "agency", "status", "facility", "protected")
    list_filter = ("agency", "status", "protected")
    readonly_fields = ("status", "status_reason", "facility", "status_changed_at", "scheduled_release_at",
                       "last_event_at")


@admin.register(CustodyEvent)
class CustodyEventAdmin(admin.ModelAdmin):
    list_display = ("event_id", "agency", "type", "occurred_at", "received_at", "source", "notified")
    list_filter = ("agency", "type", "source")

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # append-only

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
