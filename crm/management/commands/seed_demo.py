"""Demo data: `manage.py seed_demo [--reps N] [--months M] [--seed S]`.

Deterministic: each rep's data comes from its own `random.Random` seeded with (seed, rep number),
so rep7 gets the same customers, deals and activities whether 10 or 50 reps are seeded, and a run
with more reps equals a fresh run with that many.
Idempotent: a rep whose employee code exists is skipped with all its data, so a second run adds
nothing and a run with more --reps adds only the new reps. Everything runs in one transaction,
so a failed run leaves nothing half-made behind.

This is a loader, not a use case: it writes with bulk_create and bypasses the services (no audit
rows, no events), but every row satisfies the models' constraints. Each app adds its own demo
data through crm.demo (its demo.py), in the same transaction. Dates are relative to the
current hour: the last of the --months months is the current one, filled up to now, with planned
activities and open tasks for the rest of it.
"""

import math
import random
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from crm.demo import DemoContext, run_seeders
from crm.management.progress import progress_bar
from crm.models import (
    Activity,
    ActivityKind,
    ActivityOutcome,
    ActivityStatus,
    Customer,
    CustomerStatus,
    Deal,
    DealStage,
    Product,
    ProductUnit,
    Route,
    RouteStop,
    SalesRep,
    Task,
    TaskStatus,
    Team,
)
from crm.roles import GROUP_ADMIN, GROUP_REP, GROUP_SUPERVISOR

DEMO_PASSWORD = "demo1234"
REPS_PER_TEAM = 6
TEAM_NAMES = ["North", "South", "East", "West"]  # then "Team 5", "Team 6", ...
BATCH_SIZE = 1000
REPS_PER_CHUNK = 10  # reps generated in memory before one round of bulk inserts

# Relative activity per calendar month: busy spring and autumn, quiet August and December.
SEASONALITY = {
    1: 0.85,
    2: 0.95,
    3: 1.15,
    4: 1.2,
    5: 1.15,
    6: 1.0,
    7: 0.8,
    8: 0.5,
    9: 1.1,
    10: 1.2,
    11: 1.1,
    12: 0.65,
}
DEALS_PER_MONTH = 7
ACTIVITIES_PER_MONTH = 32
TASKS_PER_MONTH = 6
# Share of a month's deals still open, by age in months (0 = the current month).
OPEN_SHARE_BY_AGE = {0: 0.6, 1: 0.3, 2: 0.12}
OPEN_SHARE_OLDER = 0.04

FIRST_NAMES = [
    "Ana", "Luis", "Marta", "Javier", "Lucía", "Carlos", "Elena", "Pablo", "Sara", "Diego",
    "Laura", "Miguel", "Carmen", "Jorge", "Paula", "Andrés", "Irene", "Raúl", "Nuria", "Sergio",
    "Clara", "Tomás", "Inés", "Hugo", "Alba", "Marc", "Julia", "Iván", "Noelia", "Óscar",
]  # fmt: skip
LAST_NAMES = [
    "García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz",
    "Hernández", "Díaz", "Moreno", "Álvarez", "Romero", "Navarro", "Torres", "Domínguez",
    "Vázquez", "Ramos", "Gil", "Serrano", "Blanco", "Molina", "Castro", "Ortega", "Rubio",
]  # fmt: skip
CUSTOMER_KINDS = [
    "Bar", "Café", "Restaurante", "Hotel", "Supermercado", "Panadería", "Cafetería", "Mesón",
    "Tienda", "Taberna",
]  # fmt: skip
CUSTOMER_NAMES = [
    "Central", "La Plaza", "El Puerto", "Miramar", "Sol", "Luna", "Los Arcos", "El Rincón",
    "La Estación", "San Miguel", "El Molino", "La Fuente", "Las Palmeras", "El Faro", "Avenida",
    "La Esquina", "Mercado", "Costa", "El Olivo", "Real",
]  # fmt: skip
STREETS = [
    "Calle Mayor", "Avenida de la Constitución", "Calle Real", "Paseo del Mar", "Calle del Sol",
    "Plaza de España", "Calle Nueva", "Avenida de Andalucía", "Calle San Juan", "Ronda Norte",
]  # fmt: skip
TIMEZONES = (["Europe/Madrid", "Atlantic/Canary", "Europe/Lisbon"], [0.8, 0.12, 0.08])
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]

PRODUCTS = [
    ("Olive oil 5 l", ProductUnit.UNIT),
    ("Sunflower oil 1 l", ProductUnit.CASE),
    ("Mineral water 1.5 l", ProductUnit.CASE),
    ("Sparkling water 0.5 l", ProductUnit.CASE),
    ("Lager beer 33 cl", ProductUnit.CASE),
    ("Draught beer keg", ProductUnit.LITRE),
    ("Red wine crianza", ProductUnit.CASE),
    ("White wine verdejo", ProductUnit.CASE),
    ("Orange juice", ProductUnit.LITRE),
    ("Cola 33 cl", ProductUnit.CASE),
    ("Coffee beans", ProductUnit.KG),
    ("Ground coffee", ProductUnit.KG),
    ("Sugar sachets", ProductUnit.CASE),
    ("Milk UHT", ProductUnit.LITRE),
    ("Serrano ham", ProductUnit.KG),
    ("Manchego cheese", ProductUnit.KG),
    ("Potato crisps", ProductUnit.CASE),
    ("Olives", ProductUnit.KG),
    ("Paper napkins", ProductUnit.CASE),
    ("Cleaning kit", ProductUnit.UNIT),
]
DEAL_TITLES = ["Supply: {}", "Trial order: {}", "Annual contract: {}", "Restock: {}", "Promo: {}"]
ACTIVITY_KINDS = (
    [ActivityKind.CALL, ActivityKind.VISIT, ActivityKind.EMAIL, ActivityKind.MEETING],
    [0.35, 0.4, 0.15, 0.1],
)
# What the activity is about; the kind and the customer are shown beside it.
ACTIVITY_SUBJECTS = {
    ActivityKind.CALL: ["order follow-up", "payment reminder", "delivery issue", "weekly order"],
    ActivityKind.VISIT: ["route visit", "shelf review", "new product tasting", "stock check"],
    ActivityKind.EMAIL: ["price list update", "offer follow-up", "invoice copy", "promotion"],
    ActivityKind.MEETING: ["quarterly review", "contract renewal", "annual plan", "complaint"],
}
# How the activities that were done went, and what reps jot down after some of them.
ACTIVITY_OUTCOMES = (
    [
        ActivityOutcome.ORDERED,
        ActivityOutcome.INTERESTED,
        ActivityOutcome.FOLLOW_UP,
        ActivityOutcome.NO_ANSWER,
        ActivityOutcome.NOT_INTERESTED,
    ],
    [0.3, 0.25, 0.2, 0.15, 0.1],
)
ACTIVITY_NOTES = [
    "Owner away; spoke to the manager.",
    "Wants a price for the summer range.",
    "Shelf space moved next to the entrance.",
    "Asked for samples next time.",
    "Pays by transfer from now on.",
]
# A planned activity this far past its due date has been given up: it is cancelled.
OVERDUE_GIVEN_UP_AFTER = timedelta(days=14)
TASK_TITLES = [
    "Send price list to {}",
    "Prepare offer for {}",
    "Check stock at {}",
    "Collect overdue invoice from {}",
    "Update contact details of {}",
    "Follow up samples at {}",
]


# --- Dates ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    start: datetime
    end: datetime  # the next month's start
    age: int  # 0 = the current month
    weight: float  # seasonality of its calendar month

    @cached_property
    def weekdays(self) -> list[date]:
        first = self.start.date()
        days = (first + timedelta(days=n) for n in range((self.end.date() - first).days))
        return [day for day in days if day.weekday() < 5]


@dataclass(frozen=True)
class Calendar:
    as_of: datetime
    months: list[Month]

    @property
    def start(self) -> datetime:
        return self.months[0].start

    @classmethod
    def ending_at(cls, as_of: datetime, months: int) -> "Calendar":
        tz = as_of.tzinfo
        first_of_current = as_of.date().replace(day=1)
        firsts = [_add_months(first_of_current, offset) for offset in range(1 - months, 2)]
        starts = [datetime.combine(day, time.min, tzinfo=tz) for day in firsts]
        return cls(
            as_of=as_of,
            months=[
                Month(
                    start=starts[index],
                    end=starts[index + 1],
                    age=months - 1 - index,
                    weight=SEASONALITY[firsts[index].month],
                )
                for index in range(months)
            ],
        )

    def past_part(self, month: Month) -> tuple[datetime, datetime] | None:
        """The part of `month` that has happened, or None if nothing has yet."""
        end = min(month.end, self.as_of)
        return (month.start, end) if end > month.start else None


def _add_months(day: date, months: int) -> date:
    years, month_index = divmod(day.month - 1 + months, 12)
    return date(day.year + years, month_index + 1, 1)


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    moment = start + (end - start) * rng.random()
    return moment.replace(microsecond=0)


def _working_slot(rng: random.Random, month: Month) -> datetime:
    """A weekday time between 08:00 and 18:00 inside `month`."""
    day = rng.choice(month.weekdays)
    minutes = 8 * 60 + 15 * rng.randrange(40)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=month.start.tzinfo)


def _count(rng: random.Random, expected: float) -> int:
    """A whole number of events averaging `expected`, with some month-to-month noise."""
    return math.floor(expected * rng.uniform(0.75, 1.25) + rng.random())


# --- Plans: one rep's rows, built in memory ---------------------------------------------------


@dataclass
class RepPlan:
    user: User
    rep: SalesRep
    customers: list[Customer] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    stops: list[RouteStop] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)


class RepPlanner:
    """Builds the rows of one rep from that rep's own random stream."""

    def __init__(self, *, seed: int, calendar: Calendar, password_hash: str) -> None:
        self.seed = seed
        self.calendar = calendar
        self.password_hash = password_hash

    def plan(self, number: int, team: Team) -> RepPlan:
        rng = random.Random(f"{self.seed}:rep:{number}")
        # Some reps sell far better than others: skill scales volumes and win rates.
        skill = min(1.8, max(0.45, rng.lognormvariate(0, 0.35)))
        hire_date = self.calendar.start.date() - timedelta(days=rng.randint(60, 2500))
        user = User(
            username=f"rep{number}",
            first_name=rng.choice(FIRST_NAMES),
            last_name=rng.choice(LAST_NAMES),
            email=f"rep{number}@demo.example",
            password=self.password_hash,
            date_joined=datetime.combine(hire_date, time(9), tzinfo=self.calendar.as_of.tzinfo),
        )
        rep = SalesRep(
            user=user,
            team=team,
            employee_code=employee_code(number),
            hire_date=hire_date,
            timezone=rng.choices(*TIMEZONES)[0],
        )
        plan = RepPlan(user=user, rep=rep)
        plan.customers = self._customers(rng, number, rep, skill)
        self._routes(rng, number, plan, team)
        for month in self.calendar.months:
            plan.deals += self._deals(rng, month, plan, skill)
            plan.activities += self._activities(rng, month, plan, skill)
            plan.tasks += self._tasks(rng, month, plan)
        # Details from a stream of their own: the rows above stay as they always were.
        _add_details(random.Random(f"{self.seed}:details:{number}"), plan)
        return plan

    def _customers(
        self, rng: random.Random, number: int, rep: SalesRep, skill: float
    ) -> list[Customer]:
        calendar = self.calendar
        book_start = max(
            calendar.start - timedelta(days=730),
            datetime.combine(rep.hire_date, time(9), tzinfo=calendar.as_of.tzinfo),
        )
        signup_months = [month for month in calendar.months if calendar.past_part(month)]
        signup_weights = [
            month.weight * _elapsed_share(calendar, month) * (1 + 0.15 * month.age / 12)
            for month in signup_months
        ]
        prospect_share = min(0.35, max(0.08, 0.2 - 0.1 * (skill - 1)))
        customers = []
        for index in range(1, rng.randint(20, 30) + 1):
            draw = rng.random()
            if draw < prospect_share:
                status, signed_up_at = CustomerStatus.PROSPECT, None
                created_at = _between(rng, calendar.start, calendar.as_of)
            else:
                status = CustomerStatus.INACTIVE if draw > 0.95 else CustomerStatus.ACTIVE
                if rng.random() < 0.35 or not signup_months:  # signed before the window
                    signed_up_at = _between(rng, book_start, calendar.start)
                else:
                    month = rng.choices(signup_months, signup_weights)[0]
                    signed_up_at = _between(rng, *calendar.past_part(month))
                created_at = signed_up_at - timedelta(days=rng.uniform(2, 60))
            customers.append(
                Customer(
                    name=f"{rng.choice(CUSTOMER_KINDS)} {rng.choice(CUSTOMER_NAMES)}",
                    code=f"C{number:04d}-{index:02d}",
                    address=f"{rng.choice(STREETS)} {rng.randint(1, 180)}",
                    owner=rep,
                    status=status,
                    signed_up_at=signed_up_at,
                    created_at=created_at,
                    updated_at=signed_up_at or created_at,
                )
            )
        return customers

    def _routes(self, rng: random.Random, number: int, plan: RepPlan, team: Team) -> None:
        # Two codes reserved per rep (rep1: 1000-1001, rep3: 1004-1005): unique, stable, 4 digits.
        route_count = 1 if rng.random() < 0.5 else 2
        days = rng.sample(WEEKDAYS, route_count)
        visitable = [c for c in plan.customers if c.status != CustomerStatus.INACTIVE]
        for offset, day in enumerate(days):
            route = Route(
                code=str(1000 + 2 * (number - 1) + offset),
                name=f"{team.name} {day} round ({plan.user.username})",
                rep=plan.rep,
            )
            plan.routes.append(route)
            stop_customers = rng.sample(visitable, min(len(visitable), rng.randint(8, 15)))
            plan.stops += [
                RouteStop(
                    route=route,
                    customer=customer,
                    sequence=sequence,
                    planned_quantity=(rng.randint(1, 60) + 1) // 2,
                )
                for sequence, customer in enumerate(stop_customers, start=1)
            ]

    def _deals(self, rng: random.Random, month: Month, plan: RepPlan, skill: float) -> list[Deal]:
        past = self.calendar.past_part(month)
        if past is None:
            return []
        expected = (
            DEALS_PER_MONTH
            * month.weight
            * (0.6 + 0.4 * skill)
            * _elapsed_share(self.calendar, month)
        )
        open_share = OPEN_SHARE_BY_AGE.get(month.age, OPEN_SHARE_OLDER)
        win_rate = min(0.7, max(0.12, 0.33 * skill**0.7))
        typical_amount = math.log(2400 * (0.8 + 0.2 * skill))
        deals = []
        for _ in range(_count(rng, expected)):
            created_at = _between(rng, *past)
            customer = _customer_known_at(rng, plan.customers, created_at)
            amount = min(500_000.0, max(50.0, rng.lognormvariate(typical_amount, 0.85)))
            if rng.random() < open_share:
                stage = rng.choices(
                    [DealStage.PROSPECTING, DealStage.QUALIFIED, DealStage.PROPOSAL],
                    [0.45, 0.33, 0.22],
                )[0]
                closed_at = None
            else:
                stage = DealStage.CLOSED_WON if rng.random() < win_rate else DealStage.CLOSED_LOST
                closed_at = _between(rng, created_at, past[1])
            deals.append(
                Deal(
                    customer=customer,
                    rep=plan.rep,
                    title=rng.choice(DEAL_TITLES).format(rng.choice(PRODUCTS)[0]),
                    amount=Decimal(f"{amount:.2f}"),
                    stage=stage,
                    closed_at=closed_at,
                    created_at=created_at,
                    updated_at=closed_at or created_at,
                )
            )
        return deals

    def _activities(
        self, rng: random.Random, month: Month, plan: RepPlan, skill: float
    ) -> list[Activity]:
        as_of = self.calendar.as_of
        expected = ACTIVITIES_PER_MONTH * month.weight * (0.75 + 0.25 * skill)
        completion_rate = min(0.95, 0.8 + 0.05 * skill)
        activities = []
        for _ in range(_count(rng, expected)):
            due_at = _working_slot(rng, month)
            kind = rng.choices(*ACTIVITY_KINDS)[0]
            customer = rng.choice(plan.customers) if rng.random() < 0.92 else None
            subject = rng.choice(ACTIVITY_SUBJECTS[kind]).capitalize()
            created_at = min(due_at - timedelta(hours=rng.uniform(2, 14 * 24)), as_of)
            status, completed_at = ActivityStatus.PLANNED, None
            if due_at < as_of:
                draw = rng.random()
                if draw < completion_rate:
                    status = ActivityStatus.COMPLETED
                    completed_at = min(due_at + timedelta(minutes=rng.randint(10, 180)), as_of)
                elif draw < completion_rate + 0.07 or due_at < as_of - OVERDUE_GIVEN_UP_AFTER:
                    status = ActivityStatus.CANCELLED
            activities.append(
                Activity(
                    rep=plan.rep,
                    customer=customer,
                    kind=kind,
                    status=status,
                    subject=subject,
                    due_at=due_at,
                    completed_at=completed_at,
                    created_at=created_at,
                    updated_at=completed_at or created_at,
                )
            )
        return activities

    def _tasks(self, rng: random.Random, month: Month, plan: RepPlan) -> list[Task]:
        as_of = self.calendar.as_of
        tasks = []
        for _ in range(_count(rng, TASKS_PER_MONTH * month.weight)):
            customer = rng.choice(plan.customers)
            due_at = _working_slot(rng, month) if rng.random() < 0.85 else None
            if due_at is not None:
                created_at = min(due_at - timedelta(hours=rng.uniform(4, 10 * 24)), as_of)
            else:
                past = self.calendar.past_part(month)
                if past is None:
                    continue
                created_at = _between(rng, *past)
            status, completed_at = TaskStatus.OPEN, None
            if (due_at or created_at) < as_of and rng.random() < 0.8:
                status = TaskStatus.DONE
                done_by = min((due_at or created_at) + timedelta(days=1), as_of)
                completed_at = _between(rng, created_at, done_by)
            tasks.append(
                Task(
                    rep=plan.rep,
                    title=rng.choice(TASK_TITLES).format(customer.name),
                    status=status,
                    due_at=due_at,
                    completed_at=completed_at,
                    created_at=created_at,
                    updated_at=completed_at or created_at,
                )
            )
        return tasks


def _add_details(rng: random.Random, plan: RepPlan) -> None:
    """Who to ask for at each customer and how to reach them; how the activities done went."""
    for customer in plan.customers:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        customer.contact_name = f"{first} {last}"
        if rng.random() < 0.9:
            digits = [rng.randint(0, 99), rng.randint(0, 999), rng.randint(0, 999)]
            customer.phone = "+34 6{:02d} {:03d} {:03d}".format(*digits)
        if rng.random() < 0.6:
            customer.email = f"{_ascii(first)}.{customer.code.lower()}@demo.example"
    for activity in plan.activities:
        if activity.status == ActivityStatus.COMPLETED:
            activity.outcome = rng.choices(*ACTIVITY_OUTCOMES)[0]
            if rng.random() < 0.25:
                activity.notes = rng.choice(ACTIVITY_NOTES)


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def _elapsed_share(calendar: Calendar, month: Month) -> float:
    past = calendar.past_part(month)
    return 0.0 if past is None else (past[1] - past[0]) / (month.end - month.start)


def _customer_known_at(
    rng: random.Random, customers: Sequence[Customer], moment: datetime
) -> Customer:
    known = [customer for customer in customers if customer.created_at <= moment]
    return rng.choice(known or customers)


def employee_code(number: int) -> str:
    return f"EMP-{number:04d}"


def team_name(index: int) -> str:
    return TEAM_NAMES[index] if index < len(TEAM_NAMES) else f"Team {index + 1}"


@contextmanager
def _given_timestamps(*models) -> Iterator[None]:
    """Let bulk_create keep the created_at/updated_at we set.

    auto_now_add/auto_now would stamp every demo row with the load time; dashboards and "newest
    first" lists need the history, so both flags are off for the duration of the load.
    """
    fields = [
        model._meta.get_field(name) for model in models for name in ("created_at", "updated_at")
    ]
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    try:
        for f in fields:
            f.auto_now = f.auto_now_add = False
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


# --- The command ------------------------------------------------------------------------------


class Command(BaseCommand):
    help = (
        "Load deterministic demo data (users, teams, reps, customers, products, routes, deals, "
        "activities, tasks). Safe to run again: existing reps are left as they are."
    )
    # Tests pin "now" so that two runs produce identical rows.
    stealth_options = ("as_of",)

    def add_arguments(self, parser):
        parser.add_argument("--reps", type=int, default=12, help="number of sales reps (12)")
        parser.add_argument("--months", type=int, default=12, help="months of history (12)")
        parser.add_argument("--seed", type=int, default=42, help="random seed (42)")
        parser.add_argument(
            "--allow-demo-logins",
            action="store_true",
            help="seed even with DEBUG off (the demo users share a published password)",
        )

    def handle(self, *args, reps: int, months: int, seed: int, **options):
        if reps < 0 or months < 1:
            raise CommandError("--reps must be 0 or more and --months 1 or more.")
        if not settings.DEBUG and not options.get("allow_demo_logins"):
            raise CommandError(
                "Refusing to create demo logins with a published password while DEBUG is off. "
                "Pass --allow-demo-logins for a throwaway environment."
            )
        as_of = options.get("as_of") or timezone.localtime().replace(
            minute=0, second=0, microsecond=0
        )
        calendar = Calendar.ending_at(as_of, months)
        self.verbosity = options.get("verbosity", 1)
        self.created: dict[str, int] = {}
        self._password_hash: str | None = None

        with transaction.atomic():
            groups = {
                name: Group.objects.get_or_create(name=name)[0]
                for name in (GROUP_ADMIN, GROUP_SUPERVISOR, GROUP_REP)
            }
            self._ensure_admin(groups[GROUP_ADMIN])
            self._ensure_products()
            teams = self._ensure_teams(reps, groups[GROUP_SUPERVISOR])
            existing = set(
                SalesRep.objects.filter(
                    employee_code__in=[employee_code(n) for n in range(1, reps + 1)]
                ).values_list("employee_code", flat=True)
            )
            new_numbers = [n for n in range(1, reps + 1) if employee_code(n) not in existing]
            if new_numbers:
                planner = RepPlanner(seed=seed, calendar=calendar, password_hash=self._password())
                self._load_reps(new_numbers, teams, planner, groups[GROUP_REP])
            # Then each app's own demo data (its demo.py), on top of the reps and their work.
            autodiscover_modules("demo")
            run_seeders(
                DemoContext(
                    seed=seed,
                    as_of=as_of,
                    first_month=calendar.start.date(),
                    reps=list(
                        SalesRep.objects.select_related("user", "team")
                        .filter(employee_code__in=[employee_code(n) for n in range(1, reps + 1)])
                        .order_by("employee_code")
                    ),
                    teams=teams,
                    count=self._count,
                )
            )

        self._report(reps, len(teams), calendar)

    # --- users and teams ----------------------------------------------------------------------

    def _password(self) -> str:
        # One PBKDF2 run for everybody: hashing per user would take most of the load time.
        if self._password_hash is None:
            self._password_hash = make_password(DEMO_PASSWORD)
        return self._password_hash

    def _ensure_admin(self, group: Group) -> None:
        if User.objects.filter(username="admin").exists():
            return
        admin = User.objects.create(
            username="admin",
            first_name="Demo",
            last_name="Admin",
            email="admin@demo.example",
            password=self._password(),
            is_staff=True,
            is_superuser=True,
        )
        admin.groups.add(group)
        self._count("users", 1)

    def _ensure_products(self) -> None:
        skus = [f"SKU-{index:04d}" for index in range(1, len(PRODUCTS) + 1)]
        present = set(Product.objects.filter(sku__in=skus).values_list("sku", flat=True))
        missing = [
            Product(sku=sku, name=name, unit=unit)
            for sku, (name, unit) in zip(skus, PRODUCTS, strict=True)
            if sku not in present
        ]
        Product.objects.bulk_create(missing, batch_size=BATCH_SIZE)
        self._count("products", len(missing))

    def _ensure_teams(self, reps: int, group: Group) -> list[Team]:
        """One team per REPS_PER_TEAM reps, each managed by its own supervisor."""
        team_count = math.ceil(reps / REPS_PER_TEAM)
        names = [team_name(index) for index in range(team_count)]
        teams = {team.name: team for team in Team.objects.filter(name__in=names)}
        missing = [index for index in range(team_count) if names[index] not in teams]
        if missing:
            usernames = [f"supervisor{index + 1}" for index in missing]
            supervisors = {u.username: u for u in User.objects.filter(username__in=usernames)}
            new_supervisors = [
                User(
                    username=username,
                    first_name="Supervisor",
                    last_name=names[index],
                    email=f"{username}@demo.example",
                    password=self._password(),
                )
                for index, username in zip(missing, usernames, strict=True)
                if username not in supervisors
            ]
            User.objects.bulk_create(new_supervisors, batch_size=BATCH_SIZE)
            User.groups.through.objects.bulk_create(
                [User.groups.through(user_id=u.pk, group_id=group.pk) for u in new_supervisors],
                batch_size=BATCH_SIZE,
            )
            supervisors.update({u.username: u for u in new_supervisors})
            new_teams = Team.objects.bulk_create(
                [
                    Team(name=names[index], manager=supervisors[username])
                    for index, username in zip(missing, usernames, strict=True)
                ],
                batch_size=BATCH_SIZE,
            )
            teams.update({team.name: team for team in new_teams})
            self._count("users", len(new_supervisors))
            self._count("teams", len(new_teams))
        return [teams[name] for name in names]

    # --- reps and their data ------------------------------------------------------------------

    def _load_reps(
        self, numbers: list[int], teams: list[Team], planner: RepPlanner, group: Group
    ) -> None:
        with (
            _given_timestamps(Customer, Deal, Activity, Task),
            progress_bar(self, total=len(numbers), desc="Seeding reps", unit="rep") as bar,
        ):
            for start in range(0, len(numbers), REPS_PER_CHUNK):
                chunk = numbers[start : start + REPS_PER_CHUNK]
                plans = [
                    planner.plan(number, teams[(number - 1) // REPS_PER_TEAM]) for number in chunk
                ]
                self._check_free(plans)
                self._insert(plans, group)
                bar.update(len(chunk))

    def _check_free(self, plans: list[RepPlan]) -> None:
        """A new rep's usernames and codes must be unused: say which are taken, add nothing."""
        taken = [
            *User.objects.filter(username__in=[p.user.username for p in plans]).values_list(
                "username", flat=True
            ),
            *Customer.objects.filter(
                code__in=[c.code for p in plans for c in p.customers]
            ).values_list("code", flat=True),
            *Route.objects.filter(code__in=[r.code for p in plans for r in p.routes]).values_list(
                "code", flat=True
            ),
        ]
        if taken:
            raise CommandError(
                "Demo data would reuse existing usernames or codes: "
                f"{', '.join(sorted(taken)[:10])}. Use a fresh database or remove them."
            )

    def _insert(self, plans: list[RepPlan], group: Group) -> None:
        def create(model, rows: list) -> None:
            model.objects.bulk_create(rows, batch_size=BATCH_SIZE)
            self._count(model._meta.verbose_name_plural, len(rows))

        users = [p.user for p in plans]
        User.objects.bulk_create(users, batch_size=BATCH_SIZE)
        self._count("users", len(users))
        User.groups.through.objects.bulk_create(
            [User.groups.through(user_id=u.pk, group_id=group.pk) for u in users],
            batch_size=BATCH_SIZE,
        )
        # Parents before children: bulk_create fills in each parent's id, and the children's
        # foreign keys pick it up from the assigned instances.
        create(SalesRep, [p.rep for p in plans])
        create(Customer, [c for p in plans for c in p.customers])
        create(Route, [r for p in plans for r in p.routes])
        create(RouteStop, [s for p in plans for s in p.stops])
        create(Deal, [d for p in plans for d in p.deals])
        create(Activity, [a for p in plans for a in p.activities])
        create(Task, [t for p in plans for t in p.tasks])

    # --- output -------------------------------------------------------------------------------

    def _count(self, what: str, number: int) -> None:
        if number:
            self.created[str(what)] = self.created.get(str(what), 0) + number

    def _report(self, reps: int, team_count: int, calendar: Calendar) -> None:
        if self.verbosity == 0:
            return
        if self.created:
            summary = ", ".join(f"{what} {number}" for what, number in self.created.items())
            self.stdout.write(self.style.SUCCESS(f"Created: {summary}."))
        else:
            self.stdout.write("Demo data already present: nothing to add.")
        self.stdout.write(
            f"History: {calendar.start:%Y-%m-%d} to {calendar.as_of:%Y-%m-%d %H:%M} "
            f"({len(calendar.months)} month{'s' if len(calendar.months) > 1 else ''})."
        )
        self.stdout.write(f"Demo logins, all with password {DEMO_PASSWORD}:")
        self.stdout.write(f"  {'admin':<14} administrator")
        for index in range(team_count):
            first = index * REPS_PER_TEAM + 1
            last = min(reps, first + REPS_PER_TEAM - 1)
            members = f"rep{first}" if first == last else f"rep{first}..rep{last}"
            self.stdout.write(
                f"  {f'supervisor{index + 1}':<14} supervisor of {team_name(index)} ({members})"
            )
        if reps:
            self.stdout.write(f"  {'rep1' if reps == 1 else f'rep1..rep{reps}':<14} sales reps")
