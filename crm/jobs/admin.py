"""Django admin for the job platform: job runs, locks, heartbeats and dead letters (with the
"Re-enqueue" action). Registered through crm/admin.py."""

from django.contrib import admin, messages

from crm.jobs.models import DeadLetter, Heartbeat, JobLock, JobRun
from crm.jobs.services import dead_letters_retry


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
            count = dead_letters_retry(letters=queryset, actor=request.user)
        except Exception as exc:  # the broker refused: say so instead of a 500
            self.message_user(
                request, f"Could not enqueue: {type(exc).__name__}: {exc}", messages.ERROR
            )
            return
        self.message_user(request, f"Re-enqueued {count} task(s).", messages.SUCCESS)
