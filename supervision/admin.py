"""Django admin for supervision: sessions with their lines and summary, summaries, and the kept
reviews with the cache's hit rate. Days are written through the session page and the API
(versioned, audited); here they are browsed, and an administrator reopens the read-only ones
(saved, or drafts past their review window). Times print with their zone (crm.formats)."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from crm.admin import ReadOnlyAdmin
from supervision import analysis, selectors, services
from supervision.forms import ReopenForm
from supervision.models import Analysis, RouteSummary, SessionLine, SupervisionSession
from supervision.text import counted

NOTHING_TO_REOPEN = (
    "None of the selected days is read-only (saved, or a draft past its review window): there "
    "is nothing to reopen."
)


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

    @admin.action(description="Reopen the selected read-only days…")
    def reopen_selected(self, request, queryset):
        """Asks why first (a page with the days and a reason, like the day's own Reopen),
        then reopens each read-only day with that reason, audited."""
        chosen = queryset.select_related("route").order_by("date")
        days = [session for session in chosen if selectors.reopenable(session)]
        if not days:
            self.message_user(request, NOTHING_TO_REOPEN, messages.WARNING)
            return None
        form = ReopenForm(request.POST if "reopen" in request.POST else None)
        if form.is_valid():
            for session in days:
                services.session_reopen(
                    actor=request.user, session_id=session.pk, reason=form.cleaned_data["reason"]
                )
            self.message_user(request, f"{counted(len(days), 'day')} reopened.", messages.SUCCESS)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Why reopen these days?",
            "opts": self.model._meta,
            "sessions": days,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "supervision/admin/reopen.html", context)


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
