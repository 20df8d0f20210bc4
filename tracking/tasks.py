"""Tracking's Celery tasks: process what arrived, replay a raw row that failed (what a dead
letter sends again). Both call the processing service; both are safe to run twice."""

import logging
import time

from celery import shared_task

from crm.celery import CrmTask
from tracking import processing

logger = logging.getLogger(__name__)

PROCESS_TASK = "tracking.process_events_task"
# How long a task run processes before it leaves the rest to the next (seconds).
TASK_BUDGET = 50
_last_asked = 0.0


@shared_task(name=PROCESS_TASK, base=CrmTask)
def process_events_task() -> int:
    return processing.process_pending(budget=TASK_BUDGET).processed


@shared_task(name=processing.REPLAY_TASK, base=CrmTask)
def replay_raw_event_task(raw_event_id: int) -> int:
    replayed = processing.replay(ids=[raw_event_id])
    if replayed:
        process_soon(now=True)
    return replayed


@shared_task(name="tracking.requeue_entry_task", base=CrmTask)
def requeue_entry_task(entry: dict) -> None:
    """A queue entry's dead letter sent again: the entry back in the stream (tracking.queue)."""
    from tracking import queue  # it asks this module to process what it stored

    queue.requeue(entry)


def process_soon(*, now: bool = False) -> None:
    """Ask a worker to process what arrived: at most once a second per process, not once per
    request (at 2,000 requests a second the queue would hold more messages than events). The
    minute job processes whatever this missed (the broker down, say)."""
    global _last_asked
    moment = time.monotonic()
    if not now and moment - _last_asked < 1:
        return
    _last_asked = moment
    try:
        process_events_task.delay()
    except Exception:
        logger.warning("tracking processing not queued: the minute job will", exc_info=True)
