from django.contrib import admin
from django.urls import include, path

from crm import auth, health, views

urlpatterns = [
    # Tracking's ingestion (websites' snippets, webhooks), included by name like the APIs;
    # first, as the busiest paths by far: resolved before any page's pattern is tried.
    path("t/", include("tracking.ingest_urls")),
    path("", views.home, name="home"),
    path("home/summary/", views.home_summary, name="home-summary"),
    path("accounts/login/", auth.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth.LogoutView.as_view(), name="logout"),
    path("account/api-token/", views.api_token, name="api-token"),
    path("account/api-token/create/", views.api_token_create, name="api-token-create"),
    path("account/api-token/revoke/", views.api_token_revoke, name="api-token-revoke"),
    path("deals/", views.deal_list, name="deal-list"),
    path("deals/new/", views.deal_create, name="deal-create"),
    path("deals/<int:pk>/edit/", views.deal_edit, name="deal-edit"),
    path("deals/<int:pk>/close/", views.deal_close, name="deal-close"),
    path("deals/<int:pk>/reopen/", views.deal_reopen, name="deal-reopen"),
    path("activities/", views.activity_list, name="activity-list"),
    path("activities/new/", views.activity_create, name="activity-create"),
    path("activities/<int:pk>/complete/", views.activity_complete, name="activity-complete"),
    path("tasks/", views.task_list, name="task-list"),
    path("tasks/new/", views.task_create, name="task-create"),
    path("tasks/<int:pk>/status/", views.task_status, name="task-status"),
    path("customers/", views.customer_list, name="customer-list"),
    path("customers/new/", views.customer_create, name="customer-create"),
    path("customers/<int:pk>/", views.customer_detail, name="customer-detail"),
    path("customers/<int:pk>/edit/", views.customer_edit, name="customer-edit"),
    path("customers/<int:pk>/sign-up/", views.customer_sign_up, name="customer-sign-up"),
    path("goals/", include("goals.urls")),
    path("supervision/", include("supervision.urls")),
    path("tracking/", include("tracking.urls")),
    # Each app's API under /api/<app>/ (included by name: the core imports no feature app).
    path("api/goals/", include("goals.api.urls")),
    path("api/supervision/", include("supervision.api.urls")),
    path("api/", include("crm.api.urls")),
    path("ops/", include("crm.ops.urls")),
    path("health/", health.health, name="health"),
    path("health/live", health.live, name="health-live"),
    # Django admin's own logout is a POST only: a reload of it is a page here, like the site's.
    path("admin/logout/", auth.LogoutView.as_view()),
    path("admin/", admin.site.urls),
    # Pages that name no icon (Django admin, API docs) get the app's.
    path("favicon.ico", views.favicon),
    # Installable and offline: the service worker at the root controls every page.
    path("sw.js", views.service_worker, name="service-worker"),
    path("manifest.webmanifest", views.web_app_manifest, name="web-app-manifest"),
    path("offline/", views.offline, name="offline"),
]

# A database that does not answer is a 503 to try again; any other failure a 500 that says which
# request failed (its id, for a person to quote): crm.views.server_error.
handler500 = "crm.views.server_error"
# Under /api/ the API's JSON error body; elsewhere a page; both with the request id.
handler400 = "crm.views.bad_request"
handler404 = "crm.views.page_not_found"

admin.site.site_header = "Field-sales CRM administration"
admin.site.site_title = "CRM admin"
