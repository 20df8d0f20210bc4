"""Bots: a tenant says whether a browser's bot events are stored flagged (the default) or
dropped, and a raw event says whether it was a bot's.

On PostgreSQL each column is added without rewriting its table (a constant default). SQLite
rebuilds both tables to add them: the triggers that name them would stop the rebuild (a table
renamed while a trigger names one that is gone), and the copies have none of the old tables'
triggers. So on SQLite they go before the change and come back after it, both ways.

Reversible: backwards, the columns go (rows stored flagged stay, as plain rows)."""

from importlib import import_module

from django.db import migrations, models

PAYLOAD_KEPT = import_module("tracking.migrations.0002_raw_payload_never_changes")
TENANT_CHECKED = import_module("tracking.migrations.0005_raw_tenant_checked_once_a_statement")


def triggers_gone(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(PAYLOAD_KEPT.SQLITE_DOWN)
        for statement in TENANT_CHECKED.SQLITE_DOWN:
            schema_editor.execute(statement, params=None)


def triggers_again(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(PAYLOAD_KEPT.SQLITE_DOWN)
        schema_editor.execute(PAYLOAD_KEPT.SQLITE_UP)
        for statement in TENANT_CHECKED.SQLITE_DOWN + TENANT_CHECKED.SQLITE_UP:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0005_raw_tenant_checked_once_a_statement"),
    ]

    operations = [
        migrations.RunPython(triggers_gone, triggers_again),
        migrations.AddField(
            model_name="rawevent",
            name="bot",
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name="trackingtenant",
            name="bot_handling",
            field=models.CharField(
                choices=[
                    ("flag", "Store them flagged as bots (kept out of sessions and figures)"),
                    ("drop", "Do not store them (answered and counted)"),
                ],
                default="flag",
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="trackingtenant",
            constraint=models.CheckConstraint(
                condition=models.Q(("bot_handling__in", ["flag", "drop"])),
                name="tenant_bot_handling_valid",
                violation_error_message="Store bots' events flagged, or drop them.",
            ),
        ),
        migrations.RunPython(triggers_again, triggers_gone),
    ]
