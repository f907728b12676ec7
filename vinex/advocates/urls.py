from django.urls import URLPattern, URLResolver, path

from vinex.advocates import views

app_name = "advocates"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.caseload, name="caseload"),
    path("register/", views.register, name="register"),
    path("register/submit", views.register_submit, name="register_submit"),
    path("cases/<str:public_id>/", views.case_detail, name="case"),
    path("cases/<str:public_id>/code", views.case_code, name="case_code"),
    path("cases/<str:public_id>/resend", views.case_resend, name="case_resend"),
]
