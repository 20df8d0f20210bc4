"""Tasks that exist only for the tests; the test worker loads them with `-I`."""

from celery import shared_task


@shared_task(
    name="crm.tests.always_fails", max_retries=2, retry_backoff=False, default_retry_delay=0
)
def always_fails(number: int, *, reason: str = "") -> None:
    raise RuntimeError(f"failing on purpose: {number} {reason}")
