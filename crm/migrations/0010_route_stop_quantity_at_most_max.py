"""A route stop's planned quantity is at most 999,999 (crm.models.MAX_QUANTITY) in the database
too, not only in the forms and the API. Quantities above it (written before the rule, by an
import or by hand) are capped at 999,999 first, each cap recorded in the audit trail with the
old value, so that the constraint can be added on any data and nothing is lost without a
trace. Reversible: the constraint goes; capped quantities stay capped (they fit either way)."""

from django.db import migrations, models

MAX_QUANTITY = 999_999  # crm.models.MAX_QUANTITY when this was written


def cap_planned_quantities(apps, schema_editor):
    RouteStop = apps.get_model("crm", "RouteStop")
    AuditEntry = apps.get_model("crm", "AuditEntry")
    over = RouteStop.objects.filter(planned_quantity__gt=MAX_QUANTITY)
    AuditEntry.objects.bulk_create(
        AuditEntry(
            system_actor="migration:crm.0010",
            action="route_stop.quantity_capped",
            target_type="crm.routestop",
            target_id=str(pk),
            changes={"planned_quantity": [quantity, MAX_QUANTITY]},
        )
        for pk, quantity in over.values_list("pk", "planned_quantity")
    )
    over.update(planned_quantity=MAX_QUANTITY)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0009_whole_planned_quantities"),
    ]

    operations = [
        migrations.RunPython(cap_planned_quantities, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="routestop",
            constraint=models.CheckConstraint(
                condition=models.Q(("planned_quantity__lte", 999999)),
                name="route_stop_quantity_at_most_max",
                violation_error_message="A planned quantity is at most 999,999.",
            ),
        ),
    ]
