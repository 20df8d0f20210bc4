"""One index per need: a tracked event's session was indexed twice (event_session and the
foreign key's own), a session's tenant once on its own and twice as the leading column of
session_once and session_tenant_first. Every index is written on each of the worker's inserts
and updates. Reversible: the foreign keys get their indexes back."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0002_raw_payload_never_changes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="trackedevent",
            name="session",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="tracking.trackedsession",
            ),
        ),
        migrations.AlterField(
            model_name="trackedsession",
            name="tenant",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="tracking.trackingtenant",
            ),
        ),
    ]
