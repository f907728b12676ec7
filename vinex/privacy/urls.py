from django.urls import path

from vinex.privacy import views

urlpatterns = [
    path("review/", views.review_queue, name="privacy-review"),
    path("review/<uuid:public_id>/", views.review_decide, name="privacy-review-decide"),
]
