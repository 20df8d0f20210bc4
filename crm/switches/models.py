"""One row per area whose switches were ever flipped; no row means both are off."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from crm.periods import format_moment


class AreaSwitch(models.Model):
    area = models.CharField(max_length=40, unique=True)
    jobs_paused = models.BooleanField("jobs paused", default=False)
    offline = models.BooleanField("pages and API offline", default=False)
    reason = models.CharField(max_length=300, blank=True, default="", db_default="")
    # When the people running the CRM expect the area back: the 503's Retry-After and its page.
    back_at = models.DateTimeField("expected back", null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "crm"
        ordering = ["area"]
        constraints = [
            # A switch that is on says why: the page people see and the audit both show it.
            models.CheckConstraint(
                condition=Q(jobs_paused=False, offline=False) | ~Q(reason=""),
                name="area_switch_on_has_reason",
                violation_error_message="Say why the switch is on.",
            ),
        ]

    def __str__(self) -> str:
        states = [name for name, on in (("jobs paused", self.jobs_paused),
                                        ("offline", self.offline)) if on]  # fmt: skip
        when = f" since {format_moment(self.changed_at)}" if self.changed_at else ""
        return f"{self.area}: {', '.join(states) or 'on as usual'}{when}"
