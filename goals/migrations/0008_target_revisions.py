"""A goal keeps its original target and every revision of it. Goals already there take their
current target as their original (nothing older is known); backwards, the original targets and
the revisions go, the current targets stay."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def originals_are_current_targets(apps, schema_editor):
    Goal = apps.get_model("goals", "Goal")
    Goal.objects.update(original_target=models.F("target_value"))


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0013_area_switches"),
        ("goals", "0007_consistency_checks"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="GoalTargetRevision",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "old_target",
                    models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True),
                ),
                (
                    "new_target",
                    models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True),
                ),
                ("reason", models.TextField(blank=True)),
                ("system_actor", models.CharField(blank=True, max_length=100)),
                ("changed_at", models.DateTimeField()),
                ("after_start", models.BooleanField()),
            ],
            options={
                "ordering": ["goal", "changed_at", "id"],
            },
        ),
        migrations.AddField(
            model_name="goal",
            name="original_target",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                max_digits=14,
                null=True,
                verbose_name="original target",
            ),
        ),
        migrations.RunPython(originals_are_current_targets, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="goal",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("original_target__isnull", True), ("original_target__gte", 0), _connector="OR"
                ),
                name="goal_original_target_not_negative",
                violation_error_message="A target cannot be negative.",
            ),
        ),
        migrations.AddField(
            model_name="goaltargetrevision",
            name="changed_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="goaltargetrevision",
            name="goal",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="revisions",
                to="goals.goal",
            ),
        ),
        migrations.AddConstraint(
            model_name="goaltargetrevision",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("after_start", False), models.Q(("reason", ""), _negated=True), _connector="OR"
                ),
                name="goal_revision_reason_after_start",
                violation_error_message="A target changed after its period started needs a reason.",
            ),
        ),
        migrations.AddConstraint(
            model_name="goaltargetrevision",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("changed_by__isnull", True), ("system_actor", ""), _connector="OR"
                ),
                name="goal_revision_one_actor",
                violation_error_message="A revision names a person or a job, not both.",
            ),
        ),
    ]
