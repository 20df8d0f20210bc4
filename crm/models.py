"""Core CRM data (teams, reps, customers, deals, activities, tasks, products, routes) and the job
platform's records (locks, job runs, dead letters, heartbeats, audit entries).

Single-row invariants live here as database constraints; rules that span rows live in services.
"""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not a known time zone (e.g. Europe/Madrid).")


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


# --- Organisation -----------------------------------------------------------------------------


class Team(TimestampedModel):
    name = models.CharField(max_length=100, unique=True)
    # A team outlives its manager's account: the supervisor seat is simply empty.
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_teams",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SalesRep(TimestampedModel):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sales_rep"
    )
    # Reps carry history (deals, activities): a team with reps cannot be deleted by accident.
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="reps")
    employee_code = models.CharField(max_length=20, unique=True)
    active = models.BooleanField(default=True)
    hire_date = models.DateField()
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])

    class Meta:
        ordering = ["employee_code"]
        verbose_name = "sales rep"

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


# --- Customers and products -------------------------------------------------------------------


class CustomerStatus(models.TextChoices):
    PROSPECT = "prospect", "Prospect"
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


class Customer(TimestampedModel):
    name = models.CharField(max_length=200)
    code = models.CharField(max_length=30, unique=True)
    address = models.CharField(max_length=300, blank=True)
    owner = models.ForeignKey(
        SalesRep, on_delete=models.PROTECT, null=True, blank=True, related_name="customers"
    )
    status = models.CharField(
        max_length=20, choices=CustomerStatus.choices, default=CustomerStatus.PROSPECT
    )
    # The "signup": when a rep signed this customer. Set exactly when the customer stops being
    # a prospect, through services.customer_sign_up.
    signed_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The id breaks ties between customers of the same name, so pages neither repeat
        # nor skip rows.
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=CustomerStatus.values),
                name="customer_status_valid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=CustomerStatus.PROSPECT, signed_up_at__isnull=True)
                    | (~Q(status=CustomerStatus.PROSPECT) & Q(signed_up_at__isnull=False))
                ),
                name="customer_signed_up_at_matches_status",
            ),
        ]
        indexes = [models.Index(fields=["owner", "signed_up_at"], name="customer_owner_signup")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class ProductUnit(models.TextChoices):
    UNIT = "unit", "Unit"
    CASE = "case", "Case"
    KG = "kg", "Kilogram"
    LITRE = "l", "Litre"


class Product(TimestampedModel):
    sku = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    unit = models.CharField(max_length=10, choices=ProductUnit.choices, default=ProductUnit.UNIT)

    class Meta:
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(
                condition=Q(unit__in=ProductUnit.values), name="product_unit_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


# --- Deals, activities, tasks -----------------------------------------------------------------


class DealStage(models.TextChoices):
    PROSPECTING = "prospecting", "Prospecting"
    QUALIFIED = "qualified", "Qualified"
    PROPOSAL = "proposal", "Proposal"
    CLOSED_WON = "closed_won", "Closed won"
    CLOSED_LOST = "closed_lost", "Closed lost"

    @classmethod
    def closed(cls) -> list[str]:
        return [cls.CLOSED_WON, cls.CLOSED_LOST]

    @classmethod
    def open_choices(cls) -> list[tuple[str, str]]:
        """The stages a deal may be created in or moved to; closing goes through deal_close."""
        return [(value, label) for value, label in cls.choices if value not in cls.closed()]


class DealOutcome(models.TextChoices):
    """How a deal closes (the input of deal_close)."""

    WON = "won", "Won"
    LOST = "lost", "Lost"


class DealQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(stage__in=DealStage.closed())

    def closed(self):
        return self.filter(stage__in=DealStage.closed())

    def won(self):
        return self.filter(stage=DealStage.CLOSED_WON)


class Deal(TimestampedModel):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="deals")
    rep = models.ForeignKey(SalesRep, on_delete=models.PROTECT, related_name="deals")
    title = models.CharField(max_length=200)
    amount = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    stage = models.CharField(
        max_length=20, choices=DealStage.choices, default=DealStage.PROSPECTING
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = DealQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="deal_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(stage__in=DealStage.values), name="deal_stage_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(stage__in=DealStage.closed(), closed_at__isnull=False)
                    | (~Q(stage__in=DealStage.closed()) & Q(closed_at__isnull=True))
                ),
                name="deal_closed_at_matches_stage",
            ),
        ]
        indexes = [
            models.Index(fields=["rep", "closed_at"], name="deal_rep_closed_at"),
            models.Index(fields=["stage"], name="deal_stage"),
            # The deals list orders newest first; these serve it for admins and per rep.
            models.Index(fields=["-created_at", "-id"], name="deal_created"),
            models.Index(fields=["rep", "-created_at", "-id"], name="deal_rep_created"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_closed(self) -> bool:
        return self.stage in DealStage.closed()


class ActivityKind(models.TextChoices):
    CALL = "call", "Call"
    VISIT = "visit", "Visit"
    EMAIL = "email", "Email"
    MEETING = "meeting", "Meeting"


class ActivityStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class Activity(TimestampedModel):
    rep = models.ForeignKey(SalesRep, on_delete=models.PROTECT, related_name="activities")
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="activities"
    )
    kind = models.CharField(max_length=20, choices=ActivityKind.choices)
    status = models.CharField(
        max_length=20, choices=ActivityStatus.choices, default=ActivityStatus.PLANNED
    )
    subject = models.CharField(max_length=200, blank=True)
    due_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name_plural = "activities"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ActivityKind.values), name="activity_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ActivityStatus.values), name="activity_status_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=ActivityStatus.COMPLETED, completed_at__isnull=False)
                    | (~Q(status=ActivityStatus.COMPLETED) & Q(completed_at__isnull=True))
                ),
                name="activity_completed_at_matches_status",
            ),
        ]
        indexes = [
            models.Index(fields=["rep", "completed_at"], name="activity_rep_completed_at"),
            models.Index(fields=["rep", "due_at"], name="activity_rep_due_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.subject}".strip()


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"


class Task(TimestampedModel):
    rep = models.ForeignKey(SalesRep, on_delete=models.PROTECT, related_name="tasks")
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    due_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TaskStatus.values), name="task_status_valid"
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=TaskStatus.DONE, completed_at__isnull=False)
                    | Q(status=TaskStatus.OPEN, completed_at__isnull=True)
                ),
                name="task_completed_at_matches_status",
            ),
        ]
        indexes = [models.Index(fields=["rep", "status", "due_at"], name="task_rep_status_due")]

    def __str__(self) -> str:
        return self.title


# --- Routes -----------------------------------------------------------------------------------


class Route(TimestampedModel):
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=100)
    rep = models.ForeignKey(
        SalesRep, on_delete=models.SET_NULL, null=True, blank=True, related_name="routes"
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class RouteStop(models.Model):
    route = models.ForeignKey(Route, on_delete=models.CASCADE, related_name="stops")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="route_stops")
    sequence = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    planned_quantity = models.DecimalField(
        max_digits=10, decimal_places=2, default=0, validators=[MinValueValidator(0)]
    )

    class Meta:
        ordering = ["route", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["route", "sequence"], name="route_stop_unique_sequence"
            ),
            models.UniqueConstraint(
                fields=["route", "customer"], name="route_stop_unique_customer"
            ),
            models.CheckConstraint(
                condition=Q(sequence__gte=1), name="route_stop_sequence_positive"
            ),
            models.CheckConstraint(
                condition=Q(planned_quantity__gte=0), name="route_stop_quantity_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.route.code} #{self.sequence}"


# --- Audit ------------------------------------------------------------------------------------


class AuditEntry(models.Model):
    """One row per write made through a service: who did what to which record."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    action = models.CharField(max_length=60)
    target_type = models.CharField(max_length=60)
    target_id = models.CharField(max_length=40)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}#{self.target_id}"


# --- Job platform -----------------------------------------------------------------------------


class JobLock(models.Model):
    """A lease on a job name. Expired leases may be taken over, so a crashed holder blocks
    nobody for longer than the lease."""

    name = models.CharField(max_length=100, primary_key=True)
    holder = models.CharField(max_length=64)
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class JobRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED_LOCKED = "skipped_locked", "Skipped (locked)"


class JobRun(models.Model):
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=20, choices=JobRunStatus.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    items_processed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=JobRunStatus.values), name="job_run_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["name", "-started_at"], name="job_run_name_started")]

    def __str__(self) -> str:
        return f"{self.name} {self.started_at:%Y-%m-%d %H:%M} {self.status}"

    @property
    def duration(self):
        return self.finished_at - self.started_at if self.finished_at else None


class DeadLetter(models.Model):
    """A task that failed after its last retry. The same task with the same arguments failing
    again updates its letter rather than adding another."""

    task_name = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    error = models.TextField()
    traceback = models.TextField(blank=True)
    failure_count = models.PositiveIntegerField(default=1)
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()
    retried = models.BooleanField(default=False)
    retried_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_failed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task_name", "fingerprint"], name="dead_letter_unique_task_args"
            ),
        ]
        indexes = [models.Index(fields=["retried", "last_failed_at"], name="dead_letter_pending")]

    def __str__(self) -> str:
        return f"{self.task_name} ({self.failure_count} failures)"


class Heartbeat(models.Model):
    """When a background component (worker, beat) last showed it was alive."""

    component = models.CharField(max_length=30, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.component} @ {self.seen_at:%H:%M:%S}"
