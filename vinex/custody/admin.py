from django.contrib import admin

from vinex.custody.models import Agency, ApiKey, CustodyEvent, Facility, Subject


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "jurisdiction_code")
    search_fields = ("code", "name")


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
