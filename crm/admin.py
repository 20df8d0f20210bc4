"""Django admin for the core's data. Every edit is audited; edits of deals, activities, tasks and
customers go through crm.services, so that they keep the cross-row rules and publish the same
events as any other write (a won deal corrected here moves the goals that count it)."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count

from crm import services
from crm.models import (
    Activity,
    AuditEntry,
    Customer,
    Deal,
    Product,
    Route,
    RouteStop,
    SalesRep,
    Task,
    Team,
)
from crm.writes import audit


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only the app's own services write (snapshots, reviews, records kept by
    jobs): browsed and searched here, never added or changed by hand."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class AuditedAdmin(admin.ModelAdmin):
    """Edits made in Django admin leave an audit entry, like edits made through the services."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        changes = {field: form.cleaned_data.get(field) for field in form.changed_data}
        action = f"admin.{'change' if change else 'add'}"
        audit(actor=request.user, action=action, target=obj, changes=changes)

    def delete_model(self, request, obj):
        audit(actor=request.user, action="admin.delete", target=obj)
        super().delete_model(request, obj)


class SalesRecordForm(forms.ModelForm):
    """Checks, besides the row's own rules, the rules it keeps with other rows."""

    def clean(self):
        cleaned = super().clean()
        if "customer" in self.fields and "rep" in self.fields:
            try:
                services.check_customer_of_rep(
                    customer=cleaned.get("customer"), rep=cleaned.get("rep")
                )
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned


class SalesRecordAdmin(admin.ModelAdmin):
    """Deals, activities, tasks and customers: saved and deleted through crm.services."""

    form = SalesRecordForm

    def save_model(self, request, obj, form, change):
        services.record_save_from_admin(
            actor=request.user, record=obj, changed=form.changed_data, adding=not change
        )

    def delete_model(self, request, obj):
        services.records_delete_from_admin(actor=request.user, records=[obj])

    def delete_queryset(self, request, queryset):
        services.records_delete_from_admin(actor=request.user, records=list(queryset))


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

    def save_model(self, request, obj, form, change):
        services.rep_save_from_admin(
            actor=request.user, rep=obj, changed=form.changed_data, adding=not change
        )


@admin.register(Customer)
class CustomerAdmin(SalesRecordAdmin):
    list_display = ["code", "name", "contact_name", "phone", "status", "owner", "signed_up_at"]
    list_filter = ["status", "owner__team"]
    search_fields = ["code", "name", "contact_name", "phone", "email", "address"]
    list_select_related = ["owner__user"]
    autocomplete_fields = ["owner"]
    date_hierarchy = "signed_up_at"


@admin.register(Product)
class ProductAdmin(AuditedAdmin):
    list_display = ["sku", "name", "unit"]
    list_filter = ["unit"]
    search_fields = ["sku", "name"]


@admin.register(Deal)
class DealAdmin(SalesRecordAdmin):
    list_display = ["title", "customer", "rep", "amount", "stage", "closed_at", "created_at"]
    list_filter = ["stage", "rep__team"]
    search_fields = ["title", "customer__name", "customer__code"]
    list_select_related = ["customer", "rep__user"]
    autocomplete_fields = ["customer", "rep"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Activity)
class ActivityAdmin(SalesRecordAdmin):
    list_display = [
        "__str__", "kind", "status", "outcome", "rep", "customer", "due_at", "completed_at",
    ]  # fmt: skip
    list_filter = ["kind", "status", "outcome", "rep__team"]
    search_fields = ["subject", "customer__name"]
    list_select_related = ["customer", "rep__user"]
    autocomplete_fields = ["customer", "rep"]
    date_hierarchy = "due_at"


@admin.register(Task)
class TaskAdmin(SalesRecordAdmin):
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
    list_display = ["created_at", "who", "what", "target_type", "target_id", "change"]
    list_filter = ["action", "target_type"]
    search_fields = ["target_id", "actor__username", "system_actor"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # an audit trail nobody can rewrite

    @admin.display(description="who", ordering="actor__username")
    def who(self, entry):
        return entry.actor_name

    @admin.display(description="what", ordering="action")
    def what(self, entry):
        return entry.action_label

    @admin.display(description="change")
    def change(self, entry):
        return "; ".join(entry.change_lines)


# The job platform's pages (job runs, locks, heartbeats, dead letters), and the API's
# idempotency keys (read-only: what a keyed write answered, kept for a day).
from crm.idempotency import admin as _idempotency_admin  # noqa: E402, F401
from crm.jobs import admin as _jobs_admin  # noqa: E402, F401
