"""Flipping an area's switches and resetting the rate limits: administrators' writes, audited."""

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from crm import ratelimit
from crm.roles import Actor, may_operate
from crm.switches.models import AreaSwitch
from crm.switches.selectors import forget, switchable_areas
from crm.writes import audit, name_actions

NOT_AN_AREA = "No area called {area!r} can be switched."
REASON_NEEDED = "Say why (people see it on the page that replaces the area's)."
BACK_IN_THE_PAST = "The time it is expected back has passed already."

name_actions({
    "switch.set": "Switches flipped",
    "ratelimit.reset": "Rate limits reset",
})  # fmt: skip


@transaction.atomic
def switch_set(
    *,
    actor: Actor,
    area: str,
    jobs_paused: bool,
    offline: bool,
    reason: str = "",
    back_at: datetime | None = None,
) -> AreaSwitch:
    """Set an area's switches (both off: back to normal, the reason and time cleared)."""
    if not may_operate(actor):
        raise PermissionDenied
    if area not in {a.name for a in switchable_areas()}:
        raise ValidationError({"area": NOT_AN_AREA.format(area=area)})
    reason = reason.strip()
    on = jobs_paused or offline
    if on and not reason:
        raise ValidationError({"reason": REASON_NEEDED})
    now = timezone.now()
    if on and back_at is not None and back_at <= now:
        raise ValidationError({"back_at": BACK_IN_THE_PAST})
    switch, _ = AreaSwitch.objects.select_for_update().get_or_create(area=area)
    before = _state(switch)
    switch.jobs_paused, switch.offline = jobs_paused, offline
    switch.reason, switch.back_at = (reason, back_at) if on else ("", None)
    after = _state(switch)
    if after == before:
        return switch
    switch.changed_by = actor if getattr(actor, "pk", None) else None
    switch.changed_at = now
    switch.save()
    changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
    audit(actor=actor, action="switch.set", target=switch, changes=changes, reason=reason)
    # Now, for the rest of this transaction, and again once committed: a request that read the
    # old state meanwhile must not keep it cached.
    forget()
    transaction.on_commit(forget)
    return switch


def _state(switch: AreaSwitch) -> dict:
    return {
        "jobs_paused": switch.jobs_paused,
        "offline": switch.offline,
        "reason": switch.reason,
        "back_at": switch.back_at,
    }


@transaction.atomic
def ratelimit_reset(*, actor: Actor, reason: str) -> int:
    """Clear every rate-limit counter and API throttle history, audited with how many."""
    if not may_operate(actor):
        raise PermissionDenied
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": REASON_NEEDED})
    cleared = ratelimit.reset()
    audit(
        actor=actor, action="ratelimit.reset", target=("crm.ratelimit", "all"),
        changes={"counters_cleared": cleared}, reason=reason,
    )  # fmt: skip
    return cleared
