"""Rollups for the dashboards (tracking.rollups): events a minute by type and source, page views
an hour by path, sessions a quarter of an hour; and a session's first sighting before the worker
last moved it on, which the worker's upsert returns to move the session's count.

Forward, the rollups are counted from the events and sessions already there. Reversible: back,
the rollups go (they are counted again from the events on the way forward) and the column with
them."""

import django.db.models.deletion
from django.db import migrations, models


def count_what_is_there(apps, schema_editor) -> None:
    from tracking import rollups

    rollups.rebuild()


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0007_keys_kept_for_a_grace"),
    ]

    operations = [
        migrations.AddField(
            model_name="trackedsession",
            name="first_seen_before",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="EventsByMinute",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("minute", models.DateTimeField()),
                ("evt_type", models.CharField(max_length=64)),
                ("record_source", models.CharField(max_length=40)),
                ("n", models.BigIntegerField()),
                (
                    "tenant",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tracking.trackingtenant",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant", "minute", "evt_type", "record_source"),
                        name="rollup_minute_once",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("n__gte", 0)),
                        name="rollup_minute_counted",
                        violation_error_message="A count is never below zero.",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="PageViewsByHour",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("hour", models.DateTimeField()),
                ("url_path", models.CharField(max_length=2048)),
                ("n", models.BigIntegerField()),
                (
                    "tenant",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tracking.trackingtenant",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant", "hour", "url_path"), name="rollup_hour_once"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("n__gte", 0)),
                        name="rollup_hour_counted",
                        violation_error_message="A count is never below zero.",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="SessionsByQuarter",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("quarter", models.DateTimeField()),
                ("sessions", models.BigIntegerField()),
                ("bounced", models.BigIntegerField()),
                (
                    "tenant",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="tracking.trackingtenant",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("tenant", "quarter"), name="rollup_quarter_once"
                    ),
                ],
            },
        ),
        migrations.RunPython(count_what_is_there, migrations.RunPython.noop),
    ]
