"""Real database failures for tests: point the default connection somewhere else for one block
(a refused port, a database with no schema, a host that never answers), for the health checks;
make PostgreSQL refuse a write to one row (a trigger), for the code that must survive it; or
hold a lock from another connection while a block runs, for the code that must not wait on it."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection, connections, transaction


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


@contextmanager
def held_elsewhere(hold: Callable[[], object], *, timeout: float = 10) -> Iterator[None]:
    """Inside the block, another connection (a thread of its own) is in a transaction that ran
    `hold` (a row locked for update, a long read of a table) and has not ended: what `hold`
    locked stays locked until the block is over (someone's edit, a report, a dump)."""
    holding, release = threading.Event(), threading.Event()

    def other() -> None:
        try:
            with transaction.atomic():
                hold()
                holding.set()
                release.wait(timeout=timeout * 3)
        finally:
            connections.close_all()

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert holding.wait(timeout=timeout), "the other connection never held its lock"
        yield
    finally:
        release.set()
        thread.join(timeout=timeout * 3)
