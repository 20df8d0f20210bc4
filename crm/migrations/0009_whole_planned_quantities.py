"""A route stop's planned quantity is a whole number. Existing quantities are rounded half up
first (29.50 becomes 30) in one UPDATE, so that the change of type keeps every row on every
database. The check that it is not negative stays. Reversible: whole numbers fit the old
decimals (the rounding itself is not undone)."""

from decimal import Decimal

import django.core.validators
from django.db import migrations, models
from django.db.models import F, Value
from django.db.models.functions import Floor


def round_half_up(apps, schema_editor):
    RouteStop = apps.get_model("crm", "RouteStop")
    # FLOOR(x + 0.5): half up on every database (quantities are never negative).
    RouteStop.objects.exclude(planned_quantity=Floor(F("planned_quantity"))).update(
        planned_quantity=Floor(F("planned_quantity") + Value(Decimal("0.5")))
    )


class Migration(migrations.Migration):

    dependencies = [
        ("crm", "0008_customer_contacts_activity_outcomes"),
    ]

    operations = [
        migrations.RunPython(round_half_up, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="routestop",
            name="planned_quantity",
            field=models.PositiveIntegerField(
                default=0, validators=[django.core.validators.MaxValueValidator(999999)]
            ),
        ),
    ]
