from django.urls import path

from goals import views

app_name = "goals"

urlpatterns = [
    path("", views.goal_list, name="goal-list"),
    path("", views.goal_list, name="index"),  # the area's entry in the navigation
    path("new/", views.goal_create, name="goal-create"),
    path("export.csv", views.goal_export, name="export"),
    path("tree/", views.goal_tree, name="tree"),
    path("analytics/", views.goal_analytics, name="analytics"),
    path("analytics.csv", views.goal_analytics_export, name="analytics-export"),
    path("recalculate-all/", views.goal_recalculate_all, name="recalculate-all"),
    path("<int:pk>/", views.goal_detail, name="goal-detail"),
    path("<int:pk>/edit/", views.goal_edit, name="goal-edit"),
    path("<int:pk>/progress/", views.goal_progress, name="progress"),
    path("<int:pk>/recalculate/", views.goal_recalculate, name="recalculate"),
    path("<int:pk>/adjust/", views.goal_adjust, name="adjust"),
    path("<int:pk>/auto/", views.goal_return_to_auto, name="auto"),
    path("<int:pk>/status/", views.goal_set_status, name="status"),
    path("<int:pk>/link/", views.goal_link, name="link"),
    path("<int:pk>/unlink/", views.goal_unlink, name="unlink"),
]
