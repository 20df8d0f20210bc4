"""How many statements each write of supervision runs (supervision.services), pinned: the same
number whatever the number of lines of a day, and a new write cannot go unpinned. Counted as
a request runs them: the actor read afresh (nothing cached on it), the savepoints left out.
A later save of a day is pinned beside the other tests of saving (3 or 300 lines)."""

import pytest

from crm.testing import fresh, pins, unpinned
from crm.testing.routes import route_with_stops
from supervision import services
from supervision.models import SupervisionSession
from supervision.tests.helpers import change, customers, today

pytestmark = pytest.mark.django_db

# The functions of the services module that write nothing: what the messages and the rows of
# a write are made of.
NOT_WRITES = {"who_did", "line_row"}


def test_every_write_of_supervision_is_pinned():
    assert unpinned(services, tests=globals(), not_writes=NOT_WRITES) == []


@pins(services.session_write)
@pytest.mark.parametrize("stops", [2, 25])
def test_the_first_save_of_a_day(supervisor, rep, stops, assert_queries):
    route = route_with_stops(rep, count=stops)
    every = [change(customer, visited=True, actual_quantity=5) for customer in customers(route)]
    actor = fresh(supervisor)

    # the actor's role, the route in their scope, the day's session with its summary, the
    # route's stops; the session, the summary, the lines (one INSERT); the audit
    with assert_queries(8):
        services.session_write(
            actor=actor, route_id=route.pk, date=today(), record_version=0, changes=every
        )


@pins(services.session_reopen)
def test_reopening_a_saved_day(supervisor, admin_user, rep, assert_queries):
    route = route_with_stops(rep)
    services.session_write(
        actor=supervisor, route_id=route.pk, date=today(), record_version=0, changes=[]
    )
    session = SupervisionSession.objects.get()
    actor = fresh(admin_user)

    # the session in the actor's scope (locked); its version moved on, the summary read
    # again; the session, its audit (an administrator's role needs no query)
    with assert_queries(5):
        services.session_reopen(
            actor=actor, session_id=session.pk, reason="The rep sent late figures"
        )
