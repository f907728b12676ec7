from django.urls import path

from vinex.privacy import misuse_views, views

urlpatterns = [
    path("review/", views.review_queue, name="privacy-review"),
    path("review/<uuid:public_id>/", views.review_decide, name="privacy-review-decide"),
    path("reports/", views.reports_open, name="privacy-reports"),
    path("reports/<uuid:public_id>/", views.report_detail, name="privacy-report"),
    path("denials/", views.denials, name="privacy-denials"),
    path("cases/", views.cases_to_check, name="privacy-cases"),
    path("cases/<uuid:public_id>/", views.case_decide, name="privacy-case-decide"),
    path("subscriptions/<int:pk>/<str:action>/", views.subscription_suspension, name="privacy-subscription"),
    path("alerts/", misuse_views.alerts, name="privacy-alerts"),
    path("alerts/<uuid:public_id>/", misuse_views.alert_detail, name="privacy-alert"),
]
