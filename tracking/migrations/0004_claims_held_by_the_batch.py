"""A claim is the processing transaction's hold on its rows (tracking.processing): PROCESSING is
no longer written, and its lease column and index go. Rows an older worker left PROCESSING are
pending again (processing them twice is harmless: an event is unique by raw row, and a row that
has its event does not count again).

Tracked sessions are updated by every batch that holds one of their events: their pages keep
room (fillfactor 70, PostgreSQL) so that an update writes the new row version beside the old
one without touching the indexes (a HOT update: none of their indexed columns change).

Reversible: backwards, the column and the index come back, empty, and sessions' pages fill up
again."""

from importlib import import_module

from django.db import migrations, models

SESSIONS = "tracking_trackedsession"
PAYLOAD_KEPT = import_module("tracking.migrations.0002_raw_payload_never_changes")


def payload_kept_again(apps, schema_editor):
    """SQLite rebuilds the table to drop a column or change a check, and the copy has none of
    the old table's triggers: the raw payload's comes back."""
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(PAYLOAD_KEPT.SQLITE_DOWN)
        schema_editor.execute(PAYLOAD_KEPT.SQLITE_UP)


def sessions_keep_room(apps, schema_editor):
    payload_kept_again(apps, schema_editor)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {SESSIONS} SET (fillfactor = 70)")


def sessions_fill_up(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {SESSIONS} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0003_one_index_each"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, payload_kept_again),
        migrations.RunSQL(
            "UPDATE tracking_rawevent SET status = 0 WHERE status = 1", migrations.RunSQL.noop
        ),
        migrations.RemoveConstraint(
            model_name="rawevent",
            name="raw_status_valid",
        ),
        migrations.RemoveIndex(
            model_name="rawevent",
            name="raw_leased",
        ),
        migrations.RemoveField(
            model_name="rawevent",
            name="lease_until",
        ),
        migrations.AlterField(
            model_name="rawevent",
            name="status",
            field=models.PositiveSmallIntegerField(
                choices=[(0, "Pending"), (2, "Processed"), (3, "Failed")], default=0
            ),
        ),
        migrations.AddConstraint(
            model_name="rawevent",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", [0, 2, 3])),
                name="raw_status_valid",
                violation_error_message="Not a processing status.",
            ),
        ),
        migrations.RunPython(sessions_keep_room, sessions_fill_up),
    ]
