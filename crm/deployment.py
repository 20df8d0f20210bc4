"""What `manage.py verify_deployment` checks: is this installation ready to serve?

Each check returns a `CheckResult`; a check that raises is a failure naming the exception, never
a crash. What must exist is read from the code and the migrations (the models' tables, columns,
indexes and constraints, the triggers migrations install, the job registry), never from a list
kept here.
"""

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core import checks as system_checks
from django.db import connection
from django.db.migrations.autodetector import MigrationAutodetector
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ProjectState
from django.db.models import Max, Min, Q
from django.utils import timezone

PASS, FAIL, WARN, SKIP = "pass", "fail", "warn", "skip"
SYMBOLS = {PASS: "✓", FAIL: "✗", WARN: "⚠", SKIP: "-"}
# A scheduled job may start this long after it was due (beat's tick, a busy worker) before it
# counts as not running.
LATE_AFTER = timedelta(minutes=5)
WORKER_PING_TIMEOUT = 2.0
# How many missing objects or names a line spells out before it says "and N more".
SHOWN = 5


@dataclass(frozen=True)
class CheckResult:
    name: str
    title: str
    status: str
    detail: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown + (f" and {len(items) - SHOWN} more" if len(items) > SHOWN else "")


# --- Migrations and schema ---------------------------------------------------------------------
def check_migrations() -> tuple[str, str]:
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
        return FAIL, f"{len(plan)} not applied: {_listed(names)} (run `manage.py migrate`)"
    changes = MigrationAutodetector(
        executor.loader.project_state(), ProjectState.from_apps(apps)
    ).changes(graph=executor.loader.graph)
    if changes:
        return FAIL, f"models changed without a migration: {_listed(sorted(changes))}"
    return PASS, f"all {len(executor.loader.applied_migrations)} applied"


@dataclass(frozen=True)
class Partitioning:
    """A partitioned table (PostgreSQL): its keys hold its partition key, and a unique
    constraint without it exists as a unique index of each partition."""

    key: tuple[str, ...]
    unique_in_every_partition: frozenset[tuple[str, ...]]


def _partitioning(cursor, table: str) -> Partitioning | None:
    if connection.vendor != "postgresql":
        return None
    cursor.execute(
        "SELECT array_agg(a.attname ORDER BY k.n) FROM pg_partitioned_table p "
        "CROSS JOIN LATERAL unnest(p.partattrs) WITH ORDINALITY AS k(attnum, n) "
        "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = k.attnum "
        "WHERE p.partrelid = to_regclass(%s)",
        [table],
    )
    key = cursor.fetchone()[0]
    if not key:
        return None
    cursor.execute(
        "SELECT columns FROM (SELECT i.inhrelid, array_agg(a.attname ORDER BY k.n) AS columns "
        "FROM pg_inherits i JOIN pg_index x ON x.indrelid = i.inhrelid AND x.indisunique "
        "CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) "
        "JOIN pg_attribute a ON a.attrelid = i.inhrelid AND a.attnum = k.attnum "
        "WHERE i.inhparent = to_regclass(%s) GROUP BY i.inhrelid, x.indexrelid) AS per_index "
        "GROUP BY columns HAVING count(DISTINCT inhrelid) = "
        "(SELECT count(*) FROM pg_inherits WHERE inhparent = to_regclass(%s))",
        [table, table],
    )
    return Partitioning(tuple(key), frozenset(tuple(row[0]) for row in cursor.fetchall()))


def _declared_objects(
    model, partitioning: Partitioning | None = None
) -> list[tuple[str, Callable[[dict], bool]]]:
    """(what, test against the table's introspected constraints) for everything the model
    declares: its Meta indexes and constraints by name, single-column indexes, unique columns
    and foreign keys by their columns; on a partitioned table, its keys with the partition key
    and its unique constraints in every partition."""
    meta = model._meta
    table = meta.db_table
    wanted: list[tuple[str, Callable[[dict], bool]]] = []

    def named(name: str) -> Callable[[dict], bool]:
        # PostgreSQL keeps the first 63 bytes of a name.
        return lambda found: name in found or name[:63] in found

    def on_columns(columns: list[str], **flags) -> Callable[[dict], bool]:
        return lambda found: any(
            info["columns"] == columns and all(info.get(k) for k in flags)
            for info in found.values()
        )

    for index in meta.indexes:
        wanted.append((f"index {index.name} on {table}", named(index.name)))
    for constraint in meta.constraints:
        exists = named(constraint.name)
        columns = tuple(meta.get_field(name).column for name in getattr(constraint, "fields", ()))
        if partitioning and columns and columns in partitioning.unique_in_every_partition:
            exists = lambda found: True  # noqa: E731
        wanted.append((f"constraint {constraint.name} on {table}", exists))
    for together in meta.unique_together:
        columns = [meta.get_field(name).column for name in together]
        wanted.append((f"unique {table}({', '.join(columns)})", on_columns(columns, unique=True)))
    for field in meta.local_concrete_fields:
        column = field.column
        if field.primary_key:
            key = [column, *(partitioning.key if partitioning else ())]
            wanted.append((f"primary key {table}({column})", on_columns(key, primary_key=True)))
        elif field.unique:
            wanted.append((f"unique {table}({column})", on_columns([column], unique=True)))
        elif field.db_index:
            wanted.append((f"index on {table}({column})", on_columns([column])))
        if field.remote_field and getattr(field, "db_constraint", False):
            target = (field.target_field.model._meta.db_table, field.target_field.column)

            def references(found: dict, column=column, target=target) -> bool:
                return any(
                    info["columns"] == [column] and tuple(info.get("foreign_key") or ()) == target
                    for info in found.values()
                )

            wanted.append((f"foreign key {table}({column})", references))
    return wanted


def _introspection():
    if connection.vendor != "sqlite":
        return connection.introspection
    from django.db.backends.sqlite3.introspection import DatabaseIntrospection

    class LenientIntrospection(DatabaseIntrospection):
        # Django reads SQLite column collations by splitting the table's SQL on ", ", which a
        # CHECK like `"status" IN (0, 2, 3)` breaks (an IndexError); no check here needs them.
        def _get_column_collations(self, cursor, table_name):
            try:
                return super()._get_column_collations(cursor, table_name)
            except IndexError:
                return {}

    return LenientIntrospection(connection)


def check_schema() -> tuple[str, str]:
    introspection = _introspection()
    missing: list[str] = []
    tables = columns = objects = 0
    with connection.cursor() as cursor:
        existing = set(introspection.table_names(cursor))
        for model in apps.get_models(include_auto_created=True):
            meta = model._meta
            if not meta.managed or meta.proxy or meta.swapped:
                continue
            table = meta.db_table
            tables += 1
            if table not in existing:
                missing.append(f"table {table}")
                continue
            present = {info.name for info in introspection.get_table_description(cursor, table)}
            for field in meta.local_concrete_fields:
                columns += 1
                if field.column not in present:
                    missing.append(f"column {table}.{field.column}")
            found = introspection.get_constraints(cursor, table)
            for what, exists in _declared_objects(model, _partitioning(cursor, table)):
                objects += 1
                if not exists(found):
                    missing.append(what)
    if missing:
        return FAIL, f"missing {_listed(missing)}"
    return PASS, f"{tables} tables, {columns} columns, {objects} indexes and constraints"


def check_triggers() -> list[CheckResult]:
    """One line per app whose migrations install triggers on this database."""
    from crm.triggers import declared_triggers, existing_triggers

    present = existing_triggers(connection)
    results = []
    for app_label, triggers in declared_triggers(connection).items():
        title = f"{app_label}'s triggers exist"
        absent = [t.name for t in triggers if (t.name, t.table) not in present]
        if absent:
            results.append(CheckResult(f"triggers:{app_label}", title, FAIL, _listed(absent)))
        else:
            detail = f"{len(triggers)}: {', '.join(t.name for t in triggers)}"
            results.append(CheckResult(f"triggers:{app_label}", title, PASS, detail))
    return results


# --- Background work ---------------------------------------------------------------------------
def check_beat_schedule() -> tuple[str, str]:
    """The schedule beat would hold, built by the scheduler beat is configured with."""
    from celery.utils.imports import symbol_by_name

    from crm.celery import app
    from crm.jobs.registry import RUN_JOB_TASK, registered_jobs
    from crm.jobs.scheduler import BEAT_HEARTBEAT_ENTRY, RegistryScheduler

    scheduler_class = symbol_by_name(app.conf.beat_scheduler)
    if not issubclass(scheduler_class, RegistryScheduler):
        return FAIL, f"beat uses {app.conf.beat_scheduler}, which does not read the job registry"
    with tempfile.TemporaryDirectory() as folder:
        scheduler = scheduler_class(app=app, schedule_filename=str(Path(folder) / "schedule"))
        try:
            entries = {
                name: (entry.task, tuple(entry.args)) for name, entry in scheduler.schedule.items()
            }
        finally:
            scheduler.close()
    scheduled = [job for job in registered_jobs().values() if job.schedule is not None]
    missing = [
        job.name for job in scheduled if entries.get(job.lock_name) != (RUN_JOB_TASK, (job.name,))
    ]
    missing += [name for name in BEAT_HEARTBEAT_ENTRY if name not in entries]
    app.loader.import_default_modules()
    unknown = sorted({task for task, _ in entries.values() if task not in app.tasks})
    if missing or unknown:
        parts = [f"not scheduled: {_listed(missing)}"] if missing else []
        parts += [f"tasks no worker knows: {_listed(unknown)}"] if unknown else []
        return FAIL, "; ".join(parts)
    on_demand = len(registered_jobs()) - len(scheduled)
    return PASS, f"{len(scheduled)} jobs and beat's heartbeat ({on_demand} run on demand only)"


def check_worker() -> tuple[str, str]:
    from crm.celery import app

    if app.conf.task_always_eager:
        return SKIP, "tasks run in the calling process (CELERY_TASK_ALWAYS_EAGER): no worker to ask"
    replies = app.control.ping(timeout=WORKER_PING_TIMEOUT)
    if not replies:
        return FAIL, f"no worker answered within {WORKER_PING_TIMEOUT:g} s"
    names = sorted(name for reply in replies for name in reply)
    return PASS, f"{len(names)} answered: {_listed(names)}"


def _overdue(schedule, since: datetime) -> timedelta:
    """How long ago the schedule's first tick after `since` was due (negative: still to come)."""
    return -schedule.remaining_estimate(since)


def check_jobs_ran() -> tuple[str, str]:
    from crm.jobs.models import JobRun, JobRunStatus
    from crm.jobs.registry import registered_jobs

    scheduled = {n: job for n, job in registered_jobs().items() if job.schedule is not None}
    last_runs = dict(
        JobRun.objects.filter(name__in=scheduled)
        .exclude(status=JobRunStatus.SKIPPED_LOCKED)
        .values("name")
        .annotate(last=Max("started_at"))
        .values_list("name", "last")
    )
    installed_at = MigrationRecorder.Migration.objects.aggregate(first=Min("applied"))["first"]
    late, not_yet = [], []
    for name, job in scheduled.items():
        last = last_runs.get(name)
        overdue = _overdue(job.schedule, last or installed_at or timezone.now())
        if overdue > LATE_AFTER:
            when = f"last ran {last:%Y-%m-%d %H:%M %Z}" if last else "never ran"
            late.append(f"{name} ({when}, due {round(overdue.total_seconds() / 60)} min ago)")
        elif last is None:
            not_yet.append(name)
    if late:
        return FAIL, f"late: {_listed(late)}"
    if not_yet:
        return WARN, f"not run yet (a fresh install; not due yet): {_listed(not_yet)}"
    return PASS, f"all {len(scheduled)} ran within their interval"


# --- Serving -----------------------------------------------------------------------------------
def check_health() -> tuple[str, str]:
    from crm.health import HEALTHY, health_report

    report = health_report()
    if report["status"] == HEALTHY:
        return PASS, "healthy"
    problems = [
        f"{name}: {result.get('detail') or result['status']}"
        for name, result in report["checks"].items()
        if result["status"] != HEALTHY
    ]
    return FAIL, f"{report['status']} ({'; '.join(problems)})"


def check_deploy_settings() -> tuple[str, str]:
    if settings.DEBUG:
        return SKIP, "DEBUG is on: a development installation"
    messages = system_checks.run_checks(include_deployment_checks=True)
    problems = [m for m in messages if m.level >= system_checks.WARNING and not m.is_silenced()]
    if problems:
        ids = sorted({message.id for message in problems})
        return FAIL, f"{_listed(ids)} (`manage.py check --deploy` explains them)"
    return PASS, "no issues"


def check_demo_accounts() -> tuple[str, str]:
    if settings.DEBUG:
        return SKIP, "DEBUG is on: demo logins are expected in development"
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import check_password

    from crm.demo import DEMO_PASSWORD

    # The demo's logins are these names, and all share one hash: one check per distinct hash.
    candidates = get_user_model().objects.filter(
        Q(username="admin") | Q(username__regex=r"^(rep|supervisor)[0-9]+$")
        | Q(email__endswith="@demo.example"),
        is_active=True,
    ).values_list("username", "password")  # fmt: skip
    by_hash: dict[str, list[str]] = {}
    for username, password in candidates:
        by_hash.setdefault(password, []).append(username)
    demo = sorted(
        username
        for password, usernames in by_hash.items()
        if check_password(DEMO_PASSWORD, password)
        for username in usernames
    )
    if demo:
        return FAIL, (
            f"{len(demo)} active with the published demo password: {_listed(demo)} "
            "(deactivate them or set new passwords)"
        )
    return PASS, "none"


# --- Running them ------------------------------------------------------------------------------
CHECKS: list[tuple[str, str, Callable[[], tuple[str, str]]]] = [
    ("migrations", "Migrations applied", check_migrations),
    ("schema", "Tables, columns, indexes and constraints exist", check_schema),
    ("beat_schedule", "Beat's schedule holds every registered job", check_beat_schedule),
    ("worker", "A worker answers", check_worker),
    ("jobs", "Each job ran within its interval", check_jobs_ran),
    ("health", "Health is healthy", check_health),
    ("check_deploy", "`check --deploy` is clean", check_deploy_settings),
    ("demo_accounts", "No demo logins", check_demo_accounts),
]


def _failed(name: str, title: str, exc: Exception) -> CheckResult:
    return CheckResult(name, title, FAIL, f"{type(exc).__name__}: {exc}"[:300])


def run_all() -> list[CheckResult]:
    results = []
    for name, title, check in CHECKS:
        try:
            status, detail = check()
        except Exception as exc:  # a check reports what went wrong, it never stops the others
            results.append(_failed(name, title, exc))
        else:
            results.append(CheckResult(name, title, status, detail))
        if name == "schema":
            try:
                results.extend(check_triggers())
            except Exception as exc:
                results.append(_failed("triggers", "Triggers exist", exc))
    return results
