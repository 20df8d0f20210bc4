"""Planned quantities become whole numbers, like actual ones (the columns change in 0004): a
line's planned quantity is rounded (29.50 → 30, half away from zero), its day's totals and gap
are the sums of its lines again, and the achievement follows. The data and the columns change
in two migrations: PostgreSQL alters no table that has row changes still to check in the same
transaction. Going back keeps the rounded values."""

from django.db import migrations

ROUND_LINES = "UPDATE supervision_sessionline SET planned_quantity = ROUND(planned_quantity)"

# The totals from the rounded lines; the achievement from the new totals (capped as
# supervision.rules.figures caps it).
RECOUNT_SUMMARIES = """
UPDATE supervision_routesummary SET planned_total = (
    SELECT COALESCE(SUM(line.planned_quantity), 0) FROM supervision_sessionline line
    WHERE line.session_id = supervision_routesummary.session_id
), actual_total = ROUND(actual_total)
"""
RECOUNT_GAP_AND_ACHIEVEMENT = """
UPDATE supervision_routesummary SET gap = planned_total - actual_total,
achievement_percent = CASE
    WHEN planned_total = 0 THEN 0
    WHEN actual_total * 100.0 / planned_total > 999999.99 THEN 999999.99
    ELSE ROUND(actual_total * 100.0 / planned_total, 2)
END
"""


class Migration(migrations.Migration):

    dependencies = [
        ('supervision', '0002_one_index_each'),
    ]

    operations = [
        migrations.RunSQL(ROUND_LINES, migrations.RunSQL.noop),
        migrations.RunSQL(RECOUNT_SUMMARIES, migrations.RunSQL.noop),
        migrations.RunSQL(RECOUNT_GAP_AND_ACHIEVEMENT, migrations.RunSQL.noop),
    ]
