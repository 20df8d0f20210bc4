from django.urls import path

from goals import views
from goals.plans import views as plans

app_name = "goals"

urlpatterns = [
    path("", views.goals_home, name="index"),  # the area's entry in the navigation
    path("list/", views.goal_list, name="goal-list"),
    path("new/", views.goal_create, name="goal-create"),
    path("export.csv", views.goal_export, name="export"),
    path("tree/", views.goal_tree, name="tree"),
    path("tree/<int:pk>/", views.goal_tree_branch, name="tree-branch"),
    path("tree/<int:pk>/link/", views.tree_link, name="tree-link"),
    path("tree/<int:pk>/unlink/", views.tree_unlink, name="tree-unlink"),
    path("analytics/", views.goal_analytics, name="analytics"),
    path("analytics.csv", views.goal_analytics_export, name="analytics-export"),
    path("recalculate-all/", views.goal_recalculate_all, name="recalculate-all"),
    path("plan/", plans.plan_dashboard, name="plan"),
    path("plan/card/", plans.plan_card, name="plan-card"),
    path("plan/set/", plans.plan_set, name="plan-set"),
    path("plan/year/", plans.plan_set_year, name="plan-set-year"),
    path("reminders/<int:pk>/", plans.reminder_acknowledge, name="reminder-ack"),
    path("compliance/", plans.compliance, name="compliance-list"),
    path("compliance.csv", plans.compliance_export, name="compliance-export"),
    path("compliance/defaults/", plans.plan_defaults, name="plan-defaults"),
    path("guide/", plans.guide, name="guide"),
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
