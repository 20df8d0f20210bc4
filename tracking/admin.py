"""Django admin for tracking: tenants (created with their keys, keys rotated after a
confirmation page, the embed snippet to copy), the raw rows (inspected, failed ones replayed),
sessions and events."""

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from crm.admin import AuditedAdmin, ReadOnlyAdmin
from crm.periods import format_moment
from tracking import processing, services, tasks, tenants
from tracking.forms import RotateKeysForm, TenantAdminForm
from tracking.models import RawEvent, RawStatus, TrackedEvent, TrackedSession, TrackingTenant
from tracking.views import curl_example, embed_snippet


@admin.register(TrackingTenant)
class TrackingTenantAdmin(AuditedAdmin):
    form = TenantAdminForm
    list_display = ["name", "identifier", "active", "kill_switch", "ip_handling", "bot_handling",
                    "created_at"]  # fmt: skip
    list_filter = ["active", "kill_switch", "ip_handling", "bot_handling"]
    search_fields = ["name", "identifier"]
    readonly_fields = ["hash_key", "ingestion_key", "webhook_secret", "previous_keys",
                       "snippet", "test_event"]  # fmt: skip
    fields = [
        "name", "identifier", "allowed_origins", "ip_handling", "bot_handling", "active",
        "kill_switch", "rate_per_minute", "webhook_rate_per_minute", "hash_key",
        "ingestion_key", "webhook_secret", "previous_keys", "snippet", "test_event",
    ]  # fmt: skip
    actions = ["rotate_keys"]

    def get_readonly_fields(self, request, obj=None):
        # The identifier names the tenant's hash key: set once.
        return [*self.readonly_fields, "identifier"] if obj is not None else self.readonly_fields

    @admin.display(description="Previous keys")
    def previous_keys(self, tenant):
        if tenant.pk is None:
            return ""
        rotate = reverse("tracking:rotate-keys", args=[tenant.pk])
        expires = tenant.previous_keys_expire_at
        if expires is None or expires <= timezone.now():
            return format_html('None. <a href="{}">Rotate the keys…</a>', rotate)
        return format_html(
            'The previous key and secret work until {}. <a href="{}">Rotate the keys…</a>',
            format_moment(expires), rotate,
        )  # fmt: skip

    @admin.display(description="Embed snippet")
    def snippet(self, tenant):
        if tenant.pk is None:
            return "Saved, the tenant gets its keys and snippet."
        return format_html("<pre>{}</pre>", embed_snippet(tenant, settings.SITE_URL))

    @admin.display(description="A test event")
    def test_event(self, tenant):
        if tenant.pk is None:
            return ""
        return format_html("<pre>{}</pre>", curl_example(tenant, settings.SITE_URL))

    def save_model(self, request, obj, form, change):
        if not change:  # a new tenant's keys are made here, never typed
            obj.ingestion_key = services.new_ingestion_key()
            obj.webhook_secret = services.new_webhook_secret()
        super().save_model(request, obj, form, change)  # audited (AuditedAdmin)
        services.tenant_changed(obj)

    @admin.action(description="Rotate the keys of the selected tenants…")
    def rotate_keys(self, request, queryset):
        """Asks first, on a page saying what happens; rotates once confirmed there."""
        confirmed = "confirm" in request.POST
        form = RotateKeysForm(request.POST if confirmed else None)
        if confirmed and form.is_valid():
            keep = form.cleaned_data["previous"] == RotateKeysForm.KEEP
            rotated = [
                services.tenant_rotate_keys(
                    actor=request.user, tenant_id=tenant.pk, keep_previous=keep
                )
                for tenant in queryset
            ]
            self.message_user(
                request, services.rotated_message(rotated, keep=keep), messages.SUCCESS
            )
            return None  # back to the list (a redirect)
        context = {
            **self.admin_site.each_context(request),
            "title": "Rotate the keys?",
            "opts": self.model._meta,
            "tenants": list(queryset),
            "form": form,
            "grace_hours": tenants.key_grace().total_seconds() / 3600,
            "until": timezone.now() + tenants.key_grace(),
            "now": timezone.now(),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "cancel_url": reverse("admin:tracking_trackingtenant_changelist"),
        }
        return TemplateResponse(
            request, "tracking/admin_rotate_keys.html", context,
            status=400 if form.is_bound else 200,
        )  # fmt: skip


@admin.register(RawEvent)
class RawEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "tenant", "received_at", "record_source", "event_id", "status",
                    "attempts", "failure_reason", "clock_skew", "bot"]  # fmt: skip
    list_filter = ["status", "failure_reason", "record_source", "clock_skew", "bot", "tenant"]
    search_fields = ["event_id"]
    list_select_related = ["tenant"]
    show_full_result_count = False  # a count of millions of rows is not worth its wait
    actions = ["replay_selected"]

    def has_delete_permission(self, request, obj=None):
        return False  # the raw layer is kept as it came; retention deletes it

    @admin.action(description="Replay the selected failed rows")
    def replay_selected(self, request, queryset):
        failed = queryset.filter(status=RawStatus.FAILED).values_list("pk", flat=True)
        replayed = processing.replay(ids=list(failed))
        tasks.process_soon(now=True)
        self.message_user(request, f"{replayed} row(s) pending again.", messages.SUCCESS)


@admin.register(TrackedSession)
class TrackedSessionAdmin(ReadOnlyAdmin):
    list_display = ["session_key", "tenant", "first_seen", "last_seen", "page_views", "events",
                    "device", "browser", "referrer_host"]  # fmt: skip
    list_filter = ["tenant", "device", "browser"]
    search_fields = ["session_key", "entry_url"]
    list_select_related = ["tenant"]


@admin.register(TrackedEvent)
class TrackedEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "tenant", "evt_type", "url_path", "occurred_at", "session"]
    list_filter = ["tenant", "evt_type"]
    search_fields = ["evt_type", "url_path"]
    list_select_related = ["tenant", "session"]
    show_full_result_count = False
