"""Each goal keeps what the analytics' velocity reads of its snapshots (its first snapshot's day
and value, its last snapshot's day, its change a day), filled here from the snapshots already
there; backwards, the columns go."""

from django.db import migrations, models


def keep_history(apps, schema_editor):
    """Each goal's first and last snapshot and its change a day, read from its snapshots (as
    goals.services.history.goals_history_resync does; written out here so that this migration
    keeps working whatever that module becomes)."""
    connection = schema_editor.connection
    sqlite = connection.vendor == "sqlite"

    def days(later, earlier):
        return (
            f"(julianday({later}) - julianday({earlier}))" if sqlite else f"({later} - {earlier})"
        )

    def pick(column, order):
        return (
            f"(SELECT x.{column} FROM goals_goalsnapshot x WHERE x.goal_id = goals_goal.id "
            f"ORDER BY x.date {order} LIMIT 1)"
        )

    first, first_value = pick("date", "ASC"), pick("value", "ASC")
    last, last_value = pick("date", "DESC"), pick("value", "DESC")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE goals_goal SET first_snapshot_date = {first},
                first_snapshot_value = {first_value}, last_snapshot_date = {last},
                daily_change = CASE WHEN {last} > {first}
                    THEN ROUND(({last_value} - {first_value}) / {days(last, first)}, 4) END
            WHERE EXISTS (SELECT 1 FROM goals_goalsnapshot x WHERE x.goal_id = goals_goal.id)"""
        )


class Migration(migrations.Migration):
    dependencies = [
        ("goals", "0008_target_revisions"),
    ]

    operations = [
        migrations.AddField(
            model_name="goal",
            name="daily_change",
            field=models.DecimalField(
                blank=True,
                decimal_places=4,
                editable=False,
                max_digits=18,
                null=True,
                verbose_name="change a day",
            ),
        ),
        migrations.AddField(
            model_name="goal",
            name="first_snapshot_date",
            field=models.DateField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="goal",
            name="first_snapshot_value",
            field=models.DecimalField(
                blank=True, decimal_places=2, editable=False, max_digits=14, null=True
            ),
        ),
        migrations.AddField(
            model_name="goal",
            name="last_snapshot_date",
            field=models.DateField(blank=True, editable=False, null=True),
        ),
        # Backwards, the columns go: nothing to undo.
        migrations.RunPython(keep_history, migrations.RunPython.noop),
    ]
