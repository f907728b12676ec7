from django.contrib import admin

from vinex.notify.models import DeliveryAttempt, DeliveryReceipt, Notification


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "worker", "started_at", "finished_at", "outcome", "error")


class ReceiptInline(admin.TabularInline):
    model = DeliveryReceipt
    extra = 0
    can_delete = False
    readonly_fields = ("provider_status", "error_code", "received_at")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """What support staff need to answer "did the victim get it?"; the body and address stay hidden."""

    list_display = ("id", "channel", "template", "language", "status", "attempts", "created_at", "sent_at",
                    "delivered_at")
    list_filter = ("status", "channel", "language")
    exclude = ("body",)
    readonly_fields = ("subscription", "event", "contact", "channel", "template", "language", "subject_line",
                       "status", "attempts", "next_attempt_at", "claimed_by", "claimed_at", "provider_id",
                       "last_error", "created_at", "sent_at", "delivered_at")
    inlines = [AttemptInline, ReceiptInline]
