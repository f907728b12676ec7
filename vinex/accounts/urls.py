from django.urls import URLPattern, URLResolver, path

from vinex.accounts import views

app_name = "accounts"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("login/", views.StaffLoginView.as_view(), name="login"),
    path("enrol/", views.enrol, name="enrol"),
    path("logout/", views.logout_view, name="logout"),
]
