"""One index per need: a foreign key whose column already leads a composite index or
unique constraint keeps no index of its own (each index is written on every insert and
update). Reversible: the foreign keys get their indexes back."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0007_one_index_each'),
        ('supervision', '0001_supervision'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='supervisionsession',
            name='supervision_route_date',
        ),
        migrations.AlterField(
            model_name='analysis',
            name='route',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='crm.route'),
        ),
        migrations.AlterField(
            model_name='sessionline',
            name='customer',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='crm.customer'),
        ),
        migrations.AlterField(
            model_name='sessionline',
            name='session',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='supervision.supervisionsession'),
        ),
        migrations.AlterField(
            model_name='supervisionsession',
            name='route',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='supervision_sessions', to='crm.route'),
        ),
    ]
