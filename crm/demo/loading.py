"""How the core's seeders write: in bulk, past the services (no audit entries, no events), every
row within the models' constraints, with the timestamps the history gives it."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.contrib.auth.models import Group
from django.db import models

from crm.demo.registry import DemoContext

BATCH_SIZE = 1000


def insert(context: DemoContext, model: type[models.Model], rows: list) -> None:
    """Add `rows` (parents before their children: bulk_create fills in each parent's id, and the
    children's foreign keys pick it up from the assigned instances), and report them."""
    model.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    context.count(str(model._meta.verbose_name_plural), len(rows))


def join_group(users: list, group: Group) -> None:
    """Put every one of `users` (saved) into `group`, in one statement per batch."""
    membership = Group.user_set.through
    membership.objects.bulk_create(
        [membership(user_id=user.pk, group_id=group.pk) for user in users],
        batch_size=BATCH_SIZE,
    )


def role_group(name: str) -> Group:
    return Group.objects.get_or_create(name=name)[0]


@contextmanager
def given_timestamps(*models: type[models.Model]) -> Iterator[None]:
    """Let bulk_create keep the created_at/updated_at we set.

    auto_now_add/auto_now would stamp every demo row with the load time; dashboards and "newest
    first" lists need the history, so both flags are off for the duration of the load.
    """
    fields = [
        model._meta.get_field(name) for model in models for name in ("created_at", "updated_at")
    ]
    saved = [(f, f.auto_now, f.auto_now_add) for f in fields]
    try:
        for f in fields:
            f.auto_now = f.auto_now_add = False
        yield
    finally:
        for f, auto_now, auto_now_add in saved:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add
