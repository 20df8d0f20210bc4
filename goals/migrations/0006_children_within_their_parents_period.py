"""A goal's period lies within its parent's. Goals linked before that rule whose period does not
(a year's revenue under a month's, which added the year into the month) are unlinked, each with
an audit entry saying why, and the goals above them are summed again without them, audited too.
A parent left with no goals below counts for itself again at the next recalculation.

Backwards this changes nothing: the links it undid broke the rule, and putting them back would
put the wrong sums back too."""

from decimal import Decimal

from django.db import migrations
from django.db.models import F, Q, Sum

ACTOR = "migration:goals.0006"
REASON = "Its period does not lie within its parent goal's: a goal counts toward a period holding it."


def _cents(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def unlink_children_outside_their_parents_period(apps, schema_editor):
    Goal = apps.get_model("goals", "Goal")
    AuditEntry = apps.get_model("crm", "AuditEntry")
    outside = Goal.objects.filter(parent__isnull=False).filter(
        Q(period_start__lt=F("parent__period_start")) | Q(period_end__gt=F("parent__period_end"))
    )
    broken = list(outside.values_list("pk", "parent_id"))
    if not broken:
        return
    Goal.objects.filter(pk__in=[pk for pk, _ in broken]).update(parent=None)
    entries = [
        AuditEntry(
            system_actor=ACTOR, action="goal.unlink", target_type="goals.goal",
            target_id=str(pk), changes={"parent": [parent_id, None]}, reason=REASON,
        )
        for pk, parent_id in broken
    ]  # fmt: skip
    # Each parent, then its parent (three levels at most), summed again without them.
    ids = {parent_id for _, parent_id in broken}
    while ids:
        sums = {
            row["parent_id"]: row
            for row in Goal.objects.filter(parent_id__in=ids)
            .values("parent_id")
            .annotate(value=Sum("current_value"), target=Sum("target_value"))
            .order_by()
        }
        above = set()
        for goal in Goal.objects.filter(pk__in=sums):
            row = sums[goal.pk]
            value = _cents(row["value"] or 0)
            target = _cents(row["target"]) if row["target"] is not None else None
            if (value, target) != (goal.current_value, goal.target_value):
                entries.append(
                    AuditEntry(
                        system_actor=ACTOR, action="goal.roll_up", target_type="goals.goal",
                        target_id=str(goal.pk), reason=REASON,
                        changes={
                            "current_value": [str(goal.current_value), str(value)],
                            "target_value": [
                                None if goal.target_value is None else str(goal.target_value),
                                None if target is None else str(target),
                            ],
                        },
                    )
                )  # fmt: skip
                Goal.objects.filter(pk=goal.pk).update(current_value=value, target_value=target)
            if goal.parent_id is not None:
                above.add(goal.parent_id)
        ids = above
    AuditEntry.objects.bulk_create(entries)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0007_one_index_each"),
        ("goals", "0005_field_labels"),
    ]

    operations = [
        migrations.RunPython(
            unlink_children_outside_their_parents_period, migrations.RunPython.noop
        ),
    ]
