"""A distributed lock: a lease row in the database, timed on the database's clock."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, ExpressionWrapper
from django.db.models.functions import Now

from crm.jobs.models import JobLock


def _expiry(lease: timedelta) -> ExpressionWrapper:
    # The database's clock, not this host's: hosts with skewed clocks agree on expiry.
    return ExpressionWrapper(Now() + lease, output_field=DateTimeField())


def lock_acquire(name: str, *, holder: str, lease: timedelta) -> bool:
    """Take the lease on `name` if nobody holds it or the holder's lease has run out.

    Both statements are single-row and atomic in PostgreSQL and SQLite: two concurrent INSERTs
    collide on the primary key, and two concurrent take-overs of an expired lease serialise on the
    row lock, the second re-checking `expires_at` and updating nothing.
    """
    try:
        with transaction.atomic():
            JobLock.objects.create(
                name=name, holder=holder, acquired_at=Now(), expires_at=_expiry(lease)
            )
        return True
    except IntegrityError:
        pass
    taken_over = JobLock.objects.filter(name=name, expires_at__lte=Now()).update(
        holder=holder, acquired_at=Now(), expires_at=_expiry(lease)
    )
    return taken_over == 1


def lock_release(name: str, *, holder: str) -> None:
    """Release the lease if we still hold it (it may have expired and been taken over)."""
    JobLock.objects.filter(name=name, holder=holder).delete()


def lock_extend(name: str, *, holder: str, lease: timedelta) -> bool:
    """Push the lease's expiry forward for a long run; False if it was lost meanwhile."""
    return JobLock.objects.filter(name=name, holder=holder).update(expires_at=_expiry(lease)) == 1


@contextmanager
def job_lock(name: str, *, lease: timedelta) -> Iterator[str | None]:
    """`with job_lock("x", lease=...) as holder:` runs the body whether or not the lock was
    acquired (holder is None when it was not); the body decides what to do then."""
    holder = uuid.uuid4().hex
    acquired = lock_acquire(name, holder=holder, lease=lease)
    try:
        yield holder if acquired else None
    finally:
        if acquired:
            lock_release(name, holder=holder)
