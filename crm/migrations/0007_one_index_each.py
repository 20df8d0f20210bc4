"""One index per need: a foreign key whose column already leads a composite index or
unique constraint keeps no index of its own (each index is written on every insert and
update). Reversible: the foreign keys get their indexes back."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0006_audit_reason'),
    ]

    operations = [
        migrations.AlterField(
            model_name='activity',
            name='rep',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='activities', to='crm.salesrep'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='owner',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='customers', to='crm.salesrep'),
        ),
        migrations.AlterField(
            model_name='deal',
            name='rep',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='deals', to='crm.salesrep'),
        ),
        migrations.AlterField(
            model_name='routestop',
            name='route',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='stops', to='crm.route'),
        ),
        migrations.AlterField(
            model_name='task',
            name='rep',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='tasks', to='crm.salesrep'),
        ),
    ]
