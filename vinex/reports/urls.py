from django.urls import URLPattern, path

from vinex.reports import views

urlpatterns: list[URLPattern] = [
    path("", views.report_list, name="reports-staff"),
    path("<int:pk>/", views.report_detail, name="reports-staff-detail"),
    path("<int:pk>/approve/", views.report_approve_view, name="reports-staff-approve"),
    path("<int:pk>/files/<path:name>", views.report_file_view, name="reports-staff-file"),
]
