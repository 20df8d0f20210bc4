"""Reads of the job platform's records (admins only: no role scoping applies)."""

from crm.jobs.models import DeadLetter


def dead_letter_pending_count() -> int:
    """Dead letters waiting for a retry (admins' home page)."""
    return DeadLetter.objects.filter(retried=False).count()
