"""Races between people on PostgreSQL, each on its own connection: two goals linked to each other
in opposite directions at once lock in one order; the one that loses is refused with its rule
(400), never a deadlock (500)."""

import contextlib
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, connections

from goals import services
from goals.models import Goal
from goals.services import hierarchy
from goals.tests.factories import SETUP, make_goal

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
@pytest.mark.parametrize("via", ["link", "edit"])
def test_goals_linked_to_each_other_at_once_in_opposite_directions_never_deadlock(
    rep, monkeypatch, via
):
    company = make_goal(owner=None, title="Company")
    team = make_goal(owner=rep.team, title="Team")
    # Each link holds its first lock until both have one, then takes its second: without one
    # order of locking, each would wait for the other's.
    both_locked_once = threading.Barrier(2, timeout=3)
    real_locked = hierarchy.locked

    def locked_after_the_other(queryset, pk):
        # Broken: the other waits for our locks (one order, as it should be).
        with contextlib.suppress(threading.BrokenBarrierError):
            both_locked_once.wait()
        return real_locked(queryset, pk)

    monkeypatch.setattr(hierarchy, "locked", locked_after_the_other)
    outcomes: dict[str, str] = {}

    def link(name: str, child: Goal, parent: Goal) -> None:
        try:
            if via == "link":
                services.goal_link_parent(actor=SETUP, goal_id=child.pk, parent=parent)
            else:
                services.goal_update(actor=SETUP, goal_id=child.pk, parent=parent)
            outcomes[name] = "linked"
        except ValidationError as refused:
            outcomes[name] = f"400 {refused.message_dict['parent']}"
        except OperationalError as error:  # a deadlock: what must not happen
            outcomes[name] = f"500 {error}"
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=link, args=("team under company", team, company)),
        threading.Thread(target=link, args=("company under team", company, team)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert outcomes["team under company"] == "linked"
    assert outcomes["company under team"].startswith("400")
    assert Goal.objects.get(pk=team.pk).parent_id == company.pk
    assert Goal.objects.get(pk=company.pk).parent_id is None
