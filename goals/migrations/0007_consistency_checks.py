"""The consistency checks' runs (goals.services.consistency). Backwards the table goes, with the
checks' history only: no goal changes."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('goals', '0006_children_within_their_parents_period'),
    ]

    operations = [
        migrations.CreateModel(
            name='GoalCheck',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('started_at', models.DateTimeField()),
                ('finished_at', models.DateTimeField()),
                ('checked_by', models.CharField(max_length=100)),
                ('goals_checked', models.PositiveIntegerField()),
                ('differences', models.PositiveIntegerField()),
                ('largest', models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True)),
                ('found', models.JSONField(blank=True, default=list)),
                ('repaired', models.PositiveIntegerField(default=0)),
            ],
            options={
                'ordering': ['-started_at', '-id'],
                'get_latest_by': 'started_at',
                'constraints': [models.CheckConstraint(condition=models.Q(('differences__lte', models.F('goals_checked'))), name='goal_check_differences_among_checked'), models.CheckConstraint(condition=models.Q(('repaired__lte', models.F('differences'))), name='goal_check_repaired_among_differences'), models.CheckConstraint(condition=models.Q(models.Q(('differences', 0), ('largest__isnull', True)), models.Q(('differences__gt', 0), ('largest__gt', 0)), _connector='OR'), name='goal_check_largest_matches_differences'), models.CheckConstraint(condition=models.Q(('finished_at__gte', models.F('started_at'))), name='goal_check_finished_after_start')],
            },
        ),
    ]
