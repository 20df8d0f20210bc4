from django.urls import re_path
from rest_framework.routers import SimpleRouter

from goals.api import views
from goals.plans.api import PlanViewSet

router = SimpleRouter()
router.register("", views.GoalViewSet, basename="api-goal")


def _plans(path: str, name: str, **methods):
    # With or without the trailing slash: a POST cannot follow a redirect to it.
    return re_path(rf"^{path}/?$", PlanViewSet.as_view(methods), name=f"api-plan-{name}")


urlpatterns = [
    _plans("monthly/current", "monthly-current", get="monthly_current"),
    _plans("monthly/set", "monthly-set", post="monthly_set"),
    _plans("monthly/defaults", "monthly-defaults", post="monthly_defaults"),
    _plans("yearly/current", "yearly-current", get="yearly_current"),
    _plans("yearly/set", "yearly-set", post="yearly_set"),
    _plans("history", "history", get="history"),
    _plans("pending-deadlines", "pending-deadlines", get="pending_deadlines"),
    _plans(r"reminders/(?P<pk>[0-9]+)/acknowledge", "reminder-acknowledge", post="acknowledge"),
    *router.urls,
]
