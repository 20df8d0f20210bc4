"""Real database failures for tests: point the default connection somewhere else for one block
(a refused port, a database with no schema, a host that never answers), for the health checks;
or make PostgreSQL refuse a write to one row (a trigger), for the code that must survive it."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def database_elsewhere(**changes) -> Iterator[None]:
    """`changes` are connection settings (NAME, HOST, PORT, OPTIONS) used inside the block."""
    settings_dict = connection.settings_dict
    original = dict(settings_dict)
    connection.close()
    settings_dict.update(changes)
    try:
        yield
    finally:
        connection.close()
        settings_dict.clear()
        settings_dict.update(original)


@contextmanager
def refusing_updates(model, pk: int, column: str) -> Iterator[None]:
    """Inside the block PostgreSQL raises an error on any UPDATE of `column` of `model`'s row
    `pk` (a trigger: the failure is the database's own, in whatever process writes)."""
    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(column)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_update() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'row % is refused its update', NEW.id; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            f"CREATE TRIGGER test_refuse_update BEFORE UPDATE OF {column} ON {table} "
            f"FOR EACH ROW WHEN (NEW.id = {int(pk)}) EXECUTE FUNCTION test_refuse_update()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP FUNCTION test_refuse_update() CASCADE")
