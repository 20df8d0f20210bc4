"""Supervision: a supervisor's review of one route on one day.

- A **session** is a route on a date (one per route and date, an opaque id). It holds one
  **line** per stop of the route as it was when the session began: customer, stop order,
  planned quantity, and what the supervisor recorded (visited, actual quantity, reason, note).
- Its **summary** holds the route-sales figures of the lines and the session's
  `record_version`: every write names the version it was based on and is a conditional update
  of this row, so two supervisors never overwrite each other silently.
- **Analyses** (customer and route reviews) are kept by a hash of their inputs: the same
  question about unchanged data is answered from here.

Single-row rules are database constraints; the rules across rows live in services.
"""

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from crm.models import MAX_QUANTITY, Customer, Route, RouteStop, TimestampedModel
from crm.periods import validate_in_range

NOTE_LENGTH = 500


class SessionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SAVED = "saved", "Saved"


class ReasonCode(models.TextChoices):
    """Why a stop was not visited, or a visit sold nothing: counted, not only read."""

    CLOSED = "closed", "Closed"
    OWNER_ABSENT = "owner_absent", "Owner absent"
    STOCK_SUFFICIENT = "stock_sufficient", "Stock sufficient"
    REFUSED = "refused", "Refused"
    CREDIT_HOLD = "credit_hold", "Credit hold"
    OTHER = "other", "Other (see note)"


class SupervisionSession(TimestampedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    route = models.ForeignKey(  # indexed by supervision_one_per_route_day
        Route, on_delete=models.PROTECT, related_name="supervision_sessions", db_index=False
    )
    date = models.DateField(validators=[validate_in_range])
    status = models.CharField(
        max_length=10, choices=SessionStatus.choices, default=SessionStatus.DRAFT
    )
    saved_at = models.DateTimeField(null=True, blank=True)
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # An admin reopened it after it was saved: editable again, whatever its date.
    reopened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-date", "route"]
        constraints = [
            models.UniqueConstraint(fields=["route", "date"], name="supervision_one_per_route_day"),
            models.CheckConstraint(
                condition=Q(status__in=SessionStatus.values),
                name="supervision_status_valid",
                violation_error_message="A session is a draft or saved.",
            ),
            models.CheckConstraint(
                condition=Q(status=SessionStatus.SAVED, saved_at__isnull=False)
                | Q(~Q(status=SessionStatus.SAVED), saved_at__isnull=True),
                name="supervision_saved_at_matches_status",
                violation_error_message="A saved session has the moment it was saved.",
            ),
            models.CheckConstraint(
                condition=Q(date__gte=dt.date(1970, 1, 1), date__lt=dt.date(2100, 1, 1)),
                name="supervision_date_in_range",
                violation_error_message="Enter a date between 1970 and 2099.",
            ),
        ]
        # (route, date) is indexed by supervision_one_per_route_day, read either way.

    def __str__(self) -> str:
        return f"{self.route.code} on {self.date:%Y-%m-%d}"


class SessionLine(models.Model):
    session = models.ForeignKey(  # indexed by line_one_per_order and line_one_per_customer
        SupervisionSession, on_delete=models.CASCADE, related_name="lines", db_index=False
    )
    # The stop it came from (gone if the route changed since: the line stays as it was).
    stop = models.ForeignKey(
        RouteStop, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    customer = models.ForeignKey(  # indexed by line_customer
        Customer, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    stop_order = models.PositiveSmallIntegerField()
    planned_quantity = models.PositiveIntegerField(default=0)
    actual_quantity = models.PositiveIntegerField(default=0)
    visited = models.BooleanField(default=False)
    reason = models.CharField(max_length=20, choices=ReasonCode.choices, blank=True)
    note = models.CharField(max_length=NOTE_LENGTH, blank=True)

    class Meta:
        ordering = ["session", "stop_order"]
        constraints = [
            models.UniqueConstraint(fields=["session", "customer"], name="line_one_per_customer"),
            models.UniqueConstraint(fields=["session", "stop_order"], name="line_one_per_order"),
            models.CheckConstraint(
                condition=Q(actual_quantity__gte=0, actual_quantity__lte=MAX_QUANTITY),
                name="line_quantity_in_range",
                violation_error_message="Quantity cannot exceed 999,999",
            ),
            models.CheckConstraint(
                condition=Q(planned_quantity__gte=0),
                name="line_planned_not_negative",
                violation_error_message="A planned quantity cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(visited=True) | Q(actual_quantity=0),
                name="line_sale_was_a_visit",
                violation_error_message="A stop with a quantity was visited.",
            ),
            models.CheckConstraint(
                condition=Q(reason="") | Q(visited=False) | Q(actual_quantity=0),
                name="line_reason_for_a_miss",
                violation_error_message="A reason explains a missed stop or a visit that sold "
                "nothing.",
            ),
            models.CheckConstraint(
                condition=Q(reason="") | Q(reason__in=ReasonCode.values),
                name="line_reason_valid",
                violation_error_message="Choose one of the reasons.",
            ),
            models.CheckConstraint(
                condition=~Q(reason=ReasonCode.OTHER) | ~Q(note=""),
                name="line_other_has_a_note",
                violation_error_message="Say in the note what happened (reason: other).",
            ),
        ]
        indexes = [models.Index(fields=["customer", "session"], name="line_customer")]

    def __str__(self) -> str:
        return f"{self.session} #{self.stop_order}"

    @property
    def productive(self) -> bool:
        return self.visited and self.actual_quantity > 0


class RouteSummary(models.Model):
    """A session's route-sales figures (goals of the day against what happened) and its
    version. Figures are percents of the stops planned, quantities whole numbers in the
    products' units."""

    session = models.OneToOneField(
        SupervisionSession, on_delete=models.CASCADE, primary_key=True, related_name="summary"
    )
    record_version = models.PositiveIntegerField(default=1)
    customers_planned = models.PositiveIntegerField(default=0)
    customers_visited = models.PositiveIntegerField(default=0)
    productive_stops = models.PositiveIntegerField(default=0)
    zero_sale_visits = models.PositiveIntegerField(default=0)
    unvisited_stops = models.PositiveIntegerField(default=0)
    visit_compliance = models.DecimalField(max_digits=6, decimal_places=2, default=0)
    strike_rate = models.DecimalField(max_digits=6, decimal_places=2, default=0)
    planned_total = models.PositiveBigIntegerField(default=0)
    actual_total = models.PositiveBigIntegerField(default=0)
    # Planned minus actual: what the day fell short by (negative: above plan).
    gap = models.BigIntegerField(default=0)
    achievement_percent = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    # The average actual of a stop that sold something.
    drop_size = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    # Who wrote this version, and when (a person's name, or a job's).
    written_by = models.CharField(max_length=150, blank=True)
    written_at = models.DateTimeField(null=True, blank=True)
    # The client's token of the write that made this version: the same write sent again (a
    # double click, a retry after a lost answer) is recognised and applied once.
    client_token = models.UUIDField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "route summaries"
        constraints = [
            models.CheckConstraint(
                condition=Q(record_version__gte=1),
                name="summary_version_positive",
                violation_error_message="Versions start at 1.",
            ),
            models.CheckConstraint(
                condition=Q(customers_visited__lte=models.F("customers_planned"))
                & Q(productive_stops__lte=models.F("customers_visited")),
                name="summary_counts_consistent",
                violation_error_message="A summary counts no more visits than stops.",
            ),
        ]

    def __str__(self) -> str:
        return f"Summary of {self.session_id} v{self.record_version}"


class AnalysisKind(models.TextChoices):
    CUSTOMER = "customer", "Customer review"
    ROUTE = "route", "Route review"


class Analysis(models.Model):
    """A review as a provider wrote it, kept by the hash of what it was asked (provider, kind,
    the figures it saw). Asked again about unchanged data, it is answered from here."""

    key = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=10, choices=AnalysisKind.choices)
    provider = models.CharField(max_length=100)
    route = models.ForeignKey(  # indexed by analysis_route_day
        Route, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    date = models.DateField()
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    figures = models.JSONField()
    findings = models.JSONField(default=list)
    suggestions = models.JSONField(default=list)
    # Why the configured provider's answer was not used (the rules answered instead).
    fallback_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    hits = models.PositiveIntegerField(default=0)
    last_hit_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "analyses"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=AnalysisKind.ROUTE, customer__isnull=True)
                | Q(kind=AnalysisKind.CUSTOMER, customer__isnull=False),
                name="analysis_customer_matches_kind",
                violation_error_message="A customer review names its customer; a route review "
                "names none.",
            ),
        ]
        indexes = [models.Index(fields=["route", "date", "kind"], name="analysis_route_day")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.route_id} on {self.date}"
