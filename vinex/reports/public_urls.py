from django.urls import URLPattern, path

from vinex.reports import public_views

app_name = "reports"

urlpatterns: list[URLPattern] = [
    path("", public_views.reports, name="list"),
    path("<str:quarter>/<path:name>", public_views.report_file_public, name="file"),
]
