"""The queue's figures (TRACKING_QUEUE=redis) for tracking's pages, read where they are shown:
the pages' views need not know whether the queue is on."""

from django import template
from django.utils import timezone
from redis import RedisError

from tracking import ops, queue

register = template.Library()


@register.simple_tag
def tracking_queue() -> dict | None:
    """None without the queue; else its figures, or `down` when Redis cannot be reached."""
    if not queue.enabled():
        return None
    now = timezone.now()
    try:
        return {"figures": ops.queue_figures(queue.backlog(now), now)}
    except RedisError:
        return {"down": True}
