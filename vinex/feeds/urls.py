from django.urls import URLPattern, URLResolver, path

from vinex.feeds import onboarding_views, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.feed_status, name="feed-status"),
    path("new", onboarding_views.feed_new, name="feed-new"),
    path("releases/", views.release_holds, name="feed-release-holds"),
    path("releases/<slug:agency_code>/", views.release_holds_decide, name="feed-release-holds-decide"),
]
