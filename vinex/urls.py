from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path

from vinex.api import api
from vinex.feeds import public_views as feeds_public
from vinex.hotline import ivr as hotline_ivr
from vinex.notify import views as notify_views
from vinex.notify import webhooks
from vinex.site import views as site_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", site_views.api_not_found),
    path("healthz", site_views.healthz, name="healthz"),
    path("metrics", site_views.metrics, name="metrics"),
    path("webhooks/twilio/status", webhooks.twilio_status, name="twilio-status"),
    path("webhooks/twilio/sms", webhooks.twilio_inbound_sms, name="twilio-sms"),
    path("webhooks/twilio/voice", webhooks.twilio_voice, name="twilio-voice"),
    path("webhooks/twilio/voice/pin", webhooks.twilio_voice_pin, name="twilio-voice-pin"),
    path("webhooks/twilio/voice/status", webhooks.twilio_voice_status, name="twilio-voice-status"),
    path("unsubscribe/<str:token>/", notify_views.unsubscribe, name="unsubscribe"),
    path("staff/outbox/", site_views.mail_outbox, name="mail-outbox"),
    path("status/", feeds_public.public_status, name="public-status"),
    path("admin/", admin.site.urls),
    path("staff/", include("vinex.accounts.urls")),
    path("staff/audit/", include("vinex.audit.urls")),
    path("staff/feeds/", include("vinex.feeds.urls")),
    path("staff/hotline/", include("vinex.hotline.urls")),
    path("staff/privacy/", include("vinex.privacy.urls")),
    path("staff/linkage/", include("vinex.linkage.urls")),
    path("staff/advocate/", include("vinex.advocates.urls")),
    path("staff/reports/", include("vinex.reports.urls")),  # quarterly reports: generate, read, approve
    path("reports/", include("vinex.reports.public_urls")),  # approved quarterly reports, public
    # DESIGN.md names the IVR entry point without a trailing slash; its steps live under it.
    path("webhooks/twilio/voice/ivr", hotline_ivr.ivr_welcome, name="twilio-voice-ivr"),
    path("webhooks/twilio/voice/ivr/", include("vinex.hotline.webhook_urls")),
    path("", include("vinex.locator.urls")),
    path("", include("vinex.portal.urls")),
    path("", include("vinex.privacy.public_urls")),
    path("", include("vinex.privacy.transparency_urls")),  # sharing policies and partner-access counts, public
]
