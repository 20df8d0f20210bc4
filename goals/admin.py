"""Django admin for goals: browse and search them, their snapshots and alerts, the rep plans
with their snapshots, achievements and reminders, and the bonus tiers' thresholds. Changes go
through goals.services (the rules, the roll-up, the audit trail): admins edit the words, the
target and the parent here (refused, with the reason on the field, where the pages would refuse
it); values and status are changed on the goal's page or through the API; plans' targets on the
plan pages."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from crm import periods
from crm.admin import ReadOnlyAdmin
from crm.web import TextField
from goals import selectors, services
from goals.models import (
    Achievement,
    BonusTier,
    Goal,
    GoalAlert,
    GoalCheck,
    GoalSnapshot,
    GoalTargetRevision,
    PlanReminder,
    PlanSnapshot,
    RepPlan,
)
from goals.plans import services as plans

EDITABLE = ["title", "description", "target_value", "reason", "parent"]


def moment_column(field: str, label: str, *, zone_of=None):
    """An admin column (or read-only field) showing a moment with its zone ("5 Dec 2026, 23:59
    CET"): in the zone `zone_of(row)` names (a rep's deadline in the rep's zone), else the
    reader's. Blank when there is none."""

    @admin.display(description=label, ordering=field)
    def column(self, row) -> str:
        value = getattr(row, field)
        if value is None:
            return "—"
        return periods.format_moment(value, zone=zone_of(row) if zone_of else None)

    return column


def _reps_zone(plan: RepPlan):
    return periods.zone_named(plan.rep.timezone)


def _goals_zone(goal: Goal):
    return periods.zone_named(goal.zone)


# A goal's moments, read-only on its admin page as `<name>_shown`, each with its zone.
GOAL_MOMENTS = {"starts_at", "ends_at", "closed_at", "last_calculated_at", "created_at",
                "updated_at"}  # fmt: skip


class GoalAdminForm(forms.ModelForm):
    reason = TextField(
        label="Why the target changes",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Needed to change the target once the period has started (at least 10 "
        "characters); the original target is kept.",
    )

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is not None:
            try:
                target_changes = "target_value" in self.changed_data
                services.check_update(
                    self.instance, target_changes=target_changes, period_changes=False
                )
                if target_changes and cleaned.get("target_value") is not None:
                    # The goal as stored: the form has set its new target on the instance.
                    stored = Goal.objects.get(pk=self.instance.pk)
                    services.revise_target(
                        stored,
                        cleaned["target_value"],
                        reason=cleaned.get("reason", ""),
                        now=timezone.now(),
                    )
            except ValidationError as error:
                self.add_error(None, error)
            parent = cleaned.get("parent")
            if "parent" in self.changed_data and parent is not None:
                problem = services.link_refusal(self.instance, parent)
                if problem is not None:
                    self.add_error("parent", problem)
        return cleaned


@admin.register(Goal)
class GoalAdmin(admin.ModelAdmin):
    form = GoalAdminForm
    list_display = [
        "title", "owner_type", "owner_name", "metric", "period_start", "period_end",
        "current_value", "target_value", "progress_percent", "status", "calculation_source",
        "calculation_failed",
    ]  # fmt: skip
    list_filter = [
        "status", "owner_type", "metric", "calculation_source", "calculation_failed",
        "period_kind", "team",
    ]  # fmt: skip
    search_fields = ["title", "description", "rep__user__username", "team__name"]
    list_select_related = ["rep__user", "team"]
    # Goals are many: the parent is looked up, not listed whole. (A raw id, not autocomplete:
    # the autocomplete widget fails to draw a refused value that is not an id.)
    raw_id_fields = ["parent"]
    date_hierarchy = "period_start"
    actions = ["recalculate_selected"]
    # Adds a "Recalculate all" button (it queues the 15-minute job now) and the last
    # consistency check's verdict.
    change_list_template = "admin/goals/goal/change_list.html"

    def changelist_view(self, request, extra_context=None):
        extra = {"last_check": selectors.last_check(), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def get_readonly_fields(self, request, obj=None):
        return [
            f"{f.name}_shown" if f.name in GOAL_MOMENTS else f.name
            for f in Goal._meta.fields
            if f.name not in EDITABLE
        ] + ["target_revisions"]

    def get_fields(self, request, obj=None):
        return [*EDITABLE, *self.get_readonly_fields(request, obj)]

    @admin.display(description="target revisions")
    def target_revisions(self, goal: Goal) -> str:
        """Each change of the target, oldest first: from, to, who, when (with its zone), why."""
        rows = goal.revisions.select_related("changed_by").order_by("changed_at", "id")
        return (
            format_html_join(
                mark_safe("<br>"),
                "{} → {}, {}, {}: {}",
                (
                    (
                        "—" if row.old_target is None else row.old_target,
                        row.new_target,
                        row.changed_by_name,
                        periods.format_moment(row.changed_at),
                        row.reason or "—",
                    )
                    for row in rows
                ),
            )
            or "—"
        )

    starts_at_shown = moment_column("starts_at", "starts", zone_of=_goals_zone)
    ends_at_shown = moment_column("ends_at", "ends (first moment after)", zone_of=_goals_zone)
    closed_at_shown = moment_column("closed_at", "closed")
    last_calculated_at_shown = moment_column("last_calculated_at", "value as of")
    created_at_shown = moment_column("created_at", "created")
    updated_at_shown = moment_column("updated_at", "last changed")

    def has_add_permission(self, request):
        return False  # on the goals pages or the API, where the owner rules apply

    def save_model(self, request, obj, form, change):
        changed = {field: form.cleaned_data[field] for field in form.changed_data}
        services.goal_update(actor=request.user, goal_id=obj.pk, **changed)

    def has_delete_permission(self, request, obj=None):
        # A plan's goals last as long as their plan.
        return super().has_delete_permission(request, obj) and (obj is None or not obj.plan_id)

    def delete_model(self, request, obj):
        services.goal_delete(actor=request.user, goal_id=obj.pk)

    def delete_queryset(self, request, queryset):
        # (Django refuses the whole selection if it holds a plan's goal.)
        for goal_id in queryset.values_list("pk", flat=True):
            services.goal_delete(actor=request.user, goal_id=goal_id)

    @admin.action(description="Recalculate the selected goals now")
    def recalculate_selected(self, request, queryset):
        try:
            changed = services.goals_recalculate(goals=queryset, actor=request.user)
        except ValidationError as error:
            self.message_user(request, "; ".join(error.messages), messages.ERROR)
            return
        self.message_user(request, f"Recalculated; {changed} value(s) changed.", messages.SUCCESS)


@admin.register(GoalTargetRevision)
class GoalTargetRevisionAdmin(ReadOnlyAdmin):
    list_display = ["goal", "old_target", "new_target", "changed_by_name", "changed", "reason"]
    fields = ["goal", "old_target", "new_target", "reason", "changed_by_name", "changed",
              "after_start"]  # fmt: skip
    readonly_fields = fields
    changed = moment_column("changed_at", "when")
    list_filter = ["after_start"]
    search_fields = ["goal__title", "reason", "changed_by__username", "system_actor"]
    list_select_related = ["goal", "changed_by"]
    date_hierarchy = "changed_at"


@admin.register(GoalSnapshot)
class GoalSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["goal", "date", "value", "target", "percent"]
    list_filter = ["goal__owner_type", "goal__metric"]
    search_fields = ["goal__title"]
    list_select_related = ["goal"]
    date_hierarchy = "date"


@admin.register(GoalAlert)
class GoalAlertAdmin(ReadOnlyAdmin):
    list_display = ["goal", "kind", "raised", "cleared", "emailed_to"]
    fields = ["goal", "kind", "raised", "cleared", "emailed_to"]
    readonly_fields = fields
    raised = moment_column("raised_at", "raised")
    cleared = moment_column("cleared_at", "cleared")
    list_filter = ["kind", ("cleared_at", admin.EmptyFieldListFilter)]
    search_fields = ["goal__title", "emailed_to"]
    list_select_related = ["goal"]
    date_hierarchy = "raised_at"


@admin.register(GoalCheck)
class GoalCheckAdmin(ReadOnlyAdmin):
    """The consistency checks (the nightly job, `manage.py check_goals`): what each found."""

    list_display = ["checked", "checked_by", "goals_checked", "differences", "largest", "repaired"]
    fields = [
        "checked", "finished", "checked_by", "goals_checked", "differences", "largest",
        "repaired", "found",
    ]  # fmt: skip
    readonly_fields = fields
    list_filter = ["checked_by"]
    date_hierarchy = "started_at"
    checked = moment_column("started_at", "checked")
    finished = moment_column("finished_at", "finished")


# --- Rep plans -----------------------------------------------------------------------------------


@admin.register(BonusTier)
class BonusTierAdmin(admin.ModelAdmin):
    """The thresholds: a change counts at the next recalculation (within 15 minutes)."""

    list_display = ["tier", "min_revenue"]
    ordering = ["tier"]


@admin.register(RepPlan)
class RepPlanAdmin(ReadOnlyAdmin):
    list_display = [
        "rep", "year", "month", "due", "set_at", "set_by_deadline", "goal_set_by",
    ]  # fmt: skip
    fields = list_display
    readonly_fields = fields
    # A plan is due in its rep's zone: shown there, with the zone's name.
    due = moment_column("deadline", "deadline", zone_of=_reps_zone)
    set_at = moment_column("goal_set_at", "goals set at")
    list_filter = ["year", "month", "set_by_deadline", "rep__team"]
    search_fields = ["rep__user__username", "rep__user__last_name", "rep__employee_code"]
    list_select_related = ["rep__user", "goal_set_by"]
    actions = ["snapshot_now"]

    @admin.action(description="Take a snapshot of the selected plans now (ad hoc)")
    def snapshot_now(self, request, queryset):
        now = timezone.now()
        taken = plans.snapshot_plans(
            on=periods.local_date(now, periods.company_zone()),
            daily=False,
            now=now,
            plan_ids=list(queryset.values_list("pk", flat=True)),
        )
        self.message_user(request, f"{taken} ad-hoc snapshot(s) taken.", messages.SUCCESS)


@admin.register(PlanSnapshot)
class PlanSnapshotAdmin(ReadOnlyAdmin):
    list_display = [
        "plan", "date", "daily", "signups", "signup_goal", "revenue", "revenue_goal",
        "bonus_tier", "days_remaining", "pace",
    ]  # fmt: skip
    list_filter = ["daily", "pace", "date"]
    search_fields = ["plan__rep__user__username", "plan__rep__user__last_name"]
    list_select_related = ["plan__rep__user"]
    date_hierarchy = "date"


@admin.register(Achievement)
class AchievementAdmin(ReadOnlyAdmin):
    list_display = ["plan", "kind", "achieved"]
    fields = list_display
    readonly_fields = fields
    achieved = moment_column("achieved_at", "achieved")
    list_filter = ["kind"]
    search_fields = ["plan__rep__user__username", "plan__rep__user__last_name"]
    list_select_related = ["plan__rep__user"]
    date_hierarchy = "achieved_at"


@admin.register(PlanReminder)
class PlanReminderAdmin(ReadOnlyAdmin):
    list_display = ["plan", "kind", "plan_due", "sent", "emailed_to", "acknowledged"]
    fields = list_display
    readonly_fields = fields
    sent = moment_column("sent_at", "sent")
    acknowledged = moment_column("acknowledged_at", "acknowledged")

    @admin.display(description="plan due", ordering="plan__deadline")
    def plan_due(self, reminder: PlanReminder) -> str:
        plan = reminder.plan
        return periods.format_moment(plan.deadline, zone=_reps_zone(plan))

    list_filter = ["kind", ("acknowledged_at", admin.EmptyFieldListFilter)]
    search_fields = ["plan__rep__user__username", "emailed_to"]
    list_select_related = ["plan__rep__user"]
    date_hierarchy = "sent_at"
