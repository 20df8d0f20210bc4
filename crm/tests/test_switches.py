"""Switches for a bad day (crm.switches): an area's jobs paused, its pages and API offline with
a 503 and Retry-After, the rate limits reset; each flip by an administrator only, audited."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.html import escape

from crm import ratelimit
from crm.jobs.models import JobRunStatus
from crm.jobs.runner import job_run
from crm.models import AuditEntry
from crm.switches import services
from crm.switches.models import AreaSwitch
from crm.switches.selectors import STATES_KEY, switches_on
from crm.testing import HTMX

pytestmark = pytest.mark.django_db

REASON = "The analysis answers wrong figures; a fix is on its way."


def test_a_switch_is_flipped_audited_and_back_to_normal_clears_its_reason(admin_user):
    later = timezone.now() + dt.timedelta(hours=2)
    switch = services.switch_set(
        actor=admin_user, area="supervision", jobs_paused=True, offline=True, reason=REASON,
        back_at=later,
    )  # fmt: skip
    assert (switch.jobs_paused, switch.offline, switch.changed_by) == (True, True, admin_user)
    entry = AuditEntry.objects.get(action="switch.set")
    assert entry.reason == REASON and entry.action_label == "Switches flipped"
    assert entry.changes["offline"] == [False, True]

    services.switch_set(actor=admin_user, area="supervision", jobs_paused=False, offline=False)
    switch.refresh_from_db()
    assert (switch.jobs_paused, switch.offline, switch.reason, switch.back_at) == (
        False, False, "", None
    )  # fmt: skip
    assert AuditEntry.objects.filter(action="switch.set").count() == 2
    # The same state again is no change: nothing audited.
    services.switch_set(actor=admin_user, area="supervision", jobs_paused=False, offline=False)
    assert AuditEntry.objects.filter(action="switch.set").count() == 2


@pytest.mark.parametrize("person", ["rep", "supervisor"])
def test_only_administrators_flip_switches(request, person):
    user = request.getfixturevalue(person)
    user = getattr(user, "user", user)
    with pytest.raises(PermissionDenied):
        services.switch_set(actor=user, area="goals", jobs_paused=True, offline=False, reason="x")
    with pytest.raises(PermissionDenied):
        services.ratelimit_reset(actor=user, reason="x")
    assert not AreaSwitch.objects.exists()


@pytest.mark.parametrize(
    ("area", "reason", "back_in", "field"),
    [
        ("admin", REASON, None, "area"),  # where switches are flipped back: always on
        ("ops", REASON, None, "area"),
        ("nowhere", REASON, None, "area"),
        ("goals", "   ", None, "reason"),
        ("goals", REASON, -1, "back_at"),
    ],
)
def test_a_switch_refuses_what_cannot_be(admin_user, area, reason, back_in, field):
    back_at = None if back_in is None else timezone.now() + dt.timedelta(minutes=back_in)
    with pytest.raises(ValidationError) as refused:
        services.switch_set(
            actor=admin_user, area=area, jobs_paused=False, offline=True, reason=reason,
            back_at=back_at,
        )  # fmt: skip
    assert field in refused.value.message_dict
    assert not AreaSwitch.objects.exists()


def test_an_area_offline_answers_503_on_its_pages_and_api_and_the_rest_works(
    admin_user, rep_client, rep_api, admin_client
):
    back_at = timezone.now() + dt.timedelta(minutes=30)
    services.switch_set(
        actor=admin_user, area="goals", jobs_paused=False, offline=True, reason=REASON,
        back_at=back_at,
    )  # fmt: skip

    page = rep_client.get("/goals/plan/")
    assert page.status_code == 503
    assert 1700 <= int(page["Retry-After"]) <= 1800
    text = page.content.decode()
    assert "Goals is offline for a while" in text and REASON in text
    assert "Expected back at" in text

    answer = rep_api.get("/api/goals/")
    assert answer.status_code == 503
    assert answer.json()["code"] == "offline" and REASON in answer.json()["detail"]
    assert int(answer["Retry-After"]) > 0

    assert rep_client.get("/deals/").status_code == 200  # another area
    home = rep_client.get("/")
    assert home.status_code == 200
    assert b'id="plan-card"' not in home.content  # the offline area's block is left out
    assert admin_client.get("/ops/switches/").status_code == 200
    assert admin_client.get("/admin/").status_code == 200

    services.switch_set(actor=admin_user, area="goals", jobs_paused=False, offline=False)
    assert rep_client.get("/goals/plan/").status_code == 200


def test_an_htmx_request_to_an_offline_area_is_answered_503_too(admin_user, rep_client):
    services.switch_set(
        actor=admin_user, area="sales", jobs_paused=False, offline=True, reason=REASON
    )
    answer = rep_client.get("/deals/", headers=HTMX)
    assert answer.status_code == 503 and answer["Retry-After"] == "300"


def test_the_views_area_is_found_before_the_middleware_that_reads_it():
    # process_view runs top down: the switch and the refusal count read request.crm_area.
    from django.conf import settings

    order = [path.rsplit(".", 1)[1] for path in settings.MIDDLEWARE]
    finds = order.index("ViewAreaMiddleware")
    assert finds < order.index("OfflineAreasMiddleware")
    assert finds < order.index("RefusalCountMiddleware")


def test_the_states_are_read_from_the_database_when_the_cache_has_none(admin_user):
    services.switch_set(
        actor=admin_user, area="tracking", jobs_paused=True, offline=False, reason=REASON
    )
    cache.delete(STATES_KEY)  # as after a Redis restart
    assert switches_on()["tracking"].jobs_paused
    assert cache.get(STATES_KEY) is not None  # and kept for the next requests


def test_a_paused_areas_jobs_are_skipped_and_recorded_while_the_cores_run(admin_user):
    services.switch_set(
        actor=admin_user, area="supervision", jobs_paused=True, offline=False, reason=REASON
    )
    skipped = job_run("supervision_prune_reviews")
    assert skipped.status == JobRunStatus.SKIPPED_PAUSED
    assert job_run("close_abandoned_job_runs").status == JobRunStatus.SUCCEEDED

    services.switch_set(actor=admin_user, area="supervision", jobs_paused=False, offline=False)
    assert job_run("supervision_prune_reviews").status == JobRunStatus.SUCCEEDED


def test_the_rate_limits_reset_lets_a_locked_out_client_in_again(admin_user):
    for _ in range(3):
        ratelimit.take("switch-test", limit=3, window=600)
    assert not ratelimit.take("switch-test", limit=3, window=600).allowed

    cleared = services.ratelimit_reset(actor=admin_user, reason="The burst is over.")

    assert cleared >= 1
    assert ratelimit.take("switch-test", limit=3, window=600).allowed
    entry = AuditEntry.objects.get(action="ratelimit.reset")
    assert entry.target_type == "crm.ratelimit" and entry.changes == {"counters_cleared": cleared}
    assert entry.action_label == "Rate limits reset"


# --- The page -------------------------------------------------------------------------------


def test_the_switches_page_is_for_administrators(rep_client, supervisor_client, admin_client):
    assert rep_client.get("/ops/switches/").status_code == 403
    assert supervisor_client.get("/ops/switches/").status_code == 403
    page = admin_client.get("/ops/switches/")
    assert page.status_code == 200
    text = page.content.decode()
    for label in ("Sales", "Goals", "Supervision", "Tracking"):
        assert f">{label}" in text
    assert 'href="/ops/"' in text  # the navigation's Ops entry


def test_flipping_from_the_page_says_what_happened_and_a_refusal_keeps_what_was_typed(
    admin_client,
):
    refused = admin_client.post(
        "/ops/switches/tracking/", {"tracking-offline": "on", "tracking-reason": ""}
    )
    assert refused.status_code == 400
    assert escape(services.REASON_NEEDED) in refused.content.decode()
    assert 'name="tracking-offline" id="id_tracking-offline" checked' in refused.content.decode()

    done = admin_client.post(
        "/ops/switches/tracking/",
        {"tracking-jobs_paused": "on", "tracking-reason": REASON},
        follow=True,
    )
    assert done.redirect_chain[-1][0] == "/ops/switches/#switch-tracking"
    assert "Tracking: jobs paused." in done.content.decode()
    assert AreaSwitch.objects.get(area="tracking").jobs_paused


def test_the_switch_addresses_answer_a_get_with_the_page(admin_client):
    for url in ("/ops/switches/goals/", "/ops/switches/rate-limits/reset/"):
        answer = admin_client.get(url)
        assert answer.status_code == 302 and answer["Location"] == "/ops/switches/"


@pytest.mark.parametrize(
    "data",
    [
        {"goals-offline": "on", "goals-reason": "a\x00b"},
        {"goals-offline": "on", "goals-reason": "x" * 301},
        {"goals-offline": "on", "goals-reason": REASON, "goals-back_at": "9999-12-31T23:59"},
        {"goals-offline": "on", "goals-reason": REASON, "goals-back_at": "0001-01-01T00:00"},
        {"goals-offline": "on", "goals-reason": REASON, "goals-back_at": "1e309"},
    ],
)
def test_bad_input_on_the_page_is_a_400_and_changes_nothing(admin_client, data):
    answer = admin_client.post("/ops/switches/goals/", data)
    assert answer.status_code == 400
    assert not AreaSwitch.objects.filter(offline=True).exists()


def test_an_unknown_area_on_the_page_is_a_400(admin_client):
    answer = admin_client.post("/ops/switches/nowhere/", {"nowhere-reason": REASON})
    assert answer.status_code == 400


def test_the_rate_limit_reset_from_the_page_needs_a_reason(admin_client):
    assert admin_client.post("/ops/switches/rate-limits/reset/", {"reason": ""}).status_code == 400
    done = admin_client.post(
        "/ops/switches/rate-limits/reset/", {"reason": "The burst is over."}, follow=True
    )
    assert "Rate limits reset" in done.content.decode()


def test_the_switches_page_reads_a_fixed_number_of_queries(
    admin_client, admin_user, assert_queries
):
    services.switch_set(
        actor=admin_user, area="goals", jobs_paused=True, offline=False, reason=REASON
    )
    admin_client.get("/ops/switches/")
    with assert_queries(4):
        admin_client.get("/ops/switches/")
