from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import APIRootView, DefaultRouter

from crm.api import views


class ApiRootView(APIRootView):
    area = "sales"


class SalesRouter(DefaultRouter):
    APIRootView = ApiRootView


class SchemaView(SpectacularAPIView):
    # The schema and its docs are for the people who may use the API: any CRM role.
    area = "sales"


class DocsView(SpectacularSwaggerSplitView):
    area = "sales"


router = SalesRouter()
router.register("customers", views.CustomerViewSet, basename="api-customer")
router.register("deals", views.DealViewSet, basename="api-deal")
router.register("activities", views.ActivityViewSet, basename="api-activity")
router.register("tasks", views.TaskViewSet, basename="api-task")
router.register("routes", views.RouteViewSet, basename="api-route")

urlpatterns = [
    path("", include(router.urls)),
    path("schema/", SchemaView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's set-up script as a file: no inline script. Swagger UI
    # adds <style> elements of its own, so this page alone allows inline styles (CSP).
    path(
        "docs/",
        csp_update({"style-src": ["'unsafe-inline'"]})(DocsView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
]
