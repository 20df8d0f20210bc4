"""Django admin for the API's idempotency keys: read-only, for finding out what a client's
keyed write answered (registered through crm/admin.py). Deleting a key lets a write with it run
again."""

from django.contrib import admin

from crm.idempotency.models import IdempotencyKey


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "user", "method", "path", "status", "created_at"]
    list_filter = ["method", "status"]
    list_select_related = ["user"]
    search_fields = ["key", "path", "user__username"]
    date_hierarchy = "created_at"
    readonly_fields = ["user", "key", "method", "path", "body_sha256", "status", "content_type",
                       "answer", "created_at"]  # fmt: skip
    exclude = ["body"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="answer's body")
    def answer(self, key: IdempotencyKey) -> str:
        return bytes(key.body).decode("utf-8", errors="replace")
