"""The "reps" seeder: rep1..repN, each a login in their team with customers, routes and months
of deals, activities and tasks.

Each rep's rows come from the rep's own random stream, seeded with the seed and the rep's
number, so that rep7 gets the same data whether 10 or 50 reps are seeded, and a run with more
reps equals a fresh run with that many. A rep whose employee code exists is left as it is, with
all its data: a second run adds nothing, and more reps add only the new ones."""

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.contrib.auth.models import Group, User
from django.core.management.base import CommandError

from crm.demo import customers, routes, work
from crm.demo.loading import given_timestamps, insert, join_group, role_group
from crm.demo.people import FIRST_NAMES, LAST_NAMES, employee_code, team_of
from crm.demo.registry import DemoContext, demo_seeder
from crm.models import Activity, Customer, Deal, Route, RouteStop, SalesRep, Task
from crm.roles import GROUP_REP

REPS_PER_CHUNK = 10  # reps made in memory before one round of bulk inserts
TIMEZONES = (["Europe/Madrid", "Atlantic/Canary", "Europe/Lisbon"], [0.8, 0.12, 0.08])


@dataclass
class RepRows:
    """One rep's rows, made in memory, not saved yet."""

    user: User
    rep: SalesRep
    customers: list[Customer] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    stops: list[RouteStop] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)
    activities: list[Activity] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)


@demo_seeder("reps", order=40)
def seed_reps(context: DemoContext) -> None:
    group = role_group(GROUP_REP)
    numbers = range(1, context.rep_count + 1)
    codes = [employee_code(number) for number in numbers]
    existing = set(
        SalesRep.objects.filter(employee_code__in=codes).values_list("employee_code", flat=True)
    )
    new = [number for number in numbers if employee_code(number) not in existing]
    with given_timestamps(Customer, Deal, Activity, Task):
        for start in range(0, len(new), REPS_PER_CHUNK):
            chunk = [rep_rows(context, number) for number in new[start : start + REPS_PER_CHUNK]]
            _check_free(chunk)
            _insert(context, chunk, group)
    context.reps = list(
        SalesRep.objects.select_related("user", "team")
        .filter(employee_code__in=codes)
        .order_by("employee_code")
    )


def rep_rows(context: DemoContext, number: int) -> RepRows:
    """Rep `number` and their work, from the rep's own random stream."""
    calendar, team = context.calendar, team_of(context, number)
    rng = random.Random(f"{context.seed}:rep:{number}")
    # Some reps sell far better than others: skill scales volumes and win rates.
    skill = min(1.8, max(0.45, rng.lognormvariate(0, 0.35)))
    hire_date = calendar.start.date() - timedelta(days=rng.randint(60, 2500))
    user = User(
        username=f"rep{number}",
        first_name=rng.choice(FIRST_NAMES),
        last_name=rng.choice(LAST_NAMES),
        email=f"rep{number}@demo.example",
        password=context.password_hash,
        date_joined=datetime.combine(hire_date, time(9), tzinfo=calendar.as_of.tzinfo),
    )
    rep = SalesRep(
        user=user,
        team=team,
        employee_code=employee_code(number),
        hire_date=hire_date,
        timezone=rng.choices(*TIMEZONES)[0],
    )
    rows = RepRows(user=user, rep=rep)
    rows.customers = customers.customers_of(rng, calendar, number=number, rep=rep, skill=skill)
    rows.routes, rows.stops = routes.routes_of(
        rng, number=number, rep=rep, team=team, customers=rows.customers
    )
    book = rows.customers
    for month in calendar.months:
        rows.deals += work.deals_in(rng, calendar, month, rep=rep, customers=book, skill=skill)
        rows.activities += work.activities_in(
            rng, calendar, month, rep=rep, customers=book, skill=skill
        )
        rows.tasks += work.tasks_in(rng, calendar, month, rep=rep, customers=book)
    # Details from a stream of their own: the rows above stay as they always were.
    details = random.Random(f"{context.seed}:details:{number}")
    customers.add_contacts(details, rows.customers)
    work.add_outcomes(details, rows.activities)
    return rows


def _check_free(chunk: list[RepRows]) -> None:
    """A new rep's usernames and codes must be unused: say which are taken, add nothing."""
    usernames = [r.user.username for r in chunk]
    customer_codes = [c.code for r in chunk for c in r.customers]
    route_codes = [route.code for r in chunk for route in r.routes]
    taken = [
        *User.objects.filter(username__in=usernames).values_list("username", flat=True),
        *Customer.objects.filter(code__in=customer_codes).values_list("code", flat=True),
        *Route.objects.filter(code__in=route_codes).values_list("code", flat=True),
    ]
    if taken:
        raise CommandError(
            "Demo data would reuse existing usernames or codes: "
            f"{', '.join(sorted(taken)[:10])}. Use a fresh database or remove them."
        )


def _insert(context: DemoContext, chunk: list[RepRows], group: Group) -> None:
    insert(context, User, [r.user for r in chunk])
    join_group([r.user for r in chunk], group)
    insert(context, SalesRep, [r.rep for r in chunk])
    insert(context, Customer, [c for r in chunk for c in r.customers])
    insert(context, Route, [route for r in chunk for route in r.routes])
    insert(context, RouteStop, [s for r in chunk for s in r.stops])
    insert(context, Deal, [d for r in chunk for d in r.deals])
    insert(context, Activity, [a for r in chunk for a in r.activities])
    insert(context, Task, [t for r in chunk for t in r.tasks])
