"""Migrations on data that is already there: every one reverses, and the date constraints first
move the dates the old code let in (year 1, year 9999) to the nearest accepted one, audited."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from crm.testing.migrations import legacy_rep, legacy_route_stops, migrate_to

BEFORE_DATE_RULES = ("crm", "0003_customer_ordering_tiebreak")
UTC = dt.UTC


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_dates_outside_the_range_are_moved_into_it_before_the_constraints():
    old = migrate_to(BEFORE_DATE_RULES)
    try:
        Activity = old.get_model("crm", "Activity")
        Deal = old.get_model("crm", "Deal")
        Customer = old.get_model("crm", "Customer")
        rep = legacy_rep(old)
        customer = Customer.objects.create(name="Old", code="OLD", owner=rep)
        ancient = Activity.objects.create(
            rep=rep, kind="call", due_at=dt.datetime(1, 1, 1, tzinfo=UTC)
        )
        far = Activity.objects.create(
            rep=rep, kind="call", due_at=dt.datetime(9999, 12, 31, 23, 30, tzinfo=UTC)
        )
        fine = Activity.objects.create(
            rep=rep, kind="call", due_at=dt.datetime(2026, 5, 4, 9, tzinfo=UTC)
        )
        won = Deal.objects.create(
            rep=rep, customer=customer, title="T", amount=1, stage="closed_won",
            closed_at=dt.datetime(1, 1, 1, tzinfo=UTC),
        )  # fmt: skip
    finally:
        migrate_to()  # forward again, to the latest

    from crm.models import Activity as NewActivity
    from crm.models import AuditEntry
    from crm.models import Deal as NewDeal

    assert NewActivity.objects.get(pk=ancient.pk).due_at == dt.datetime(1970, 1, 1, tzinfo=UTC)
    assert NewActivity.objects.get(pk=far.pk).due_at.year == 2099
    assert NewActivity.objects.get(pk=fine.pk).due_at == dt.datetime(2026, 5, 4, 9, tzinfo=UTC)
    assert NewDeal.objects.get(pk=won.pk).closed_at.year == 1970
    moved = AuditEntry.objects.filter(action="date.moved_into_range")
    assert moved.count() == 3
    assert {entry.system_actor for entry in moved} == {"migration:crm.0004"}


@pytest.mark.django_db(transaction=True)
def test_the_crm_migrations_reverse_cleanly():
    migrate_to(("crm", "0001_initial"))
    migrate_to()


OUR_APPS = ("crm", "goals", "supervision", "tracking")


@pytest.mark.django_db
def test_no_index_of_ours_repeats_one_that_already_covers_it():
    # A plain index whose columns lead another index (a foreign key's own index beside a
    # composite one that starts with it) only costs writes: every insert and update pays it.
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT a.indexrelid::regclass::text, b.indexrelid::regclass::text
               FROM pg_index a
               JOIN pg_index b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
               JOIN pg_class t ON t.oid = a.indrelid
               WHERE NOT a.indisunique AND a.indpred IS NULL AND b.indpred IS NULL
                   AND a.indexprs IS NULL AND b.indexprs IS NULL
                   AND (b.indkey::text = a.indkey::text
                        OR b.indkey::text LIKE a.indkey::text || ' %%')
                   AND split_part(a.indclass::text, ' ', 1) = split_part(b.indclass::text, ' ', 1)
                   AND split_part(t.relname, '_', 1) = ANY(%s)""",
            [list(OUR_APPS)],
        )
        repeated = cursor.fetchall()
    assert repeated == []


BEFORE_WHOLE_QUANTITIES = ("crm", "0008_customer_contacts_activity_outcomes")
BEFORE_CONTACTS = ("crm", "0007_one_index_each")


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_planned_quantities_are_rounded_half_up_and_the_new_fields_reverse_with_data():
    old = migrate_to(BEFORE_WHOLE_QUANTITIES)
    try:
        Activity = old.get_model("crm", "Activity")
        rep = legacy_rep(old)
        quantities = {"18.50": 19, "8.49": 8, "0.50": 1, "12.00": 12, "0.00": 0}
        stops = dict(
            zip(
                legacy_route_stops(old, rep, list(quantities), phone="600 111 222"),
                quantities.values(),
                strict=True,
            )
        )
        Activity.objects.create(
            rep=rep, kind="visit", due_at=dt.datetime(2026, 5, 4, 9, tzinfo=UTC),
            status="completed", completed_at=dt.datetime(2026, 5, 4, 10, tzinfo=UTC),
            outcome="ordered", notes="Two cases.",
        )  # fmt: skip
    finally:
        migrate_to()

    from crm.models import RouteStop as NewRouteStop

    assert dict(NewRouteStop.objects.values_list("pk", "planned_quantity")) == stops

    # Back before the contacts and outcomes, with all these rows in the tables, and forward.
    migrate_to(BEFORE_CONTACTS)
    migrate_to()
    assert dict(NewRouteStop.objects.values_list("pk", "planned_quantity")) == stops


BEFORE_QUANTITY_LIMIT = ("crm", "0009_whole_planned_quantities")


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_planned_quantities_above_the_limit_are_capped_audited_and_the_limit_reverses():
    old = migrate_to(BEFORE_QUANTITY_LIMIT)
    try:
        planned = [12, 999_999, 1_000_000, 2_500_000]
        stops = dict(zip(legacy_route_stops(old, legacy_rep(old), planned), planned, strict=True))
    finally:
        migrate_to()

    from crm.models import AuditEntry
    from crm.models import RouteStop as NewRouteStop

    kept = dict(NewRouteStop.objects.values_list("pk", "planned_quantity"))
    assert kept == {pk: min(quantity, 999_999) for pk, quantity in stops.items()}
    capped = AuditEntry.objects.filter(action="route_stop.quantity_capped")
    assert {(e.target_id, tuple(e.changes["planned_quantity"])) for e in capped} == {
        (str(pk), (quantity, 999_999)) for pk, quantity in stops.items() if quantity > 999_999
    }
    assert {entry.system_actor for entry in capped} == {"migration:crm.0010"}
    assert capped.first().action_label == "Planned quantity capped at 999,999"

    # Back, with the rows in the table, and forward again.
    migrate_to(BEFORE_QUANTITY_LIMIT)
    migrate_to()
    assert dict(NewRouteStop.objects.values_list("pk", "planned_quantity")) == kept


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_phones_no_phone_can_dial_are_cleared_audited_and_the_rule_reverses():
    old = migrate_to(BEFORE_QUANTITY_LIMIT)
    try:
        Customer = old.get_model("crm", "Customer")
        rep = legacy_rep(old)
        phones = {
            "+34 (600) 12-34.56": "+34 (600) 12-34.56",
            "": "",
            "112": "112",
            "call after 5": "",
            "600 123 456 ext. 12": "",
            "12": "",
            "600+123": "",
            "600 123\n": "",
            "\uff16\uff10\uff10\uff11\uff12\uff13": "",  # full-width digits: no phone dials them
        }
        customers = {
            Customer.objects.create(name=f"C{n}", code=f"C{n}", owner=rep, phone=phone).pk: phone
            for n, phone in enumerate(phones)
        }
    finally:
        migrate_to()

    from crm.models import AuditEntry
    from crm.models import Customer as NewCustomer

    kept = dict(NewCustomer.objects.values_list("pk", "phone"))
    assert kept == {pk: phones[phone] for pk, phone in customers.items()}
    cleared = AuditEntry.objects.filter(action="customer.phone_cleared")
    assert {(e.target_id, e.changes["phone"][0]) for e in cleared} == {
        (str(pk), phone) for pk, phone in customers.items() if phone and not phones[phone]
    }
    assert {entry.system_actor for entry in cleared} == {"migration:crm.0011"}

    migrate_to(BEFORE_QUANTITY_LIMIT)
    migrate_to()
    assert dict(NewCustomer.objects.values_list("pk", "phone")) == kept


@pytest.mark.sqlite
@pytest.mark.django_db(transaction=True)
def test_every_app_goes_back_to_zero_and_forward_again_on_the_demo_data():
    # Rolling a release back means reversing its migrations with the users' data in the tables:
    # each reverse step converts what the older schema cannot hold, or refuses in words.
    from io import StringIO

    from django.core.management import call_command

    from goals.models import Goal, Metric

    call_command(
        "seed_demo", reps=4, months=2, allow_demo_logins=True, stdout=StringIO(), stderr=StringIO()
    )
    bonus_tier_goals = set(
        Goal.objects.filter(metric=Metric.BONUS_TIER).values_list("pk", flat=True)
    )
    assert bonus_tier_goals, "the demo data has rep plans, hence bonus-tier goals"

    old = migrate_to(("goals", "0001_goals"))  # before rep plans
    converted = old.get_model("goals", "Goal").objects.filter(pk__in=bonus_tier_goals)
    assert set(converted.values_list("metric", "calculation_source")) == {("custom", "manual")}
    audited = old.get_model("crm", "AuditEntry").objects.filter(
        system_actor="migration:goals.0002 (reversed)", target_type="goals.goal"
    )
    assert {int(pk) for pk in audited.values_list("target_id", flat=True)} == bonus_tier_goals
    migrate_to()

    for app in ("tracking", "supervision", "goals", "crm"):
        executor = MigrationExecutor(connection)
        executor.migrate([(app, None)])  # back to zero: the app's tables go
        migrate_to()

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations")
        applied = cursor.fetchone()[0]
    executor = MigrationExecutor(connection)
    assert applied >= len(executor.loader.graph.leaf_nodes())
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
