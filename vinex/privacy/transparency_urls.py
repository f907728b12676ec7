from django.urls import URLPattern, path

from vinex.privacy import transparency_views

app_name = "transparency"

urlpatterns: list[URLPattern] = [
    path("transparency/", transparency_views.transparency, name="page"),
    path("transparency.json", transparency_views.transparency_json, name="json"),
]
