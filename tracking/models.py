"""Tracking: customers' websites and webhooks send events into a raw layer, kept apart per
tenant; a worker turns the raw rows into sessions and events.

- A **tenant** is one source of events (a customer's website, its webhook provider), with a
  public write-only ingestion key (safe in a web page), a webhook secret and its own limits.
- A **raw event** is what arrived, as it arrived: the payload is never changed (a trigger in
  PostgreSQL refuses it); processing writes only the status columns. A re-sent event (the same
  tenant and event id) is stored once.
- **Tracked sessions and events** are what the worker made of the raw rows (one event per raw
  row, whatever happens to the worker).
"""

import hashlib

from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import Q

from crm.models import TimestampedModel
from tracking import origins

EVENT_ID_LENGTH = 64
URL_LENGTH = 2048


def quoted_table(model: type[models.Model]) -> str:
    """A model's table as a hand-written statement names it."""
    return connection.ops.quote_name(model._meta.db_table)


def hash_key(identifier: str) -> str:
    """A tenant's hash key: 16 hex digits of the SHA-256 of its identifier (stable, spread
    evenly: what the raw table would be partitioned by)."""
    return hashlib.sha256(identifier.encode()).hexdigest()[:16]


class IPHandling(models.TextChoices):
    STORE = "store", "Store the address"
    TRUNCATE = "truncate", "Store it truncated (/24 for IPv4, /48 for IPv6)"
    DROP = "drop", "Do not store it"


class BotHandling(models.TextChoices):
    """What becomes of a browser's events when its user agent says it is a bot (a crawler that
    runs scripts, a headless browser). Server-side senders are never taken for bots."""

    FLAG = "flag", "Store them flagged as bots (kept out of sessions and figures)"
    DROP = "drop", "Do not store them (answered and counted)"


class TrackingTenant(TimestampedModel):
    name = models.CharField(max_length=100)
    identifier = models.SlugField(max_length=60, unique=True)
    hash_key = models.CharField(max_length=16, unique=True, editable=False)
    ingestion_key = models.CharField(max_length=64, unique=True)
    webhook_secret = models.CharField(max_length=64)
    # After a rotation the previous key and secret keep working until this moment, so that
    # websites and providers move to the new ones without losing events (blank: none).
    previous_ingestion_key = models.CharField(max_length=64, blank=True, default="")
    previous_webhook_secret = models.CharField(max_length=64, blank=True, default="")
    previous_keys_expire_at = models.DateTimeField(null=True, blank=True)
    # Origins whose pages may send events with the key ("https://shop.example.com"), each as a
    # browser writes it (tracking.origins); a browser request from any other is refused.
    allowed_origins = models.JSONField(default=list, blank=True)
    # Stored flagged by default: the user-agent test is a guess, and a guess that drops events
    # loses them for good, while a flagged row costs only its storage until retention.
    bot_handling = models.CharField(
        max_length=10, choices=BotHandling.choices, default=BotHandling.FLAG
    )
    ip_handling = models.CharField(
        max_length=10, choices=IPHandling.choices, default=IPHandling.TRUNCATE
    )
    active = models.BooleanField(default=True)
    # Refuse every event at once (403) while keeping the keys: an incident, a runaway script.
    kill_switch = models.BooleanField(default=False)
    # Requests a minute allowed to this tenant (blank: the TRACKING_RATE_* settings).
    rate_per_minute = models.PositiveIntegerField(null=True, blank=True)
    webhook_rate_per_minute = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ip_handling__in=IPHandling.values),
                name="tenant_ip_handling_valid",
                violation_error_message="Store, truncate or drop the address.",
            ),
            models.CheckConstraint(
                condition=Q(bot_handling__in=BotHandling.values),
                name="tenant_bot_handling_valid",
                violation_error_message="Store bots' events flagged, or drop them.",
            ),
            # A previous key or secret always has its end; no end without one of them.
            models.CheckConstraint(
                condition=Q(
                    previous_keys_expire_at__isnull=True,
                    previous_ingestion_key="",
                    previous_webhook_secret="",
                )
                | (
                    Q(previous_keys_expire_at__isnull=False)
                    & ~Q(previous_ingestion_key="", previous_webhook_secret="")
                ),
                name="tenant_previous_keys_expire",
                violation_error_message="Previous keys are kept with the moment they expire.",
            ),
        ]
        indexes = [
            # A key the cache does not hold is looked up as current or previous key.
            models.Index(
                fields=["previous_ingestion_key"],
                condition=~Q(previous_ingestion_key=""),
                name="tenant_previous_key",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            self.allowed_origins = origins.normalised(self.allowed_origins)
        except ValidationError as error:
            raise ValidationError({"allowed_origins": error.messages}) from None

    def save(self, *args, **kwargs):
        self.hash_key = hash_key(self.identifier)
        super().save(*args, **kwargs)


class RawStatus(models.IntegerChoices):
    # A row is processing while a worker's transaction holds it (tracking.processing); that is
    # not stored. 1 was PROCESSING when it was, and is not used again.
    PENDING = 0, "Pending"
    PROCESSED = 2, "Processed"
    FAILED = 3, "Failed"


class FailureReason(models.TextChoices):
    """Why a raw row could not be turned into an event (a typed "bad row")."""

    SCHEMA_VIOLATION = "schema_violation", "Schema violation"
    ENRICHMENT_FAILURE = "enrichment_failure", "Enrichment failure"
    TENANT_GONE = "tenant_gone", "Tenant deleted or inactive"


class RawEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    # Enforced in the database by triggers (migration 0005), not a declared foreign key: that
    # checks and locks the tenant once per row, a fifth of every ingestion; the triggers do it
    # once per statement, with the same lock.
    tenant = models.ForeignKey(
        TrackingTenant, on_delete=models.PROTECT, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip
    received_at = models.DateTimeField()
    client_timestamp = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The client's clock was far from ours (a timestamp in the future or long past).
    clock_skew = models.BooleanField(default=False)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    # A browser's request whose user agent says it is a bot, kept for the record (the tenant
    # stores them, BotHandling.FLAG): processed into no session and no event.
    bot = models.BooleanField(default=False, db_default=False)
    payload = models.JSONField()
    record_source = models.CharField(max_length=40)
    event_id = models.CharField(max_length=EVENT_ID_LENGTH)
    status = models.PositiveSmallIntegerField(choices=RawStatus.choices, default=RawStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    failure_reason = models.CharField(max_length=30, choices=FailureReason.choices, blank=True)
    # After a failure, not before then (backoff).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # What SQLite has. PostgreSQL's table is in day partitions (migration 0009,
            # tracking.partitions), each with this unique index on its own (a partitioned
            # table's unique index must hold its partition key): "once within 48 hours" is
            # ingestion's look-up across days. A migration that changes this constraint must
            # do on PostgreSQL what the partitions need, by SQL of its own as 0009 does (the
            # state left as it is); verify_deployment checks the partitions' indexes.
            models.UniqueConstraint(fields=["tenant", "event_id"], name="raw_event_once"),
            models.CheckConstraint(
                condition=Q(status__in=RawStatus.values),
                name="raw_status_valid",
                violation_error_message="Not a processing status.",
            ),
            models.CheckConstraint(
                condition=Q(status=RawStatus.PROCESSED, processed_at__isnull=False)
                | (~Q(status=RawStatus.PROCESSED) & Q(processed_at__isnull=True)),
                name="raw_processed_at_matches_status",
                violation_error_message="A processed row has the moment it was processed.",
            ),
        ]
        indexes = [
            # The worker: pending rows in id order.
            models.Index(fields=["id"], condition=Q(status=RawStatus.PENDING), name="raw_pending"),
            models.Index(
                fields=["tenant", "status"],
                condition=Q(status=RawStatus.FAILED),
                name="raw_failed",
            ),
            models.Index(fields=["tenant", "received_at"], name="raw_tenant_received"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}:{self.event_id}"


class TrackedSession(models.Model):
    # No index of its own: session_once and session_tenant_first both lead with the tenant.
    tenant = models.ForeignKey(
        TrackingTenant, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    session_key = models.CharField(max_length=128)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    page_views = models.PositiveIntegerField(default=0)
    events = models.PositiveIntegerField(default=0)
    entry_url = models.CharField(max_length=URL_LENGTH, blank=True)
    exit_url = models.CharField(max_length=URL_LENGTH, blank=True)
    referrer_host = models.CharField(max_length=255, blank=True)
    device = models.CharField(max_length=20, blank=True)
    browser = models.CharField(max_length=30, blank=True)
    # The first sighting before the worker last moved the session on (blank: it made it then).
    # The worker's upsert returns it, so that the rollup of sessions moves the session from
    # where it was counted to where it is now, exactly, however many workers touch it.
    first_seen_before = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "session_key"], name="session_once"),
            models.CheckConstraint(
                condition=Q(last_seen__gte=models.F("first_seen")),
                name="session_seen_in_order",
                violation_error_message="A session is last seen after it is first seen.",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "first_seen"], name="session_tenant_first")]

    def __str__(self) -> str:
        return self.session_key


class TrackedEvent(models.Model):
    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey(
        TrackingTenant, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    session = models.ForeignKey(  # indexed by event_session (one index, not two)
        TrackedSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False,
    )  # fmt: skip
    # The raw row it was made from (not a foreign key: events outlive the raw rows retention
    # deletes); unique, so that processing a row again never makes a second event.
    raw_event_id = models.BigIntegerField(unique=True)
    evt_type = models.CharField(max_length=64)
    url_path = models.CharField(max_length=URL_LENGTH, blank=True)
    referrer_host = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField()
    props = models.JSONField(default=dict)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "occurred_at"], name="event_tenant_occurred"),
            models.Index(fields=["session"], name="event_session"),
        ]

    def __str__(self) -> str:
        return f"{self.evt_type} @ {self.occurred_at}"


# --- Rollups --------------------------------------------------------------------------------
# What the dashboards read instead of the raw rows and events: counts per tenant and time
# bucket, added to by the worker in the transaction that writes the events (tracking.processing)
# and rebuilt from the events by `rebuild_tracking_rollups`. Buckets are moments in UTC.


class EventsByMinute(models.Model):
    """Events made from raw rows, a minute by the minute their rows were received (the axis of
    the dashboard's chart), by event type and source."""

    tenant = models.ForeignKey(
        TrackingTenant, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    minute = models.DateTimeField()
    evt_type = models.CharField(max_length=64)
    record_source = models.CharField(max_length=40)
    n = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "minute", "evt_type", "record_source"], name="rollup_minute_once"
            ),
            models.CheckConstraint(
                condition=Q(n__gte=0),
                name="rollup_minute_counted",
                violation_error_message="A count is never below zero.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.minute:%Y-%m-%d %H:%M} {self.evt_type}: {self.n}"


class PageViewsByHour(models.Model):
    """Page views (events of type page_view with a path), an hour by when they occurred, by
    path."""

    tenant = models.ForeignKey(
        TrackingTenant, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    hour = models.DateTimeField()
    url_path = models.CharField(max_length=URL_LENGTH)
    n = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "hour", "url_path"], name="rollup_hour_once"),
            models.CheckConstraint(
                condition=Q(n__gte=0),
                name="rollup_hour_counted",
                violation_error_message="A count is never below zero.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.hour:%Y-%m-%d %H}h {self.url_path}: {self.n}"


class SessionsByQuarter(models.Model):
    """Sessions by the quarter of an hour they were first seen in, and those of them that
    bounced (one page view at most). A quarter, not a day: the dashboard's day begins at the
    viewer's midnight, and every time zone's midnight is on a quarter of an hour in UTC."""

    tenant = models.ForeignKey(
        TrackingTenant, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    quarter = models.DateTimeField()
    sessions = models.BigIntegerField()
    bounced = models.BigIntegerField()

    class Meta:
        # No check of the counts: the worker adds signed changes (a session leaves the quarter
        # it was counted in), and PostgreSQL checks a proposed row before it finds the row it
        # conflicts with, so a change below zero would be refused.
        constraints = [
            models.UniqueConstraint(fields=["tenant", "quarter"], name="rollup_quarter_once"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.quarter:%Y-%m-%d %H:%M}: {self.sessions}"
