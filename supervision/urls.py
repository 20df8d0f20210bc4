from django.urls import path

from supervision import views

app_name = "supervision"

urlpatterns = [
    path("", views.index, name="index"),
    path("routes/<int:route_id>/<str:date>/", views.day, name="day"),
    path("routes/<int:route_id>/<str:date>/save/", views.day_save, name="save"),
    path("routes/<int:route_id>/<str:date>/check/", views.day_check, name="check"),
    path("routes/<int:route_id>/<str:date>/review/", views.day_review, name="review"),
    path("sessions/<uuid:pk>/reopen/", views.session_reopen, name="reopen"),
]
