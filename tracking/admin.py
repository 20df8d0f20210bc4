"""Django admin for tracking: tenants (created with their keys, keys rotated, the embed snippet
to copy), the raw rows (inspected, failed ones replayed), sessions and events."""

from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html

from crm.admin import AuditedAdmin, ReadOnlyAdmin
from tracking import processing, services, tasks
from tracking.forms import TenantAdminForm
from tracking.models import RawEvent, RawStatus, TrackedEvent, TrackedSession, TrackingTenant
from tracking.views import curl_example, embed_snippet


@admin.register(TrackingTenant)
class TrackingTenantAdmin(AuditedAdmin):
    form = TenantAdminForm
    list_display = ["name", "identifier", "active", "kill_switch", "ip_handling", "bot_handling",
                    "created_at"]  # fmt: skip
    list_filter = ["active", "kill_switch", "ip_handling", "bot_handling"]
    search_fields = ["name", "identifier"]
    readonly_fields = ["hash_key", "ingestion_key", "webhook_secret", "snippet", "test_event"]
    fields = [
        "name", "identifier", "allowed_origins", "ip_handling", "bot_handling", "active",
        "kill_switch", "rate_per_minute", "webhook_rate_per_minute", "hash_key", "ingestion_key",
        "webhook_secret", "snippet", "test_event",
    ]  # fmt: skip
    actions = ["rotate_keys"]

    def get_readonly_fields(self, request, obj=None):
        # The identifier names the tenant's hash key: set once.
        return [*self.readonly_fields, "identifier"] if obj is not None else self.readonly_fields

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

    @admin.action(description="Rotate the keys of the selected tenants")
    def rotate_keys(self, request, queryset):
        for tenant in queryset:
            services.tenant_rotate_keys(actor=request.user, tenant_id=tenant.pk)
        self.message_user(
            request,
            f"New keys for {queryset.count()} tenant(s): the old ones stop working within "
            f"{settings.TRACKING_KEY_CACHE_SECONDS} s. Send the new snippet and secret.",
            messages.SUCCESS,
        )


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
