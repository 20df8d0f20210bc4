"""The date-range constraints and the audit trail's one-actor rule, added once 0004 has moved the
dates outside the range into it (in a migration of their own: PostgreSQL does not alter a table
with rows changed earlier in the same transaction)."""

import datetime

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("crm", "0004_platform_rules"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='activity',
            constraint=models.CheckConstraint(condition=models.Q(('due_at__isnull', True), models.Q(('due_at__gte', datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)), ('due_at__lt', datetime.datetime(2100, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))), _connector='OR'), name='activity_due_at_in_range', violation_error_message='Enter a date between 1970 and 2099.'),
        ),
        migrations.AddConstraint(
            model_name='activity',
            constraint=models.CheckConstraint(condition=models.Q(('completed_at__isnull', True), models.Q(('completed_at__gte', datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)), ('completed_at__lt', datetime.datetime(2100, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))), _connector='OR'), name='activity_completed_at_in_range', violation_error_message='Enter a date between 1970 and 2099.'),
        ),
        migrations.AddConstraint(
            model_name='auditentry',
            constraint=models.CheckConstraint(condition=models.Q(('actor__isnull', True), ('system_actor', ''), _connector='OR'), name='audit_entry_one_actor', violation_error_message='An audit entry names a user or a job, not both.'),
        ),
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.CheckConstraint(condition=models.Q(('signed_up_at__isnull', True), models.Q(('signed_up_at__gte', datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)), ('signed_up_at__lt', datetime.datetime(2100, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))), _connector='OR'), name='customer_signed_up_at_in_range', violation_error_message='Enter a date between 1970 and 2099.'),
        ),
        migrations.AddConstraint(
            model_name='deal',
            constraint=models.CheckConstraint(condition=models.Q(('closed_at__isnull', True), models.Q(('closed_at__gte', datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)), ('closed_at__lt', datetime.datetime(2100, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))), _connector='OR'), name='deal_closed_at_in_range', violation_error_message='Enter a date between 1970 and 2099.'),
        ),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.CheckConstraint(condition=models.Q(('due_at__isnull', True), models.Q(('due_at__gte', datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)), ('due_at__lt', datetime.datetime(2100, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))), _connector='OR'), name='task_due_at_in_range', violation_error_message='Enter a date between 1970 and 2099.'),
        ),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.CheckConstraint(condition=models.Q(('completed_at__isnull', True), models.Q(('completed_at__gte', datetime.datetime(1970, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)), ('completed_at__lt', datetime.datetime(2100, 1, 1, 0, 0, tzinfo=datetime.timezone.utc))), _connector='OR'), name='task_completed_at_in_range', violation_error_message='Enter a date between 1970 and 2099.'),
        ),
    ]
