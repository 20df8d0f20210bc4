from django.urls import path

from tracking import views

app_name = "tracking"

urlpatterns = [
    path("", views.index, name="index"),
    path("<int:pk>/", views.dashboard, name="dashboard"),
    path("<int:pk>/events.csv", views.events_export, name="events-export"),
]
