from django.urls import URLPattern, URLResolver, path

from vinex.hotline import caller_views, views

app_name = "hotline"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.queue, name="queue"),
    path("calls/new", views.call_new, name="call_new"),
    path("calls/<int:pk>/", views.call_detail, name="call"),
    path("calls/<int:pk>/take", views.call_take, name="call_take"),
    path("calls/<int:pk>/intake", views.call_intake, name="call_intake"),
    path("calls/<int:pk>/search", views.call_search, name="call_search"),
    path("calls/<int:pk>/register", views.call_register, name="call_register"),
    path("calls/<int:pk>/code", views.call_code, name="call_code"),
    path("calls/<int:pk>/resend", views.call_resend, name="call_resend"),
    path("calls/<int:pk>/callback", views.call_callback, name="call_callback"),
    path("calls/<int:pk>/end", views.call_end, name="call_end"),
    path("callbacks/<int:pk>/", views.callback_detail, name="callback"),
    path("callbacks/<int:pk>/done", views.callback_done, name="callback_done"),
    path("callbacks/<int:pk>/cancel", views.callback_cancel, name="callback_cancel"),
    # A caller's own registrations: found by phone number or email, with a reason.
    path("callers/", caller_views.find, name="caller_find"),
    path("callers/<uuid:registration_id>/", caller_views.registration_page, name="caller_registration"),
    path("callers/<uuid:registration_id>/act", caller_views.act, name="caller_act"),
]
