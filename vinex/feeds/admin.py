"""Staff screens: the review queue of held roster snapshots, feed settings, alert recipients, connectors."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from vinex.feeds.models import AgencyFeed, FacilityFeed, FeedAlert, FeedAlertRecipient, PullSource, Snapshot
from vinex.feeds.services import SnapshotDecisionError, snapshot_approve, snapshot_reject


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    list_display = ("id", "facility", "received_at", "origin", "status", "booked", "released", "transferred",
                    "unchanged", "error_count", "decided_by", "decided_at")
    list_filter = ("status", "facility__agency", "origin")
    ordering = ("-received_at",)
    actions = ("apply_held", "reject_held")
    exclude = ("errors", "summary", "reasons", "header")
    readonly_fields = ("facility", "received_at", "origin", "content_hash", "status", "row_count", "error_count",
                       "booked", "released", "transferred", "unchanged", "decided_by", "decided_at",
                       "decision_note", "why_held", "what_would_change", "header_text", "row_errors")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_review_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("feeds.review_snapshot"))

    @admin.display(description="Why it was held")
    def why_held(self, obj: Snapshot) -> str:
        return "; ".join(obj.reasons) or "—"

    @admin.display(description="What applying it changes")
    def what_would_change(self, obj: Snapshot) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.summary, indent=2))

    @admin.display(description="Header")
    def header_text(self, obj: Snapshot) -> str:
        return ", ".join(obj.header)

    @admin.display(description="Row errors (first ones)")
    def row_errors(self, obj: Snapshot) -> str:
        lines = [f"{' '.join(str(p) for p in e['loc'])}: {e['msg']}" for e in obj.errors[:200]]
        return format_html("<pre>{}</pre>", "\n".join(lines) or "—")

    @admin.action(description="Apply the selected held snapshots (sends notifications)", permissions=["review"])
    def apply_held(self, request: HttpRequest, queryset: QuerySet[Snapshot]) -> None:
        self._decide(request, queryset, snapshot_approve, "applied")

    @admin.action(description="Reject the selected held snapshots", permissions=["review"])
    def reject_held(self, request: HttpRequest, queryset: QuerySet[Snapshot]) -> None:
        self._decide(request, queryset, snapshot_reject, "rejected")

    def _decide(self, request: HttpRequest, queryset: QuerySet[Snapshot], decide: Any, verb: str) -> None:
        for snapshot in queryset.order_by("received_at"):
            try:
                decide(snapshot=snapshot, user=request.user)
            except SnapshotDecisionError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, f"snapshot {snapshot.pk} {verb}", messages.SUCCESS)


@admin.register(AgencyFeed)
class AgencyFeedAdmin(admin.ModelAdmin):
    list_display = ("agency", "cadence_seconds")


@admin.register(FacilityFeed)
class FacilityFeedAdmin(admin.ModelAdmin):
    list_display = ("facility", "monitored", "cadence_seconds", "last_snapshot_at", "last_event_at")
    readonly_fields = ("last_snapshot_at", "last_event_at")


@admin.register(FeedAlertRecipient)
class FeedAlertRecipientAdmin(admin.ModelAdmin):
    list_display = ("id", "agency", "contact")
    raw_id_fields = ("contact",)


@admin.register(FeedAlert)
class FeedAlertAdmin(admin.ModelAdmin):
    list_display = ("facility", "silent_since", "raised_at", "notified")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(PullSource)
class PullSourceAdmin(admin.ModelAdmin):
    # Settings are checked against the kind's schema when saved (PullSource.clean), here as everywhere.
    list_display = ("facility", "kind", "location", "enabled", "interval_seconds", "last_success_at", "failures",
                    "last_error", "identity_note")
    list_filter = ("kind", "enabled")
    readonly_fields = ("next_run_at", "last_run_at", "last_success_at", "failures", "last_error", "etag",
                       "last_modified", "identity_note")
