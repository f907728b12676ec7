from django.urls import URLPattern, URLResolver, path

from vinex.feeds import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.feed_status, name="feed-status"),
]
