"""Core CRM data: teams, reps, customers, deals, activities, tasks, products, routes and the audit
trail.

Single-row invariants live here as database constraints; rules that span rows live in services.
"""

import datetime as dt
import re
import zoneinfo
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.periods import EARLIEST, LATEST, OUT_OF_RANGE, validate_in_range

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"'{value}' is not a known time zone (e.g. Europe/Madrid).")


def _in_range(field: str, name: str) -> models.CheckConstraint:
    """The database's side of crm.periods.validate_in_range (offsets aside: it stores UTC)."""
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True})
        | Q(**{f"{field}__gte": EARLIEST, f"{field}__lt": LATEST}),
        name=name,
        violation_error_message=OUT_OF_RANGE,
    )


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


class CustomerQuerySet(models.QuerySet):
    def signed_up_between(self, start, end):
        """Customers signed up in [start, end): the signups a rep's goals count."""
        return self.filter(signed_up_at__gte=start, signed_up_at__lt=end)


PHONE_INVALID = "Enter a phone number: at least 3 digits, with spaces and + ( ) - . if you like."
# A number a phone can dial: ASCII digits with the usual separators, "+" only in front, at
# least three digits. Said as searches that PostgreSQL and SQLite run alike (no anchors: "$"
# means something else in each), so the validator and the database constraint are one rule.
PHONE_NOT_ALLOWED = r"[^0-9 ().+-]"  # a character that is none of those
PHONE_PLUS_INSIDE = r".[+]"  # a "+" anywhere but in front
PHONE_THREE_DIGITS = r"[0-9].*[0-9].*[0-9]"
PHONE_DIALABLE = (
    ~Q(phone__regex=PHONE_NOT_ALLOWED)
    & ~Q(phone__regex=PHONE_PLUS_INSIDE)
    & Q(phone__regex=PHONE_THREE_DIGITS)
)


def validate_phone(value: str) -> None:
    if (
        re.search(PHONE_NOT_ALLOWED, value)
        or re.search(PHONE_PLUS_INSIDE, value)
        or not re.search(PHONE_THREE_DIGITS, value)
    ):
        raise ValidationError(PHONE_INVALID, code="phone")


class Customer(TimestampedModel):
    name = models.CharField(max_length=200)
    code = models.CharField(max_length=30, unique=True)
    # Who the rep asks for, and how to reach them.
    # Empty by the database's own default too: rows loaded in bulk (COPY, INSERT … SELECT) need
    # not name every contact column.
    contact_name = models.CharField(max_length=120, blank=True, db_default="")
    phone = models.CharField(max_length=40, blank=True, db_default="", validators=[validate_phone])
    email = models.EmailField(blank=True, db_default="")
    address = models.CharField(max_length=300, blank=True)
    owner = models.ForeignKey(  # indexed by customer_owner_signup
        SalesRep, on_delete=models.PROTECT, null=True, blank=True, related_name="customers",
        db_index=False,
    )  # fmt: skip
    status = models.CharField(
        max_length=20, choices=CustomerStatus.choices, default=CustomerStatus.PROSPECT
    )
    # The "signup": when a rep signed this customer. Set exactly when the customer stops being
    # a prospect, through services.customer_sign_up.
    signed_up_at = models.DateTimeField(null=True, blank=True, validators=[validate_in_range])

    objects = CustomerQuerySet.as_manager()

    class Meta:
        # The id breaks ties between customers of the same name, so pages neither repeat
        # nor skip rows.
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=CustomerStatus.values),
                name="customer_status_valid",
                violation_error_message="Choose a known customer status.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=CustomerStatus.PROSPECT, signed_up_at__isnull=True)
                    | (~Q(status=CustomerStatus.PROSPECT) & Q(signed_up_at__isnull=False))
                ),
                name="customer_signed_up_at_matches_status",
                violation_error_message=(
                    "A prospect has no sign-up date; an active or inactive customer has one."
                ),
            ),
            _in_range("signed_up_at", "customer_signed_up_at_in_range"),
            models.CheckConstraint(
                condition=Q(phone="") | PHONE_DIALABLE,
                name="customer_phone_dialable",
                violation_error_message=PHONE_INVALID,
            ),
        ]
        indexes = [models.Index(fields=["owner", "signed_up_at"], name="customer_owner_signup")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def phone_link(self) -> str:
        """The phone as a tel: link (RFC 3966 allows no spaces)."""
        return "tel:" + re.sub(r"[^0-9+]", "", self.phone) if self.phone else ""

    @property
    def map_link(self) -> str:
        """The address in a maps search (Google Maps' documented search URL)."""
        if not self.address:
            return ""
        return "https://www.google.com/maps/search/?api=1&" + urlencode({"query": self.address})


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
                condition=Q(unit__in=ProductUnit.values),
                name="product_unit_valid",
                violation_error_message="Choose a known unit.",
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

    @staticmethod
    def won_q(start, end) -> Q:
        """Won in [start, end), as a condition (for conditional aggregates)."""
        return Q(stage=DealStage.CLOSED_WON, closed_at__gte=start, closed_at__lt=end)

    def won_between(self, start, end):
        """Deals won in [start, end): the revenue and wins a rep's goals count."""
        return self.filter(self.won_q(start, end))


class Deal(TimestampedModel):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="deals")
    rep = models.ForeignKey(  # indexed by deal_rep_closed_at and deal_rep_created
        SalesRep, on_delete=models.PROTECT, related_name="deals", db_index=False
    )
    title = models.CharField(max_length=200)
    amount = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    stage = models.CharField(
        max_length=20, choices=DealStage.choices, default=DealStage.PROSPECTING
    )
    closed_at = models.DateTimeField(null=True, blank=True, validators=[validate_in_range])

    objects = DealQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=0),
                name="deal_amount_not_negative",
                violation_error_message="A deal's amount cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(stage__in=DealStage.values),
                name="deal_stage_valid",
                violation_error_message="Choose a known deal stage.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(stage__in=DealStage.closed(), closed_at__isnull=False)
                    | (~Q(stage__in=DealStage.closed()) & Q(closed_at__isnull=True))
                ),
                name="deal_closed_at_matches_stage",
                violation_error_message="A closed deal has a closing date; an open one has none.",
            ),
            _in_range("closed_at", "deal_closed_at_in_range"),
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

    @property
    def version(self) -> int:
        """The deal as last saved (microseconds of `updated_at`): an editor sends back the version
        they saw, and a save based on an older one is refused (crm.services.deal_update)."""
        return (self.updated_at - EPOCH) // dt.timedelta(microseconds=1)


class ActivityKind(models.TextChoices):
    CALL = "call", "Call"
    VISIT = "visit", "Visit"
    EMAIL = "email", "Email"
    MEETING = "meeting", "Meeting"


class ActivityStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class ActivityOutcome(models.TextChoices):
    """How an activity went, said when it is done."""

    ORDERED = "ordered", "Ordered"
    INTERESTED = "interested", "Interested"
    FOLLOW_UP = "follow_up", "Follow-up needed"
    NO_ANSWER = "no_answer", "No answer"
    NOT_INTERESTED = "not_interested", "Not interested"


class ActivityQuerySet(models.QuerySet):
    @staticmethod
    def completed_q(start, end) -> Q:
        return Q(status=ActivityStatus.COMPLETED, completed_at__gte=start, completed_at__lt=end)

    def completed_between(self, start, end):
        return self.filter(self.completed_q(start, end))


class Activity(TimestampedModel):
    rep = models.ForeignKey(  # indexed by activity_rep_due_at and activity_rep_completed_at
        SalesRep, on_delete=models.PROTECT, related_name="activities", db_index=False
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="activities"
    )
    kind = models.CharField(max_length=20, choices=ActivityKind.choices)
    status = models.CharField(
        max_length=20, choices=ActivityStatus.choices, default=ActivityStatus.PLANNED
    )
    subject = models.CharField(max_length=200, blank=True)
    due_at = models.DateTimeField(validators=[validate_in_range])
    completed_at = models.DateTimeField(null=True, blank=True, validators=[validate_in_range])
    outcome = models.CharField(
        max_length=20, choices=ActivityOutcome.choices, blank=True, db_default=""
    )
    notes = models.CharField(max_length=2000, blank=True, db_default="")

    objects = ActivityQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name_plural = "activities"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ActivityKind.values),
                name="activity_kind_valid",
                violation_error_message="Choose a known kind of activity.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ActivityStatus.values),
                name="activity_status_valid",
                violation_error_message="Choose a known activity status.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=ActivityStatus.COMPLETED, completed_at__isnull=False)
                    | (~Q(status=ActivityStatus.COMPLETED) & Q(completed_at__isnull=True))
                ),
                name="activity_completed_at_matches_status",
                violation_error_message=(
                    "A completed activity has a completion date; any other has none."
                ),
            ),
            _in_range("due_at", "activity_due_at_in_range"),
            _in_range("completed_at", "activity_completed_at_in_range"),
            models.CheckConstraint(
                condition=Q(outcome="") | Q(outcome__in=ActivityOutcome.values),
                name="activity_outcome_valid",
                violation_error_message="Choose a known outcome.",
            ),
            models.CheckConstraint(
                condition=Q(outcome="") | Q(status=ActivityStatus.COMPLETED),
                name="activity_outcome_when_completed",
                violation_error_message="Only an activity that was done has an outcome.",
            ),
        ]
        indexes = [
            models.Index(fields=["rep", "completed_at"], name="activity_rep_completed_at"),
            models.Index(fields=["rep", "due_at"], name="activity_rep_due_at"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.subject}".strip()

    @property
    def is_overdue(self) -> bool:
        return self.status == ActivityStatus.PLANNED and self.due_at < timezone.now()


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"


class TaskQuerySet(models.QuerySet):
    def completed_between(self, start, end):
        return self.filter(status=TaskStatus.DONE, completed_at__gte=start, completed_at__lt=end)


class Task(TimestampedModel):
    rep = models.ForeignKey(  # indexed by task_rep_status_due
        SalesRep, on_delete=models.PROTECT, related_name="tasks", db_index=False
    )
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    due_at = models.DateTimeField(null=True, blank=True, validators=[validate_in_range])
    completed_at = models.DateTimeField(null=True, blank=True, validators=[validate_in_range])

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TaskStatus.values),
                name="task_status_valid",
                violation_error_message="Choose a known task status.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(status=TaskStatus.DONE, completed_at__isnull=False)
                    | Q(status=TaskStatus.OPEN, completed_at__isnull=True)
                ),
                name="task_completed_at_matches_status",
                violation_error_message="A done task has a completion date; an open one has none.",
            ),
            _in_range("due_at", "task_due_at_in_range"),
            _in_range("completed_at", "task_completed_at_in_range"),
        ]
        indexes = [models.Index(fields=["rep", "status", "due_at"], name="task_rep_status_due")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_overdue(self) -> bool:
        return (
            self.status == TaskStatus.OPEN
            and self.due_at is not None
            and self.due_at < timezone.now()
        )


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


# The most of anything the CRM counts in whole units (a stop's planned quantity, what was
# delivered there): six digits, in every app's forms, API and database constraints.
MAX_QUANTITY = 999_999


class RouteStop(models.Model):
    route = models.ForeignKey(  # indexed by route_stop_unique_sequence
        Route, on_delete=models.CASCADE, related_name="stops", db_index=False
    )
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="route_stops")
    sequence = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    # Whole units (cases, kegs, kilograms rounded): what the rep plans to sell at the stop.
    planned_quantity = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(MAX_QUANTITY)]
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
                condition=Q(sequence__gte=1),
                name="route_stop_sequence_positive",
                violation_error_message="Stops are numbered from 1.",
            ),
            models.CheckConstraint(
                condition=Q(planned_quantity__gte=0),
                name="route_stop_quantity_not_negative",
                violation_error_message="A planned quantity cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(planned_quantity__lte=MAX_QUANTITY),
                name="route_stop_quantity_at_most_max",
                violation_error_message=f"A planned quantity is at most {MAX_QUANTITY:,}.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.route.code} #{self.sequence}"


# --- Audit ------------------------------------------------------------------------------------

# What each audited action is called on the pages and in Django admin ("goal.adjust" → "Value
# set by hand"). Every app names its own actions with crm.writes.name_actions.
ACTION_LABELS: dict[str, str] = {}


def _fields_of(target_type: str) -> dict[str, models.Field]:
    from django.apps import apps

    try:
        model = apps.get_model(target_type)
    except (LookupError, ValueError):
        return {}
    return {field.name: field for field in model._meta.concrete_fields} | {
        field.attname: field for field in model._meta.concrete_fields
    }


def _field_label(field: models.Field | None, name: str) -> str:
    text = str(field.verbose_name) if field is not None else name.replace("_", " ")
    return text[:1].upper() + text[1:]


def _value_label(field: models.Field | None, value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    return str(value)


class AuditEntry(models.Model):
    """One row per write made through a service: who did what to which record. The actor is a
    user, or a job or task by name (`system_actor`); never both."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    system_actor = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=60)
    target_type = models.CharField(max_length=60)
    target_id = models.CharField(max_length=40)
    changes = models.JSONField(default=dict, blank=True)
    # Why, when the writer had to say (a manual adjustment's justification).
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]
        constraints = [
            models.CheckConstraint(
                condition=Q(actor__isnull=True) | Q(system_actor=""),
                name="audit_entry_one_actor",
                violation_error_message="An audit entry names a user or a job, not both.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}#{self.target_id}"

    @property
    def action_label(self) -> str:
        """What was done, as people say it ("Deal won or lost"), from the labels each app gives
        its actions (crm.writes.name_actions); else the action made readable."""
        if self.action in ACTION_LABELS:
            return ACTION_LABELS[self.action]
        return self.action.replace(".", " ").replace("_", " ").capitalize()

    @property
    def change_lines(self) -> list[str]:
        """The changes as lines to read, with the fields' labels and the choices' names:
        "Status: On track → Off track" (or "Title: Spring order")."""
        fields = _fields_of(self.target_type)
        lines = []
        for name, change in (self.changes or {}).items():
            field = fields.get(name)
            label = _field_label(field, name)
            if isinstance(change, list) and len(change) == 2:
                old, new = (_value_label(field, value) for value in change)
                lines.append(f"{label}: {old} → {new}")
            else:
                lines.append(f"{label}: {_value_label(field, change)}")
        return lines

    @property
    def actor_name(self) -> str:
        if self.system_actor:
            return self.system_actor
        return self.actor.get_username() if self.actor_id else "—"


# The job platform's records and the areas' switches are defined with them (crm/jobs/models.py,
# crm/switches/models.py). Importing them here is what registers them with this app: Django
# reads an app's models from its models module.
from crm.idempotency.models import IdempotencyKey  # noqa: E402, F401 (the API's keys)
from crm.jobs.models import DeadLetter, Heartbeat, JobLock, JobRun  # noqa: E402, F401
from crm.switches.models import AreaSwitch  # noqa: E402, F401
