"""The tracking pages (administrators): the tenants with their last day's figures, a tenant's
dashboard (events a minute, the backlog, failures, drops, top pages, sessions, the embed
snippet and a test event to send with curl, the latest raw events), and its key rotation
(asked first, on a page saying what happens). Tenants are created and edited in Django admin,
whose action rotates the keys of several at once."""

import json

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import timesince

from crm import charts
from crm.replica import reads_from_replica
from crm.web import area_required, call_service, csv_response, form_page, post_data
from tracking import selectors, services, tenants
from tracking.forms import RotateKeysForm
from tracking.models import FailureReason


def embed_snippet(tenant, base_url: str) -> str:
    """The two lines a website adds to its pages."""
    return (
        f'<script defer src="{base_url}{reverse("tracking-tracker")}" '
        f'data-key="{tenant.ingestion_key}"></script>\n'
        '<!-- then, anywhere: crmTracker.track("signup", {"plan": "pro"}) -->'
    )


def curl_example(tenant, base_url: str) -> str:
    return (
        f"curl -i '{base_url}{reverse('tracking-event')}?key={tenant.ingestion_key}' "
        "-H 'Content-Type: application/json' "
        '-d \'{"evt_type": "test_event", "props": {"source": "curl"}}\''
    )


@area_required("tracking")
@reads_from_replica
def index(request: HttpRequest) -> HttpResponse:
    tenants = list(selectors.tenant_list(user=request.user))
    figures = selectors.overview(tenants)
    rows = [(tenant, figures[tenant.pk]) for tenant in tenants]
    return render(request, "tracking/index.html", {"rows": rows})


@area_required("tracking")
@reads_from_replica
def dashboard(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = get_object_or_404(selectors.tenant_list(user=request.user), pk=pk)
    figures = selectors.dashboard(tenant)
    base_url = settings.SITE_URL
    reasons = dict(FailureReason.choices)
    chart = charts.timeline_chart(
        [(minute, n) for minute, n in figures["per_minute"]],
        start=figures["since"], end=figures["now"], unit="events",
    )  # fmt: skip
    context = {
        "tenant": tenant,
        "figures": figures,
        "chart": chart,
        "failed": [
            (reasons.get(reason, reason or "Unknown"), n) for reason, n in figures["failed"]
        ],
        "drops": [
            (label, figures["drops"][reason]) for reason, label in services.DROP_REASONS.items()
        ],
        "pending_age": timesince(figures["now"] - figures["pending_age"], figures["now"])
        if figures["pending_age"]
        else "",
        "bots_flagged": figures["drops"]["bot_flagged"],
        "snippet": embed_snippet(tenant, base_url),
        "curl": curl_example(tenant, base_url),
    }
    return render(request, "tracking/dashboard.html", context)


@area_required("tracking")
def rotate_keys(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what a rotation does, and the choice of keeping the previous keys for the grace
    period or stopping them now; POST: rotated, back to the dashboard."""
    tenant = get_object_or_404(selectors.tenant_list(user=request.user), pk=pk)
    form = RotateKeysForm(post_data(request))
    if request.method == "POST":
        rotated = call_service(
            form,
            lambda previous: services.tenant_rotate_keys(
                actor=request.user, tenant_id=tenant.pk, keep_previous=previous == form.KEEP
            ),
        )
        if rotated is not None:
            keep = form.cleaned_data["previous"] == form.KEEP
            messages.success(request, services.rotated_message([rotated], keep=keep))
            return redirect("tracking:dashboard", tenant.pk)
    grace = tenants.key_grace()
    context = {
        "tenant": tenant,
        "tenants": [tenant],
        "form": form,
        "grace_hours": grace.total_seconds() / 3600,
        "until": timezone.now() + grace,
        "now": timezone.now(),
    }
    return form_page(request, "tracking/rotate_keys.html", context)


@area_required("tracking")
@reads_from_replica
def events_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The tenant's events of the last 24 hours as CSV (text that a spreadsheet would run as a
    formula is quoted: crm.web.csv_cell)."""
    tenant = get_object_or_404(selectors.tenant_list(user=request.user), pk=pk)
    rows = (
        [event.occurred_at.isoformat(), event.evt_type, event.url_path, event.referrer_host,
         event.session.session_key if event.session else "",
         json.dumps(event.props, ensure_ascii=False)]
        for event in selectors.recent_events(tenant).iterator(chunk_size=2000)
    )  # fmt: skip
    header = ["occurred at", "event", "path", "referrer", "session", "props"]
    return csv_response(f"{tenant.identifier}-events.csv", header, rows)
