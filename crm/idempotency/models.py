"""The API's idempotency keys: one row per (user, key) for a day, holding the answer a write with
that key got, so that sending it again answers the same without writing twice.

It belongs to the `crm` app (crm/models.py imports it so that Django registers it there).
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.periods import format_moment

KEY_MAX_LENGTH = 255
KEYED_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# How long a key is its user's: a write sent again within this answers as the first time.
KEPT_FOR = dt.timedelta(hours=24)


class IdempotencyKey(models.Model):
    # No index of its own: the unique (user, key) leads with it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    key = models.CharField(max_length=KEY_MAX_LENGTH)
    method = models.CharField(max_length=6)
    # The path with its query string, as the request named it (percent-encoded: plain ASCII).
    path = models.TextField()
    body_sha256 = models.CharField("body's SHA-256", max_length=64)
    # Null only inside the transaction that runs the write: the row is inserted first (a second
    # request with the key waits on it) and completed with the answer before the commit.
    status = models.PositiveSmallIntegerField("answer's status", null=True, blank=True)
    content_type = models.CharField("answer's content type", max_length=255, blank=True)
    body = models.BinaryField("answer's body", default=b"", blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        app_label = "crm"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user"),
            models.CheckConstraint(condition=~Q(key=""), name="idempotency_key_not_empty"),
            models.CheckConstraint(
                condition=Q(method__in=KEYED_METHODS), name="idempotency_key_write_method"
            ),
            # Only finished answers are kept: a 5xx or a 429 says "try again", and is.
            models.CheckConstraint(
                condition=Q(status__isnull=True)
                | (Q(status__gte=200, status__lte=499) & ~Q(status=429)),
                name="idempotency_key_kept_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.method} {self.path}, {format_moment(self.created_at)})"
