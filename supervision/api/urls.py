from django.urls import re_path
from rest_framework.routers import SimpleRouter

from supervision.api.views import DayViewSet, SessionViewSet

router = SimpleRouter()
router.register("sessions", SessionViewSet, basename="api-supervision-session")

DAY = r"days/(?P<route>[0-9]{1,19})/(?P<date>[^/]{1,32})"


def _day(path: str, name: str, **methods):
    # With or without the trailing slash: a POST cannot follow a redirect to it.
    return re_path(rf"^{DAY}{path}/?$", DayViewSet.as_view(methods), name=f"api-supervision-{name}")


urlpatterns = [
    _day("", "day", get="retrieve_day"),
    _day("/save", "save", post="save"),
    _day("/lines", "lines", patch="lines"),
    _day("/analysis", "analysis", post="analysis"),
    re_path(
        r"^sessions/(?P<pk>[^/]+)/reopen/?$",
        SessionViewSet.as_view({"post": "reopen"}),
        name="api-supervision-reopen",
    ),
    *router.urls,
]
