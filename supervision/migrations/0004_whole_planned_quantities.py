"""Planned quantities, a day's totals and its gap are whole numbers (0003 rounded them).
Reversible with data in the tables: going back makes them decimals again."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('supervision', '0003_round_planned_quantities'),
    ]

    operations = [
        migrations.AlterField(
            model_name='sessionline',
            name='planned_quantity',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='routesummary',
            name='planned_total',
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='routesummary',
            name='actual_total',
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name='routesummary',
            name='gap',
            field=models.BigIntegerField(default=0),
        ),
    ]
