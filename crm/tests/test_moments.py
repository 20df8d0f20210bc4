"""Every time of day the CRM shows carries its zone (crm.periods.format_moment, the `moment`
filter), and audit entries read in labels, not field names."""

import datetime as dt
import zoneinfo

from django.template import Context, Template
from django.utils import timezone

from crm.jobs.models import Heartbeat, JobRun
from crm.models import AuditEntry
from crm.periods import format_moment

MOMENT = dt.datetime(2026, 12, 6, 16, 30, tzinfo=dt.UTC)


def test_a_moment_shows_its_zone_in_the_readers_zone():
    madrid = zoneinfo.ZoneInfo("Europe/Madrid")
    kolkata = zoneinfo.ZoneInfo("Asia/Kolkata")

    assert format_moment(MOMENT, zone=madrid) == "6 Dec 2026, 17:30 CET"
    assert format_moment(MOMENT, "H:i", zone=kolkata) == "22:00 IST"
    with timezone.override(dt.UTC):
        assert format_moment(MOMENT) == "6 Dec 2026, 16:30 UTC"


def test_the_moment_filter_is_built_into_every_template():
    template = Template('{{ when|moment }} · {{ when|moment:"H:i" }} · {{ nothing|moment }}.')

    with timezone.override(zoneinfo.ZoneInfo("America/Sao_Paulo")):
        text = template.render(Context({"when": MOMENT, "nothing": None}))

    assert text == "6 Dec 2026, 13:30 -03 · 13:30 -03 · ."


def test_an_audit_entry_reads_in_labels():
    entry = AuditEntry(
        action="deal.close",
        target_type="crm.deal",
        target_id="1",
        changes={"stage": ["proposal", "closed_won"], "amount": "12.50", "unknown_field": True},
    )

    assert entry.action_label == "Deal closed"
    assert entry.change_lines == [
        "Stage: Proposal → Closed won",
        "Amount: 12.50",
        "Unknown field: Yes",
    ]
    assert AuditEntry(action="thing.made_up").action_label == "Thing made up"


def test_a_timeline_chart_says_the_zone_of_its_times():
    from crm.charts import timeline_chart

    with timezone.override(zoneinfo.ZoneInfo("Europe/Madrid")):
        chart = timeline_chart(
            [(MOMENT, 3)], start=MOMENT - dt.timedelta(hours=1), end=MOMENT, unit="events"
        )

    assert [text for _, text in chart.x_labels] == ["6 Dec 16:30 CET", "6 Dec 17:30 CET"]
    assert chart.summary.endswith("(at 17:30 CET)")


def test_job_runs_and_heartbeats_name_their_times_with_the_zone():
    run = JobRun(name="recalculate_goals", status="succeeded", started_at=MOMENT)
    beat = Heartbeat(component="worker", seen_at=MOMENT)

    with timezone.override(zoneinfo.ZoneInfo("Europe/Madrid")):
        assert str(run) == "recalculate_goals 2026-12-06 17:30 CET succeeded"
        assert str(beat) == "worker @ 17:30:00 CET"
