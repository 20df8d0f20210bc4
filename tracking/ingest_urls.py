"""/t/: the ingestion endpoints (tracking.ingest), outside any namespace: short, stable paths
that websites and providers keep for years."""

from django.urls import path

from tracking import ingest

urlpatterns = [
    path("e", ingest.event, name="tracking-event"),
    path("batch", ingest.batch, name="tracking-batch"),
    path("webhooks/<str:provider>/<str:key>", ingest.webhook, name="tracking-webhook"),
    path("tracker.js", ingest.tracker_js, name="tracking-tracker"),
]
