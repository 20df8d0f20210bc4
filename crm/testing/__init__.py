"""What the tests of every app share besides the fixtures of the root conftest: the htmx request
header, clients signed in as anyone, the count of the SQL statements a block runs and which
write services a test pins that way. A route with its stops: `crm.testing.routes` (it needs
the models, so it is not imported here).

Importing this package must not need the settings: the root conftest imports
`crm.testing.pytest_plugin` before Django is set up.
"""

from crm.testing.clients import error_body, fresh, signed_in, signed_in_api
from crm.testing.queries import assert_queries, pins, statements, unpinned

# What htmx sends with every request it makes; views answer it with a fragment.
HTMX = {"HX-Request": "true"}

__all__ = [
    "HTMX",
    "assert_queries",
    "error_body",
    "fresh",
    "pins",
    "signed_in",
    "signed_in_api",
    "statements",
    "unpinned",
]
