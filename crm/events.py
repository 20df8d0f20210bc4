"""After-commit domain events: how the core tells other apps that something they count changed.

The core's services publish small frozen facts explicitly (never from `post_save`, which misses
`update()` and bulk writes). A subscriber runs only after the publishing transaction commits,
and a failing subscriber is logged, never turning a committed write into an error:

    # goals/handlers.py (found at start-up, like jobs.py)
    @subscribe(DealWon, DealReopened)
    def recalculate_for_deal(event): ...

Each event carries ids and the moment that decides which period it counts in; an event that
undoes or moves a fact carries the moment it counted in before, so that both periods can be
recounted.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction


@dataclass(frozen=True, kw_only=True)
class Event:
    pass


# Each fact comes as a pair, done and undone, over the same fields: the subclasses add nothing
# but their name (equal fields of two kinds are still two different events).


@dataclass(frozen=True, kw_only=True)
class _WonDeal(Event):
    deal_id: int
    rep_id: int
    amount: Decimal
    closed_at: dt.datetime


class DealWon(_WonDeal):
    pass


class DealReopened(_WonDeal):
    """A win undone: the deal no longer counts for `rep_id` at `closed_at`."""


@dataclass(frozen=True, kw_only=True)
class WonDealChanged(_WonDeal):
    """A won deal's amount, rep or closing time changed (a correction in Django admin)."""

    previous_rep_id: int
    previous_amount: Decimal
    previous_closed_at: dt.datetime


@dataclass(frozen=True, kw_only=True)
class _ActivityCompletion(Event):
    activity_id: int
    rep_id: int
    completed_at: dt.datetime


class ActivityCompleted(_ActivityCompletion):
    pass


class ActivityUncompleted(_ActivityCompletion):
    pass


@dataclass(frozen=True, kw_only=True)
class _TaskCompletion(Event):
    task_id: int
    rep_id: int
    completed_at: dt.datetime


class TaskDone(_TaskCompletion):
    pass


class TaskUndone(_TaskCompletion):
    pass


@dataclass(frozen=True, kw_only=True)
class _SignUp(Event):
    customer_id: int
    rep_id: int | None
    signed_up_at: dt.datetime


class CustomerSignedUp(_SignUp):
    pass


class CustomerSignUpUndone(_SignUp):
    """A sign-up corrected away (the customer is a prospect again, or it moved to another rep
    or day: then a CustomerSignedUp follows)."""


@dataclass(frozen=True, kw_only=True)
class _RepActivity(Event):
    rep_id: int


class RepActivated(_RepActivity):
    """A rep who joined, or came back: what is kept per active rep is due for them now."""


class RepDeactivated(_RepActivity):
    """A rep who left (deactivated)."""


Subscriber = Callable[[Event], None]

_subscribers: defaultdict[type[Event], list[Subscriber]] = defaultdict(list)


def subscribe(*event_types: type[Event]) -> Callable[[Subscriber], Subscriber]:
    """Decorator: call the function with each published event of these types, after commit."""
    if not event_types:
        raise TypeError("subscribe() needs at least one event type.")

    def decorator(subscriber: Subscriber) -> Subscriber:
        for event_type in event_types:
            if subscriber not in _subscribers[event_type]:
                _subscribers[event_type].append(subscriber)
        return subscriber

    return decorator


def unsubscribe(subscriber: Subscriber) -> None:
    for subscribers in _subscribers.values():
        if subscriber in subscribers:
            subscribers.remove(subscriber)


def publish(event: Event) -> None:
    """Hand `event` to its subscribers once the current transaction commits (at once outside
    one); nothing is delivered if it rolls back. A subscriber that raises is logged by Django
    (`robust=True`) under the name given here, and the other subscribers still run."""
    for subscriber in _subscribers.get(type(event), ()):

        def deliver(subscriber: Subscriber = subscriber) -> None:
            subscriber(event)

        deliver.__qualname__ = f"{_name(subscriber)}({type(event).__name__})"
        transaction.on_commit(deliver, robust=True)


def _name(subscriber: Subscriber) -> str:
    return f"{subscriber.__module__}.{getattr(subscriber, '__qualname__', repr(subscriber))}"
