"""Django admin for supervision: sessions with their lines and summary, summaries, and the kept
reviews with the cache's hit rate. Days are written through the session page and the API
(versioned, audited); here they are browsed, and an administrator reopens saved ones."""

from django.contrib import admin, messages

from crm.admin import ReadOnlyAdmin
from supervision import analysis, services
from supervision.models import (
    Analysis,
    RouteSummary,
    SessionLine,
    SessionStatus,
    SupervisionSession,
)

REOPENED_FROM_ADMIN = "Reopened from Django admin by {who}."


class SessionLineInline(admin.TabularInline):
    model = SessionLine
    extra = 0
    can_delete = False
    fields = ["stop_order", "customer", "planned_quantity", "visited", "actual_quantity",
              "reason", "note"]  # fmt: skip
    readonly_fields = fields
    ordering = ["stop_order"]

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("customer")


class RouteSummaryInline(admin.StackedInline):
    model = RouteSummary
    can_delete = False
    readonly_fields = [field.name for field in RouteSummary._meta.fields if field.name != "session"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SupervisionSession)
class SupervisionSessionAdmin(ReadOnlyAdmin):
    list_display = ["route", "date", "status", "version", "saved_by", "saved_at", "reopened_at"]
    list_filter = ["status", "date", "route__rep__team"]
    search_fields = ["route__code", "route__name"]
    list_select_related = ["route", "summary", "saved_by"]
    date_hierarchy = "date"
    inlines = [RouteSummaryInline, SessionLineInline]
    actions = ["reopen_selected"]

    @admin.display(description="version", ordering="summary__record_version")
    def version(self, session):
        return session.summary.record_version

    @admin.action(description="Reopen the selected saved days")
    def reopen_selected(self, request, queryset):
        reason = REOPENED_FROM_ADMIN.format(who=request.user.get_username())
        reopened = 0
        for session in queryset.filter(status=SessionStatus.SAVED):
            services.session_reopen(actor=request.user, session_id=session.pk, reason=reason)
            reopened += 1
        self.message_user(request, f"{reopened} day(s) reopened.", messages.SUCCESS)


@admin.register(RouteSummary)
class RouteSummaryAdmin(ReadOnlyAdmin):
    list_display = ["session", "record_version", "customers_planned", "customers_visited",
                    "visit_compliance", "strike_rate", "achievement_percent", "gap",
                    "written_by", "written_at"]  # fmt: skip
    list_select_related = ["session__route"]
    search_fields = ["session__route__code"]


@admin.register(Analysis)
class AnalysisAdmin(ReadOnlyAdmin):
    list_display = ["kind", "route", "date", "customer", "provider", "hits", "created_at",
                    "fallback_reason"]  # fmt: skip
    list_filter = ["kind", "provider", "date"]
    search_fields = ["route__code", "customer__name", "key"]
    list_select_related = ["route", "customer"]
    readonly_fields = ["key", "kind", "provider", "route", "date", "customer", "figures",
                       "findings", "suggestions", "fallback_reason", "created_at",
                       "created_by", "hits", "last_hit_at"]  # fmt: skip

    def changelist_view(self, request, extra_context=None):
        every = analysis.cache_stats()["all"]
        rate = f"{every['hit_rate']}%" if every["hit_rate"] is not None else "none asked yet"
        title = (
            f"Reviews kept: hit rate {rate} ({every['hits']} answered from the cache, "
            f"{every['misses']} new)"
        )
        return super().changelist_view(
            request, extra_context={"title": title, **(extra_context or {})}
        )
