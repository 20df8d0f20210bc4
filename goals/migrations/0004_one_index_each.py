"""One index per need: a foreign key whose column already leads a composite index or
unique constraint keeps no index of its own (each index is written on every insert and
update). Reversible: the foreign keys get their indexes back."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('goals', '0003_goal_indexes_not_repeated'),
    ]

    operations = [
        migrations.AlterField(
            model_name='achievement',
            name='plan',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='achievements', to='goals.repplan'),
        ),
        migrations.AlterField(
            model_name='goalsnapshot',
            name='goal',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='snapshots', to='goals.goal'),
        ),
        migrations.AlterField(
            model_name='planreminder',
            name='plan',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='reminders', to='goals.repplan'),
        ),
    ]
