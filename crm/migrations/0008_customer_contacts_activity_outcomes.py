"""A customer's contact (who to ask for, phone, email) and an activity's outcome and notes. An
outcome belongs to a completed activity only; existing rows have none. Reversible."""

from django.db import migrations, models

import crm.models


class Migration(migrations.Migration):

    dependencies = [
        ("crm", "0007_one_index_each"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="contact_name",
            field=models.CharField(blank=True, max_length=120),
        ),
        migrations.AddField(
            model_name="customer",
            name="phone",
            field=models.CharField(
                blank=True, max_length=40, validators=[crm.models.validate_phone]
            ),
        ),
        migrations.AddField(
            model_name="customer",
            name="email",
            field=models.EmailField(blank=True, max_length=254),
        ),
        migrations.AddField(
            model_name="activity",
            name="outcome",
            field=models.CharField(
                blank=True,
                choices=[
                    ("ordered", "Ordered"),
                    ("interested", "Interested"),
                    ("follow_up", "Follow-up needed"),
                    ("no_answer", "No answer"),
                    ("not_interested", "Not interested"),
                ],
                max_length=20,
            ),
        ),
        migrations.AddField(
            model_name="activity",
            name="notes",
            field=models.CharField(blank=True, max_length=2000),
        ),
        migrations.AddConstraint(
            model_name="activity",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("outcome", ""),
                    (
                        "outcome__in",
                        ["ordered", "interested", "follow_up", "no_answer", "not_interested"],
                    ),
                    _connector="OR",
                ),
                name="activity_outcome_valid",
                violation_error_message="Choose a known outcome.",
            ),
        ),
        migrations.AddConstraint(
            model_name="activity",
            constraint=models.CheckConstraint(
                condition=models.Q(("outcome", ""), ("status", "completed"), _connector="OR"),
                name="activity_outcome_when_completed",
                violation_error_message="Only an activity that was done has an outcome.",
            ),
        ),
    ]
