from django.urls import URLPattern, URLResolver, path

from vinex.audit import views

app_name = "audit"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.search, name="search"),
]
