from django.contrib import admin
from django.http import HttpRequest

from vinex.audit.models import AuditCheckpoint


class _ReadOnly(admin.ModelAdmin):
    """Checkpoints are written only by vinex.audit.services: the admin may look, not touch.

    Entries are not in the admin at all: reading them goes through the search page, which records it.
    """

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(_ReadOnly):
    list_display = ("tree_size", "signed_at", "key_id", "root_hash")
