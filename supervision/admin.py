"""Django admin for supervision: sessions with their lines and summary, summaries, and the kept
reviews with the cache's hit rate. Days are written through the session page and the API
(versioned, audited); here they are browsed, and an administrator reopens the read-only ones
(saved, or drafts past their review window). Times print with their zone (crm.formats)."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.http import Http404
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
REOPENED_ALL = "{days} reopened."
# Another administrator reopened some of them between the choice and the reason.
REOPENED_SOME = "{days} reopened; {skipped} not read-only any more: left as {they} {are}."


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
        """Asks why first (a page with the read-only days among those selected and a reason,
        like the day's own Reopen), then reopens each of them with that reason, audited. A day
        someone else reopened after the question is left as it is and counted in the message,
        never an error page."""
        chosen = list(queryset.select_related("route").order_by("date"))
        form = ReopenForm(request.POST if "reopen" in request.POST else None)
        if form.is_valid():
            # The days the question listed; those a filter of the list now leaves out (saved
            # ones reopened meanwhile, on a list of saved days) count as left as they are.
            asked = len(set(request.POST.getlist(helpers.ACTION_CHECKBOX_NAME))) or len(chosen)
            try:
                reopened = self._reopen(request, chosen, form.cleaned_data["reason"])
            except ValidationError as error:  # the reason, the same for every day: none reopened
                form.add_service_error(error)
            else:
                self._say_reopened(request, reopened, skipped=max(asked - reopened, 0))
                return None
        days = [session for session in chosen if selectors.reopenable(session)]
        if not days:
            self.message_user(request, NOTHING_TO_REOPEN, messages.WARNING)
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

    @staticmethod
    def _reopen(request, days: list[SupervisionSession], reason: str) -> int:
        """Reopen each day, each in its own transaction: how many were. A day that is not
        read-only any more (someone reopened it since the question) or is gone is skipped; a
        refused reason is raised (it refuses every day alike)."""
        reopened = 0
        for session in days:
            try:
                services.session_reopen(actor=request.user, session_id=session.pk, reason=reason)
            except Http404:
                continue
            except ValidationError as error:
                if getattr(error, "code", None) != services.NOTHING_TO_REOPEN_CODE:
                    raise
                continue
            reopened += 1
        return reopened

    def _say_reopened(self, request, reopened: int, *, skipped: int) -> None:
        if not skipped:
            self.message_user(
                request, REOPENED_ALL.format(days=counted(reopened, "day")), messages.SUCCESS
            )
            return
        one = skipped == 1
        message = REOPENED_SOME.format(
            days=counted(reopened, "day"), skipped=skipped,
            they="it" if one else "they", are="is" if one else "are",
        )  # fmt: skip
        self.message_user(request, message, messages.WARNING)


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
