"""Database triggers, declared once in the migration that installs them.

A migration installs its triggers with the `InstallTriggers` operation: each `Trigger` names
itself, its table and its SQL per database vendor. The operation creates them forwards and drops
them backwards, and refuses a declaration whose SQL did not create the trigger it names, so the
names cannot drift from the SQL. `declared_triggers` reads the operations of the applied
migrations, which is how `manage.py verify_deployment` knows what must exist without a list of
its own.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.db import connection as default_connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.base import Operation


@dataclass(frozen=True)
class Trigger:
    """One trigger: `create` and `drop` hold its SQL per vendor ("postgresql", "sqlite"); a
    vendor it does not name does not get it. A create may define the trigger's function too
    (and the drop remove it)."""

    name: str
    table: str
    create: Mapping[str, str] = field(default_factory=dict, repr=False)
    drop: Mapping[str, str] = field(default_factory=dict, repr=False)

    def applies_to(self, vendor: str) -> bool:
        return vendor in self.create


class TriggerNotCreated(RuntimeError):
    pass


def existing_triggers(connection: BaseDatabaseWrapper | None = None) -> set[tuple[str, str]]:
    """(trigger, table) pairs present in the database; a constraint's internal triggers
    (PostgreSQL's foreign keys) are not counted."""
    connection = connection or default_connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT t.tgname, c.relname FROM pg_trigger t "
                "JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND pg_table_is_visible(c.oid)"
            )
        elif connection.vendor == "sqlite":
            cursor.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
        else:
            return set()
        return {(name, table) for name, table in cursor.fetchall()}


class InstallTriggers(Operation):
    """Create the triggers forwards (in order) and drop them backwards (in reverse order)."""

    reversible = True
    reduces_to_sql = False

    def __init__(self, *triggers: Trigger):
        self.triggers = triggers

    def deconstruct(self):
        return (self.__class__.__name__, self.triggers, {})

    def state_forwards(self, app_label, state):
        pass  # triggers are not part of Django's model state

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        vendor = schema_editor.connection.vendor
        for trigger in self.triggers:
            if not trigger.applies_to(vendor):
                continue
            schema_editor.execute(trigger.create[vendor], params=None)
            if (trigger.name, trigger.table) not in existing_triggers(schema_editor.connection):
                raise TriggerNotCreated(
                    f"The SQL declared for trigger {trigger.name} on {trigger.table} did not "
                    "create it: the declaration and its SQL disagree."
                )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        vendor = schema_editor.connection.vendor
        for trigger in reversed(self.triggers):
            if trigger.applies_to(vendor) and vendor in trigger.drop:
                schema_editor.execute(trigger.drop[vendor], params=None)

    def describe(self):
        return "Install triggers " + ", ".join(trigger.name for trigger in self.triggers)

    @property
    def migration_name_fragment(self):
        return "install_triggers"


def _applied_operations(connection: BaseDatabaseWrapper) -> Iterable[tuple[str, Operation]]:
    loader = MigrationLoader(connection)
    for node, migration in loader.graph.nodes.items():
        if node in loader.applied_migrations:
            for operation in migration.operations:
                yield migration.app_label, operation


def declared_triggers(
    connection: BaseDatabaseWrapper | None = None,
) -> dict[str, list[Trigger]]:
    """The triggers the applied migrations installed for this database's vendor, by app."""
    connection = connection or default_connection
    declared: dict[str, dict[str, Trigger]] = {}
    for app_label, operation in _applied_operations(connection):
        if isinstance(operation, InstallTriggers):
            for trigger in operation.triggers:
                if trigger.applies_to(connection.vendor):
                    declared.setdefault(app_label, {})[trigger.name] = trigger
    return {app: list(triggers.values()) for app, triggers in sorted(declared.items())}
