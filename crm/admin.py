from django.contrib import admin, messages
from django.db.models import Count

from crm import services
from crm.models import (
    Activity,
    AuditEntry,
    Customer,
    DeadLetter,
    Deal,
    Heartbeat,
    JobLock,
    JobRun,
    Product,
    Route,
    RouteStop,
    SalesRep,
    Task,
    Team,
)


class AuditedAdmin(admin.ModelAdmin):
    """Edits made in Django admin leave an audit entry, like edits made through the services."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changes = {field: form.cleaned_data.get(field) for field in form.changed_data}
        action = f"admin.{'change' if change else 'add'}"
        services.audit(actor=request.user, action=action, target=obj, changes=changes)

    def delete_model(self, request, obj):
        services.audit(actor=request.user, action="admin.delete", target=obj)
        super().delete_model(request, obj)


@admin.register(Team)
class TeamAdmin(AuditedAdmin):
    list_display = ["name", "manager", "rep_count"]
    search_fields = ["name", "manager__username", "manager__last_name"]
    list_select_related = ["manager"]
    autocomplete_fields = ["manager"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(rep_count=Count("reps"))

    @admin.display(ordering="rep_count", description="reps")
    def rep_count(self, team):
        return team.rep_count


@admin.register(SalesRep)
class SalesRepAdmin(AuditedAdmin):
    list_display = ["employee_code", "__str__", "team", "active", "hire_date", "timezone"]
    list_filter = ["active", "team"]
    search_fields = ["employee_code", "user__username", "user__first_name", "user__last_name"]
    list_select_related = ["user", "team"]
    autocomplete_fields = ["user", "team"]
    date_hierarchy = "hire_date"


@admin.register(Customer)
class CustomerAdmin(AuditedAdmin):
    list_display = ["code", "name", "status", "owner", "signed_up_at"]
    list_filter = ["status", "owner__team"]
    search_fields = ["code", "name", "address"]
    list_select_related = ["owner__user"]
    autocomplete_fields = ["owner"]
    date_hierarchy = "signed_up_at"


@admin.register(Product)
class ProductAdmin(AuditedAdmin):
    list_display = ["sku", "name", "unit"]
    list_filter = ["unit"]
    search_fields = ["sku", "name"]


@admin.register(Deal)
class DealAdmin(AuditedAdmin):
    list_display = ["title", "customer", "rep", "amount", "stage", "closed_at", "created_at"]
    list_filter = ["stage", "rep__team"]
    search_fields = ["title", "customer__name", "customer__code"]
    list_select_related = ["customer", "rep__user"]
    autocomplete_fields = ["customer", "rep"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Activity)
class ActivityAdmin(AuditedAdmin):
    list_display = ["__str__", "kind", "status", "rep", "customer", "due_at", "completed_at"]
    list_filter = ["kind", "status", "rep__team"]
    search_fields = ["subject", "customer__name"]
    list_select_related = ["customer", "rep__user"]
    autocomplete_fields = ["customer", "rep"]
    date_hierarchy = "due_at"


@admin.register(Task)
class TaskAdmin(AuditedAdmin):
    list_display = ["title", "rep", "status", "due_at", "completed_at"]
    list_filter = ["status", "rep__team"]
    search_fields = ["title"]
    list_select_related = ["rep__user"]
    autocomplete_fields = ["rep"]
    date_hierarchy = "due_at"


class RouteStopInline(admin.TabularInline):
    model = RouteStop
    extra = 0
    autocomplete_fields = ["customer"]
    ordering = ["sequence"]


@admin.register(Route)
class RouteAdmin(AuditedAdmin):
    list_display = ["code", "name", "rep", "active", "stop_count"]
    list_filter = ["active", "rep__team"]
    search_fields = ["code", "name"]
    list_select_related = ["rep__user"]
    autocomplete_fields = ["rep"]
    inlines = [RouteStopInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(stop_count=Count("stops"))

    @admin.display(ordering="stop_count", description="stops")
    def stop_count(self, route):
        return route.stop_count


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "action", "target_type", "target_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["target_id", "actor__username"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # an audit trail nobody can rewrite


# --- Job platform -----------------------------------------------------------------------------


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = ["name", "status", "started_at", "finished_at", "duration", "items_processed"]
    list_filter = ["status", "name"]
    search_fields = ["name", "error"]
    date_hierarchy = "started_at"
    readonly_fields = [f.name for f in JobRun._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(JobLock)
class JobLockAdmin(admin.ModelAdmin):
    list_display = ["name", "holder", "acquired_at", "expires_at"]
    readonly_fields = ["name", "holder", "acquired_at", "expires_at"]

    def has_add_permission(self, request):
        return False


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["component", "seen_at"]

    def has_add_permission(self, request):
        return False


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = [
        "task_name",
        "error_summary",
        "failure_count",
        "first_failed_at",
        "last_failed_at",
        "retried",
        "retried_at",
    ]
    list_filter = ["retried", "task_name"]
    search_fields = ["task_name", "error"]
    date_hierarchy = "last_failed_at"
    readonly_fields = [f.name for f in DeadLetter._meta.fields]
    actions = ["retry_selected"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="error")
    def error_summary(self, letter):
        return letter.error[:120]

    @admin.action(description="Re-enqueue the selected tasks")
    def retry_selected(self, request, queryset):
        try:
            count = services.dead_letters_retry(letters=queryset, actor=request.user)
        except Exception as exc:  # the broker refused: say so instead of a 500
            self.message_user(
                request, f"Could not enqueue: {type(exc).__name__}: {exc}", messages.ERROR
            )
            return
        self.message_user(request, f"Re-enqueued {count} task(s).", messages.SUCCESS)
