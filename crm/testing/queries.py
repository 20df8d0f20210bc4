"""How many SQL statements a block runs, for the tests that pin it (a page or a write runs a
fixed number of queries whatever the row count).

Savepoints are left out by default: every `transaction.atomic` inside a test's own transaction
adds one and its release, which says how the code nests its transactions, not what it asks of
the database.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import CaptureQueriesContext

_SAVEPOINT_STATEMENTS = ("SAVEPOINT ", "RELEASE SAVEPOINT ", "ROLLBACK TO SAVEPOINT ")


def statements(captured: CaptureQueriesContext, *, include_savepoints: bool = False) -> list[str]:
    """The SQL of the statements `captured` saw, savepoints left out unless asked for."""
    return [
        query["sql"]
        for query in captured.captured_queries
        if include_savepoints or not query["sql"].lstrip().upper().startswith(_SAVEPOINT_STATEMENTS)
    ]


@contextmanager
def assert_queries(
    expected: int, *, include_savepoints: bool = False, using: str = DEFAULT_DB_ALIAS
) -> Iterator[CaptureQueriesContext]:
    """Fails unless the block runs exactly `expected` statements, and then lists them, numbered.

    Yields Django's CaptureQueriesContext, for a test that also reads the SQL it ran
    (`statements(captured)`).
    """
    __tracebackhide__ = True  # a failure points at the test's block, not at this helper
    with CaptureQueriesContext(connections[using]) as captured:
        yield captured
    ran = statements(captured, include_savepoints=include_savepoints)
    if len(ran) != expected:
        kind = "statements" if include_savepoints else "statements (savepoints not counted)"
        listed = "\n".join(f"{number}. {sql}" for number, sql in enumerate(ran, start=1))
        raise AssertionError(f"{len(ran)} {kind} ran, {expected} expected:\n{listed}")
