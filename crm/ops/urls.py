from django.urls import path

from crm.ops import views

app_name = "ops"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("dead-letters/", views.dead_letters_act, name="dead-letters"),
    path("switches/", views.switches, name="switches"),
    path("switches/rate-limits/reset/", views.ratelimit_reset, name="ratelimit-reset"),
    path("switches/<slug:area>/", views.switch_set, name="switch-set"),
]
