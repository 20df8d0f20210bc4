"""Point the default connection somewhere else for one block (a refused port, a database with
no schema, a host that never answers), then back: for the health checks' failure tests."""

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
