from django.urls import URLPattern, URLResolver, path

from vinex.hotline import ivr

# Mounted at /webhooks/twilio/voice/ivr/: the empty path is where Twilio sends a new call.
urlpatterns: list[URLPattern | URLResolver] = [
    path("", ivr.ivr_welcome, name="ivr"),
    path("language", ivr.ivr_language, name="ivr-language"),
    path("menu", ivr.ivr_menu, name="ivr-menu"),
    path("agency", ivr.ivr_agency, name="ivr-agency"),
    path("booking", ivr.ivr_booking, name="ivr-booking"),
    path("a-number", ivr.ivr_a_number, name="ivr-a-number"),
    path("person", ivr.ivr_person, name="ivr-person"),
    path("options", ivr.ivr_options, name="ivr-options"),
    path("pin", ivr.ivr_pin, name="ivr-pin"),
    path("code", ivr.ivr_code, name="ivr-code"),
    path("left", ivr.ivr_left, name="ivr-left"),
]
