"""Goal fields named as the audit trail and Django admin show them ("Target: 500 → 700",
"Value source: Calculated → Set by hand"). Labels only: no change to the tables."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('goals', '0004_one_index_each'),
    ]

    operations = [
        migrations.AlterField(
            model_name='goal',
            name='calculation_source',
            field=models.CharField(choices=[('auto', 'Calculated'), ('manual', 'Set by hand')], default='auto', max_length=10, verbose_name='value source'),
        ),
        migrations.AlterField(
            model_name='goal',
            name='current_value',
            field=models.DecimalField(decimal_places=2, default=0, max_digits=14, verbose_name='value'),
        ),
        migrations.AlterField(
            model_name='goal',
            name='last_calculated_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='value as of'),
        ),
        migrations.AlterField(
            model_name='goal',
            name='manual_override_reason',
            field=models.TextField(blank=True, verbose_name='why set by hand'),
        ),
        migrations.AlterField(
            model_name='goal',
            name='parent',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='children', to='goals.goal', verbose_name='parent goal'),
        ),
        migrations.AlterField(
            model_name='goal',
            name='period_kind',
            field=models.CharField(choices=[('month', 'Month'), ('quarter', 'Quarter'), ('year', 'Year'), ('custom', 'Custom dates')], max_length=10, verbose_name='period'),
        ),
        migrations.AlterField(
            model_name='goal',
            name='target_value',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True, verbose_name='target'),
        ),
    ]
