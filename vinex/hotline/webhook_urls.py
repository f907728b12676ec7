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
    # The call centre's phone and the registered caller's menu.
    path("dialled", ivr.ivr_dialled, name="ivr-dialled"),
    path("agent", ivr.ivr_agent, name="ivr-agent"),
    path("mine", ivr.ivr_mine, name="ivr-mine"),
    path("mine-choice", ivr.ivr_mine_choice, name="ivr-mine-choice"),
    path("mine-calls", ivr.ivr_mine_calls, name="ivr-mine-calls"),
    path("mine-withdraw", ivr.ivr_mine_withdraw, name="ivr-mine-withdraw"),
]
