from django.urls import URLPattern, URLResolver, include, path

from vinex.portal import views

app_name = "portal"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("register/", views.register, name="register"),
    path("register/<uuid:registration_id>/verify/", views.verify, name="verify"),
    path("register/<uuid:registration_id>/done/", views.done, name="done"),
    path("manage/", views.manage, name="manage"),
    path("manage/<uuid:registration_id>/withdraw/", views.withdraw, name="withdraw"),
    path("manage/<uuid:registration_id>/", views.registration, name="registration"),
    path("i18n/", include("django.conf.urls.i18n")),
]
