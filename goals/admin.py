"""Django admin for goals: browse and search them, their snapshots and alerts. Changes go
through goals.services (the rules, the roll-up, the audit trail): admins edit the words and
the target here; links, values and status are changed on the goal's page or through the API."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from goals import services
from goals.models import Goal, GoalAlert, GoalSnapshot

EDITABLE = ["title", "description", "target_value"]


@admin.register(Goal)
class GoalAdmin(admin.ModelAdmin):
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
        services.goal_update(actor=request.user, goal_id=obj.pk, **changed)

    def delete_model(self, request, obj):
        services.goal_delete(actor=request.user, goal_id=obj.pk)

    def delete_queryset(self, request, queryset):
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


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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
