"""Keys rotated with a grace period: a tenant keeps its previous ingestion key and webhook
secret with the moment they stop working, and the previous key is found by an index of its own
(a key the caches do not hold is looked up as current or previous).

SQLite rebuilds the tenants' table to add the columns: its triggers go first and come back
after (tracking.migrations.0006), both ways.

Reversible: backwards, the columns go, and the previous keys stop working at once."""

from importlib import import_module

from django.db import migrations, models

BOTS = import_module("tracking.migrations.0006_bots_flagged_or_dropped")


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0006_bots_flagged_or_dropped"),
    ]

    operations = [
        migrations.RunPython(BOTS.triggers_gone, BOTS.triggers_again),
        migrations.AddField(
            model_name="trackingtenant",
            name="previous_ingestion_key",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddField(
            model_name="trackingtenant",
            name="previous_keys_expire_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="trackingtenant",
            name="previous_webhook_secret",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddIndex(
            model_name="trackingtenant",
            index=models.Index(
                condition=models.Q(("previous_ingestion_key", ""), _negated=True),
                fields=["previous_ingestion_key"],
                name="tenant_previous_key",
            ),
        ),
        migrations.AddConstraint(
            model_name="trackingtenant",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("previous_ingestion_key", ""),
                        ("previous_keys_expire_at__isnull", True),
                        ("previous_webhook_secret", ""),
                    ),
                    models.Q(
                        ("previous_keys_expire_at__isnull", False),
                        models.Q(
                            ("previous_ingestion_key", ""),
                            ("previous_webhook_secret", ""),
                            _negated=True,
                        ),
                    ),
                    _connector="OR",
                ),
                name="tenant_previous_keys_expire",
                violation_error_message="Previous keys are kept with the moment they expire.",
            ),
        ),
        migrations.RunPython(BOTS.triggers_again, BOTS.triggers_gone),
    ]
