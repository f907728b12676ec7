"""The project's URLs plus the phone menu's entry without a trailing slash, as vinex/urls.py should mount it."""

from django.urls import URLPattern, URLResolver, path

from vinex.hotline import ivr
from vinex.urls import urlpatterns as project

urlpatterns: list[URLPattern | URLResolver] = [
    path("webhooks/twilio/voice/ivr", ivr.ivr_welcome, name="ivr-entry"),
    *project,
]
