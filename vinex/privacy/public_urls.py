from django.urls import URLPattern, path

from vinex.privacy import public_views

app_name = "redress"

urlpatterns: list[URLPattern] = [
    path("report/", public_views.report, name="report"),
]
