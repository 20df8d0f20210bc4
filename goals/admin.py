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

from crm import periods
from crm.admin import ReadOnlyAdmin
from goals import services
from goals.models import (
    Achievement,
    BonusTier,
    Goal,
    GoalAlert,
    GoalSnapshot,
    PlanReminder,
    PlanSnapshot,
    RepPlan,
)
from goals.plans import services as plans

EDITABLE = ["title", "description", "target_value", "parent"]


class GoalAdminForm(forms.ModelForm):
    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is not None:
            try:
                services.check_update(
                    self.instance,
                    target_changes="target_value" in self.changed_data,
                    period_changes=False,
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
    # Goals are many: the parent is searched for, not listed whole.
    autocomplete_fields = ["parent"]
    date_hierarchy = "period_start"
    actions = ["recalculate_selected"]
    # Adds a "Recalculate all" button (it queues the 15-minute job now).
    change_list_template = "admin/goals/goal/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Goal._meta.fields if f.name not in EDITABLE]

    def has_add_permission(self, request):
        return False  # on the goals pages or the API, where the owner rules apply

    def save_model(self, request, obj, form, change):
        changed = {field: form.cleaned_data[field] for field in form.changed_data}
        if "parent" in changed:
            parent = changed.pop("parent")
            changed["parent_id"] = parent.pk if parent is not None else None
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


@admin.register(GoalSnapshot)
class GoalSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["goal", "date", "value", "target", "percent"]
    list_filter = ["goal__owner_type", "goal__metric"]
    search_fields = ["goal__title"]
    list_select_related = ["goal"]
    date_hierarchy = "date"


@admin.register(GoalAlert)
class GoalAlertAdmin(ReadOnlyAdmin):
    list_display = ["goal", "kind", "raised_at", "cleared_at", "emailed_to"]
    list_filter = ["kind", ("cleared_at", admin.EmptyFieldListFilter)]
    search_fields = ["goal__title", "emailed_to"]
    list_select_related = ["goal"]
    date_hierarchy = "raised_at"


# --- Rep plans -----------------------------------------------------------------------------------


@admin.register(BonusTier)
class BonusTierAdmin(admin.ModelAdmin):
    """The thresholds: a change counts at the next recalculation (within 15 minutes)."""

    list_display = ["tier", "min_revenue"]
    ordering = ["tier"]


@admin.register(RepPlan)
class RepPlanAdmin(ReadOnlyAdmin):
    list_display = [
        "rep", "year", "month", "deadline", "goal_set_at", "set_by_deadline", "goal_set_by",
    ]  # fmt: skip
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
    list_display = ["plan", "kind", "achieved_at"]
    list_filter = ["kind"]
    search_fields = ["plan__rep__user__username", "plan__rep__user__last_name"]
    list_select_related = ["plan__rep__user"]
    date_hierarchy = "achieved_at"


@admin.register(PlanReminder)
class PlanReminderAdmin(ReadOnlyAdmin):
    list_display = ["plan", "kind", "sent_at", "emailed_to", "acknowledged_at"]
    list_filter = ["kind", ("acknowledged_at", admin.EmptyFieldListFilter)]
    search_fields = ["plan__rep__user__username", "emailed_to"]
    list_select_related = ["plan__rep__user"]
    date_hierarchy = "sent_at"
