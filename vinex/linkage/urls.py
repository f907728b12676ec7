from django.urls import path

from vinex.linkage import views

urlpatterns = [
    path("", views.queue, name="linkage-queue"),
    path("pairs/<int:item_id>/", views.pair, name="linkage-pair"),
    path("links/<int:decision_id>/", views.link, name="linkage-link"),
]
