"""The idempotency keys' one write besides the API's own: deleting those past their day."""

from django.utils import timezone

from crm.idempotency.models import KEPT_FOR, IdempotencyKey


def idempotency_keys_purge() -> int:
    """Deletes the keys older than KEPT_FOR (a replay of one is a new write by then); returns how
    many. Set-based: one DELETE on the creation date's index."""
    deleted, _ = IdempotencyKey.objects.filter(created_at__lte=timezone.now() - KEPT_FOR).delete()
    return deleted
