"""How many SQL statements a block runs, for the tests that pin it (a page or a write runs a
fixed number of queries whatever the row count).

Savepoints are left out by default: every `transaction.atomic` inside a test's own transaction
adds one and its release, which says how the code nests its transactions, not what it asks of
the database.
"""

import inspect
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import CaptureQueriesContext

Test = TypeVar("Test", bound=Callable)

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


# --- Which write services a test pins ------------------------------------------------------------


def pins(*services: Callable) -> Callable[[Test], Test]:
    """Marks a test as the one that pins the statements `services` run, for `unpinned`: a
    services module's test of its query counts says so, and a write nobody pinned shows."""

    def mark(test: Test) -> Test:
        test.pinned_services = (*getattr(test, "pinned_services", ()), *services)
        return test

    return mark


def unpinned(
    module: ModuleType, *, tests: Mapping[str, object], not_writes: Collection[str]
) -> list[str]:
    """What keeps `module`'s writes from all being pinned: each public function it defines (a
    package: it or its modules) that no test among `tests` (a test module's globals) marks with
    `pins`, unless `not_writes` names it (a check, a read or a helper the services module also
    offers); and each name of `not_writes` the module no longer defines."""
    pinned = {id(service) for test in tests.values() for service in _pinned_by(test)}
    public = {
        name: value
        for name, value in vars(module).items()
        if inspect.isfunction(value)
        and not name.startswith("_")
        and (value.__module__ + ".").startswith(module.__name__ + ".")
    }
    return sorted(
        [f"{name}: no test pins it" for name, value in public.items()
         if name not in not_writes and id(value) not in pinned]
        + [f"{name}: not a function of {module.__name__} any more" for name in not_writes
           if name not in public]
    )  # fmt: skip


def _pinned_by(test: object) -> tuple:
    return getattr(test, "pinned_services", ()) if callable(test) else ()
