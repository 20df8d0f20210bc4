from django.urls import path

from tracking import views

app_name = "tracking"

urlpatterns = [
    path("", views.index, name="index"),
    path("<int:pk>/", views.dashboard, name="dashboard"),
    path("<int:pk>/events.csv", views.events_export, name="events-export"),
    path("<int:pk>/rotate-keys/", views.rotate_keys, name="rotate-keys"),
]
