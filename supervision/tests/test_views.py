"""The supervision pages through HTTP: the day's page (draft, saved, read-only), the in-page
line check, saving with its version and what a conflict shows, reviews with their cache and
rate limit, reopening, scope and query counts."""

import datetime as dt
import re
import uuid

import pytest
from django.urls import reverse
from django.utils.html import escape

from crm.testing import HTMX, signed_in
from crm.testing.routes import route_with_stops
from supervision import forms, rules, selectors, services, views
from supervision.models import RouteSummary, SessionLine, SessionStatus, SupervisionSession
from supervision.tests.helpers import customers, page_form, today

pytestmark = pytest.mark.django_db


def url(name, route, date=None):
    return reverse(f"supervision:{name}", args=[route.pk, (date or today()).isoformat()])


def form(route, version=0, token=None, lines=None):
    """The page's form as a day never saved shows it: every row (quantity 0, nothing
    visited, with that as its base), then `lines` ({customer: {"qty": "5", "visited": True,
    ...}})."""
    data = {"record_version": str(version), "client_token": str(token or uuid.uuid4())}
    for customer in customers(route):
        data |= {f"qty-{customer}": "0", f"reason-{customer}": "", f"note-{customer}": "",
                 f"base-{customer}": '[false, 0, "", ""]'}  # fmt: skip
    for customer, fields in (lines or {}).items():
        for name, value in fields.items():
            if name != "visited":
                data[f"{name}-{customer}"] = value
            elif value:
                data[f"visited-{customer}"] = "on"
    return data


def test_the_area_lists_the_routes_and_opens_a_day(supervisor_client, route):
    index = supervisor_client.get(reverse("supervision:index"))
    opened = supervisor_client.get(
        reverse("supervision:index"), {"route": route.pk, "date": today()}
    )

    assert index.status_code == 200 and route.code in index.content.decode()
    assert opened.status_code == 302 and opened.url == url("day", route)


def test_a_new_day_shows_the_stops_as_an_editable_draft(supervisor_client, route):
    page = supervisor_client.get(url("day", route))
    html = page.content.decode()

    assert page.status_code == 200
    assert 'name="record_version" value="0"' in html and "Save session" in html
    assert len(re.findall(r'name="qty-\d+"', html)) == 3 and " disabled" not in html


def test_saving_through_the_page_shows_a_message_and_the_day_becomes_read_only(
    supervisor_client, route
):
    first, second, _ = customers(route)
    data = form(route, lines={first: {"visited": True, "qty": "12"}, second: {"qty": "-5"}})
    saved = supervisor_client.post(url("save", route), data, follow=True)
    html = saved.content.decode()

    assert saved.redirect_chain[-1][0] == url("day", route)
    assert "Session saved" in html and rules.QUANTITY_RESET in html
    assert "Read-only" in html and " disabled" in html and "Save session" not in html
    session = SupervisionSession.objects.get()
    assert session.status == SessionStatus.SAVED
    assert SessionLine.objects.get(customer_id=first).actual_quantity == 12


def test_a_draft_is_kept_without_becoming_read_only(supervisor_client, route):
    data = {**form(route), "action": "draft"}
    kept = supervisor_client.post(url("save", route), data, follow=True)

    assert "Draft kept" in kept.content.decode()
    assert SupervisionSession.objects.get().status == SessionStatus.DRAFT
    assert 'name="record_version" value="1"' in kept.content.decode()


@pytest.mark.parametrize(
    ("typed", "message"),
    [("1000000", rules.QUANTITY_TOO_LARGE), ("3.5", rules.QUANTITY_NOT_WHOLE),
     ("ten", rules.QUANTITY_NOT_WHOLE)],
)  # fmt: skip
def test_a_bad_quantity_is_a_400_on_its_line_with_what_was_typed(
    supervisor_client, route, typed, message
):
    first = customers(route)[0]
    data = form(route, lines={first: {"visited": True, "qty": typed}})
    refused = supervisor_client.post(url("save", route), data)
    html = refused.content.decode()

    assert refused.status_code == 400
    assert message in html and f'value="{typed}"' in html
    assert not SupervisionSession.objects.exists()


def test_a_stop_not_on_the_route_is_refused(supervisor_client, route):
    data = {**form(route), "qty-987654": "3", "visited-987654": "on"}
    refused = supervisor_client.post(url("save", route), data)
    assert refused.status_code == 400
    assert not SupervisionSession.objects.exists()


def test_the_line_check_resets_a_negative_quantity_and_refuses_a_huge_one(supervisor_client, route):
    first = customers(route)[0]
    negative = form(route, lines={first: {"visited": True, "qty": "-5"}})
    huge = form(route, lines={first: {"visited": True, "qty": "1000000"}})
    headers = {**HTMX, "HX-Trigger-Name": f"qty-{first}"}

    reset = supervisor_client.post(url("check", route), negative, headers=headers)
    refused = supervisor_client.post(url("check", route), huge, headers=headers)

    assert reset.status_code == 200
    body = reset.content.decode()
    assert rules.QUANTITY_RESET in body and f'name="qty-{first}"' in body and 'value="0"' in body
    assert 'id="summary"' in body and 'hx-swap-oob="true"' in body
    assert refused.status_code == 400 and rules.QUANTITY_TOO_LARGE in refused.content.decode()
    assert 'value="1000000"' in refused.content.decode()
    assert not SupervisionSession.objects.exists()  # nothing saved by a check


def test_changes_to_other_lines_meanwhile_are_merged_and_one_save_keeps_both(
    route, admin_user, admin_client, supervisor_client
):
    first, second, third = customers(route)
    admin_client.post(
        url("save", route),
        {**form(route, lines={first: {"visited": True, "qty": "7"}}), "action": "draft"},
    )
    # The supervisor opened the day before that (version 0), changed other lines, saves now.
    late = supervisor_client.post(
        url("save", route),
        form(route, lines={second: {"visited": True, "qty": "4"},
                           third: {"reason": "closed"}}),
    )  # fmt: skip
    html = late.content.decode()
    values, choices = page_form(html)

    assert late.status_code == 409
    assert f"{selectors.person(admin_user)} kept a draft of this day at" in html
    assert "after you opened it" in html and views.MERGED_SAVE in html
    assert "data-focus-on-load" in html and 'role="alert"' in html
    assert values["record_version"] == "1" and choices == {}
    assert (values[f"qty-{first}"], values[f"visited-{first}"]) == ("7", "on")  # theirs
    assert (values[f"qty-{second}"], values[f"visited-{second}"]) == ("4", "on")  # yours
    assert values[f"reason-{third}"] == "closed"
    assert values[f"base-{first}"] == '[true, 7, "", ""]'  # the next merge's base: theirs
    assert SessionLine.objects.get(customer_id=second).actual_quantity == 0  # nothing saved

    saved = supervisor_client.post(
        url("save", route), values
    )  # the page as it stands, nothing retyped

    assert saved.status_code == 302
    lines = {line.customer_id: line for line in SessionLine.objects.all()}
    assert (lines[first].actual_quantity, lines[second].actual_quantity) == (7, 4)
    assert lines[third].reason == "closed"
    assert SupervisionSession.objects.get().status == SessionStatus.SAVED


def test_the_same_field_changed_by_both_is_a_choice_required_before_saving(
    route, admin_user, admin_client, supervisor_client
):
    first, second, _ = customers(route)
    admin_client.post(
        url("save", route),
        {**form(route, lines={first: {"visited": True, "qty": "7"}}), "action": "draft"},
    )
    late = supervisor_client.post(
        url("save", route),
        form(route, lines={first: {"visited": True, "qty": "9"},
                           second: {"visited": True, "qty": "2"}}),
    )  # fmt: skip
    html = late.content.decode()
    values, choices = page_form(html)

    assert late.status_code == 409
    assert choices == {f"qty-{first}": ["9", "7"]}  # yours, then theirs; neither chosen
    assert f"qty-{first}" not in values and f"conflict-{first}" in values
    assert "Yours: 9" in html and f"{selectors.person(admin_user)}&#x27;s: 7" in html
    assert f'<a href="#qty-{first}">' in html and "choose the actual" in html
    assert values[f"qty-{second}"] == "2"

    unchosen = supervisor_client.post(url("save", route), values)
    body = unchosen.content.decode()
    assert unchosen.status_code == 400
    assert "There is a problem on 1 line" in body and forms.CHOOSE in body
    assert page_form(body)[1] == choices  # the choice is still offered

    chosen = supervisor_client.post(url("save", route), {**values, f"qty-{first}": "7"})
    assert chosen.status_code == 302
    lines = {line.customer_id: line for line in SessionLine.objects.all()}
    assert (lines[first].actual_quantity, lines[second].actual_quantity) == (7, 2)


def test_a_stale_save_with_a_stop_that_left_the_day_comes_back_merged_and_lists_it(
    route, admin_client, supervisor_client
):
    first, second, third = customers(route)
    opened = form(route)  # the page as opened: three stops
    gone = route.stops.get(customer_id=third)
    gone_name = gone.customer.name
    gone.delete()
    admin_client.post(
        url("save", route),
        {**form(route, lines={first: {"visited": True, "qty": "7"}}), "action": "draft"},
    )
    late = supervisor_client.post(
        url("save", route),
        {**opened, f"qty-{second}": "4", f"visited-{second}": "on", f"qty-{third}": "3",
         f"visited-{third}": "on"},
    )  # fmt: skip
    html = late.content.decode()
    values, _ = page_form(html)

    assert late.status_code == 409
    assert escape(views.MERGED_DROPPED.format(stops="1 stop", are="is")) in html
    dropped = views.DROPPED_LINE.format(changes="visited yes, actual 3")
    assert escape(f"{gone_name}: {dropped}") in html
    assert (values[f"qty-{first}"], values[f"qty-{second}"]) == ("7", "4")  # theirs, yours
    assert f"qty-{third}" not in values
    assert (
        supervisor_client.post(url("save", route), values).status_code == 302
    )  # one save completes it
    assert SessionLine.objects.get(customer_id=second).actual_quantity == 4


def test_a_line_checked_on_a_stop_that_left_the_day_says_why_in_its_place(
    route, admin_client, supervisor_client
):
    first, _, third = customers(route)
    opened = form(route, lines={third: {"qty": "3"}})  # the page as opened: three stops
    route.stops.filter(customer_id=third).delete()
    headers = {**HTMX, "HX-Trigger-Name": f"qty-{third}"}
    not_yet = supervisor_client.post(url("check", route), opened, headers=headers)
    admin_client.post(
        url("save", route),
        {**form(route, lines={first: {"visited": True, "qty": "7"}}), "action": "draft"},
    )
    meanwhile = supervisor_client.post(url("check", route), opened, headers=headers)

    # Nobody wrote the day: the save would refuse the line, and the check says so.
    assert not_yet.status_code == 400
    assert escape(rules.NOT_A_STOP.format(route=route.code)) in not_yet.content.decode()
    # Someone wrote it without the stop: the save would come back with it not kept.
    assert meanwhile.status_code == 200
    said = views.STOP_GONE_MEANWHILE.format(**services.who_did(selectors.day_of(route, today())))
    assert escape(said) in meanwhile.content.decode()


def test_a_day_saved_for_good_meanwhile_lists_what_was_not_saved(
    route, admin_user, admin_client, supervisor_client
):
    first, second, _ = customers(route)
    admin_client.post(url("save", route), form(route, lines={first: {"visited": True, "qty": "7"}}))
    late = supervisor_client.post(
        url("save", route), form(route, lines={second: {"visited": True, "qty": "4"}})
    )
    html = late.content.decode()

    assert late.status_code == 409
    assert f"{selectors.person(admin_user)} saved this day at" in html
    assert views.MERGED_READ_ONLY in html and "Read-only" in html
    assert "visited yes (saved: no); actual 4 (saved: 0)" in html
    assert SessionLine.objects.get(customer_id=second).actual_quantity == 0


def test_a_refused_save_is_summed_up_at_the_top_with_a_link_to_each_bad_field(
    supervisor_client, route
):
    first, second, third = customers(route)
    bad = {first: {"qty": "1000000"}, second: {"qty": "ten"},
           third: {"visited": True, "qty": "3", "reason": "refused"}}  # fmt: skip
    data = form(route, lines=bad)
    refused = supervisor_client.post(url("save", route), data)
    html = refused.content.decode()

    assert refused.status_code == 400
    assert "There are problems on 3 lines" in html
    summary = html[html.index('id="attention"') : html.index('class="pagehead"')]
    assert 'role="alert"' in html and 'tabindex="-1"' in html and "data-focus-on-load" in html
    assert f'href="#qty-{first}"' in summary and rules.QUANTITY_TOO_LARGE in summary
    assert f'href="#qty-{second}"' in summary and rules.QUANTITY_NOT_WHOLE in summary
    assert f'href="#reason-{third}"' in summary and rules.REASON_FOR_MISSES in summary
    values, _ = page_form(html)
    assert (values[f"qty-{first}"], values[f"qty-{second}"]) == ("1000000", "ten")
    assert values[f"reason-{third}"] == "refused"  # what was typed, not the stored line


def test_the_same_page_posted_twice_is_saved_once(supervisor_client, route):
    token = uuid.uuid4()
    first = supervisor_client.post(url("save", route), form(route, token=token))
    second = supervisor_client.post(url("save", route), form(route, token=token))
    assert first.status_code == second.status_code == 302
    assert RouteSummary.objects.get().record_version == 1


def test_a_saved_day_or_an_old_day_never_saved_is_read_only_and_its_save_refused(
    supervisor_client, route, settings
):
    settings.SUPERVISION_REVIEW_DAYS = 7
    old = today() - dt.timedelta(days=8)
    supervisor_client.post(url("save", route), form(route))
    again = supervisor_client.post(url("save", route), form(route, version=1))
    past = supervisor_client.get(url("day", route, old))
    past_save = supervisor_client.post(url("save", route, old), form(route))

    assert again.status_code == 403
    assert past.status_code == 200 and "Read-only" in past.content.decode()
    assert selectors.READ_ONLY_TOO_OLD.format(days="7 days") in past.content.decode()
    assert past_save.status_code == 403
    assert SupervisionSession.objects.count() == 1


def test_yesterday_opens_editable_and_is_saved_from_its_page(supervisor_client, route):
    yesterday = today() - dt.timedelta(days=1)
    first = customers(route)[0]
    page = supervisor_client.get(url("day", route, yesterday)).content.decode()
    saved = supervisor_client.post(
        url("save", route, yesterday), form(route, lines={first: {"visited": True, "qty": "4"}})
    )

    assert "Read-only" not in page and "Save session" in page
    assert saved.status_code == 302 and saved.url == url("day", route, yesterday)
    session = SupervisionSession.objects.get(date=yesterday)
    assert session.status == SessionStatus.SAVED


def test_an_admin_reopens_a_saved_day_from_its_page(supervisor_client, admin_client, route):
    supervisor_client.post(url("save", route), form(route))
    session = SupervisionSession.objects.get()
    reopen = reverse("supervision:reopen", args=[session.pk])
    refused = supervisor_client.post(reopen, {"reason": "x" * 12})
    page = admin_client.get(url("day", route)).content.decode()
    done = admin_client.post(
        reverse("supervision:reopen", args=[session.pk]), {"reason": "Figures came in late"}
    )

    assert refused.status_code == 403
    assert "Reopen this day" in page
    assert done.status_code == 302
    assert SupervisionSession.objects.get().status == SessionStatus.DRAFT


def test_an_admin_reopens_an_old_draft_from_its_page_and_supervisors_are_not_offered_it(
    supervisor_client, admin_client, route, settings
):
    from crm.models import AuditEntry

    settings.SUPERVISION_REVIEW_DAYS = 7
    old = today() - dt.timedelta(days=5)
    supervisor_client.post(url("save", route, old), {**form(route), "action": "draft"})
    settings.SUPERVISION_REVIEW_DAYS = 3
    session = SupervisionSession.objects.get()
    reopen = reverse("supervision:reopen", args=[session.pk])
    locked = supervisor_client.get(url("day", route, old)).content.decode()
    refused = supervisor_client.post(reopen, {"reason": "x" * 12})
    offered = admin_client.get(url("day", route, old)).content.decode()
    done = admin_client.post(
        reverse("supervision:reopen", args=[session.pk]), {"reason": "Back from leave today"},
        follow=True,
    )  # fmt: skip
    html = done.content.decode()

    assert selectors.READ_ONLY_OLD_DRAFT.format(days="3 days") in locked
    assert "Reopen this day" not in locked and refused.status_code == 403
    assert "Read-only" in offered and "Reopen this day" in offered
    assert done.redirect_chain[-1][0] == url("day", route, old)
    assert views.REOPENED in html and "Read-only" not in html and "Save session" in html
    assert AuditEntry.objects.get(action="supervision.reopen").reason == "Back from leave today"


def test_a_day_that_can_be_edited_offers_no_reopen_even_to_an_admin(admin_client, route):
    admin_client.post(url("save", route), {**form(route), "action": "draft"})
    session = SupervisionSession.objects.get()
    page = admin_client.get(url("day", route)).content.decode()
    refused = admin_client.post(
        reverse("supervision:reopen", args=[session.pk]), {"reason": "Nothing to do here"}
    )

    assert "Reopen this day" not in page
    assert refused.status_code == 400
    assert services.NOTHING_TO_REOPEN in refused.content.decode()


def test_only_admins_see_how_often_reviews_come_from_the_cache(
    supervisor_client, admin_client, route
):
    heading, link = "Reviews answered from the cache", ">Reviews kept</a>"
    for client, shown in ((supervisor_client, False), (admin_client, True)):
        index = client.get(reverse("supervision:index")).content.decode()
        day = client.get(url("day", route)).content.decode()
        assert (heading in index, link in index, link in day) == (shown, shown, shown), shown


def test_reviews_come_from_the_cache_and_a_new_one_too_soon_is_a_429_with_a_countdown(
    supervisor_client, route
):
    first, second, _ = customers(route)
    data = form(route)
    route_review = supervisor_client.post(
        url("review", route), {**data, "kind": "route"}, headers=HTMX
    )
    cached = supervisor_client.post(url("review", route), {**data, "kind": "route"}, headers=HTMX)
    customer = supervisor_client.post(
        url("review", route), {**data, "kind": "customer", "customer": first}, headers=HTMX
    )
    too_soon = supervisor_client.post(
        url("review", route), {**data, "kind": "customer", "customer": second}, headers=HTMX
    )

    assert route_review.status_code == 200 and "Findings" in route_review.content.decode()
    assert "Kept from an earlier request about the same figures" in cached.content.decode()
    assert customer.status_code == 200
    assert too_soon.status_code == 429 and int(too_soon["Retry-After"]) >= 1
    assert 'data-countdown="' in too_soon.content.decode()


@pytest.mark.parametrize("date", ["0001-01-01", "9999-12-31", "2026-02-30", "nope"])
def test_odd_days_are_a_404(supervisor_client, route, date):
    address = reverse("supervision:day", args=[route.pk, date])
    assert supervisor_client.get(address).status_code == 404


def test_routes_outside_the_supervisors_teams_are_404_and_reps_are_refused(
    route, other_rep, rep_client
):
    outsider = signed_in(other_rep.team.manager)
    assert outsider.get(url("day", route)).status_code == 404
    assert outsider.post(url("save", route), form(route)).status_code == 404
    assert rep_client.get(url("day", route)).status_code == 403


@pytest.mark.parametrize("stops", [3, 60])
def test_the_days_page_runs_the_same_queries_for_3_or_60_stops(
    supervisor_client, rep, stops, assert_queries
):
    route = route_with_stops(rep, count=stops)
    supervisor_client.post(url("save", route), {**form(route), "action": "draft"})

    with assert_queries(9):
        assert supervisor_client.get(url("day", route)).status_code == 200


def _days_of_every_kind(supervisor, admin_user, rep, count: int) -> None:
    """`count` routes of `rep`, each with a saved day, a draft day and a reopened day."""
    from supervision import services

    for _ in range(count):
        route = route_with_stops(rep, count=2)
        for days_ago, finish in ((1, True), (2, False), (3, True)):
            services.session_write(
                actor=supervisor, route_id=route.pk, date=today() - dt.timedelta(days=days_ago),
                record_version=0, changes=[], finish=finish,
            )  # fmt: skip
        reopened = SupervisionSession.objects.get(route=route, date=today() - dt.timedelta(3))
        services.session_reopen(
            actor=admin_user, session_id=reopened.pk, reason="The rep sent late figures"
        )


def test_the_index_lists_drafts_reopened_and_saved_days_with_who_wrote_them(
    supervisor_client, admin_client, supervisor, admin_user, rep
):
    _days_of_every_kind(supervisor, admin_user, rep, 1)
    name = selectors.person(supervisor)
    for client in (supervisor_client, admin_client):
        page = client.get(reverse("supervision:index"))
        html = page.content.decode()

        assert page.status_code == 200
        assert f"Saved by {name} on " in html and f"Draft, written by {name} at " in html
        assert f"Reopened by {selectors.person(admin_user)} on " in html
        assert re.search(r"Draft, written by [^<]+ at \d+ \w+ \d{4}, \d\d:\d\d [A-Z+\d]+<", html)


@pytest.mark.parametrize("routes", [1, 8])
def test_the_index_runs_the_same_queries_for_1_or_8_routes_of_days(
    admin_client, supervisor, admin_user, rep, routes, assert_queries
):
    _days_of_every_kind(supervisor, admin_user, rep, routes)

    with assert_queries(6):
        assert admin_client.get(reverse("supervision:index")).status_code == 200


def test_the_addresses_forms_post_to_answer_get_with_the_days_page(supervisor_client, route):
    supervisor_client.post(url("save", route), form(route))
    session = SupervisionSession.objects.get()
    day = url("day", route)

    for name in ("save", "check", "review"):
        answer = supervisor_client.get(url(name, route))
        assert (answer.status_code, answer.url) == (302, day), name
    reopen = supervisor_client.get(reverse("supervision:reopen", args=[session.pk]))
    assert (reopen.status_code, reopen.url) == (302, day)
    assert supervisor_client.put(url("save", route)).status_code == 405


def test_reopening_a_day_outside_ones_routes_is_a_404_even_by_get(
    route, other_rep, supervisor_client
):
    supervisor_client.post(url("save", route), form(route))
    session = SupervisionSession.objects.get()
    outsider = signed_in(other_rep.team.manager)
    assert outsider.get(reverse("supervision:reopen", args=[session.pk])).status_code == 404
    assert outsider.post(reverse("supervision:reopen", args=[session.pk])).status_code == 404


@pytest.mark.parametrize("reason", ["short", "\x00" * 12, "x" * 301])
def test_a_refused_reopen_shows_the_day_with_the_reason_as_typed_and_why(
    supervisor_client, admin_client, route, reason
):
    supervisor_client.post(url("save", route), form(route))
    session = SupervisionSession.objects.get()
    refused = admin_client.post(
        reverse("supervision:reopen", args=[session.pk]), {"reason": reason}
    )

    assert refused.status_code == 400
    html = refused.content.decode()
    assert '<details class="dialog" open>' in html and "Read-only" in html
    assert SupervisionSession.objects.get().status == SessionStatus.SAVED


def test_a_line_checked_after_someone_saved_says_so_next_to_it_without_not_saved(
    supervisor_client, admin_user, admin_client, route
):
    first, second, _ = customers(route)
    admin_client.post(
        url("save", route),
        {**form(route, lines={first: {"visited": True, "qty": "7"}}), "action": "draft"},
    )
    other_line = supervisor_client.post(
        url("check", route),
        form(route, lines={second: {"visited": True, "qty": "3"}}),
        headers={**HTMX, "HX-Trigger-Name": f"qty-{second}"},
    )
    same_line = supervisor_client.post(
        url("check", route),
        form(route, lines={first: {"visited": True, "qty": "9"}}),
        headers={**HTMX, "HX-Trigger-Name": f"qty-{first}"},
    )
    who = selectors.person(admin_user)

    body = other_line.content.decode()
    assert f"{who} kept a draft of this day at " in body and "Nothing you type is lost" in body
    assert views.THIS_LINE_TOO not in body and "Not saved" not in body
    assert 'id="conflict-notice"' not in body  # said on the line, not at the top
    assert views.THIS_LINE_TOO in same_line.content.decode()


def test_a_review_written_for_other_figures_is_marked_out_of_date_on_the_page(
    supervisor_client, route
):
    first, second, _ = customers(route)
    typed = form(route, lines={first: {"visited": True, "qty": "4"}})
    supervisor_client.post(url("review", route), {**typed, "kind": "route"}, headers=HTMX)
    supervisor_client.post(url("save", route), {**typed, "action": "draft"})
    current = supervisor_client.get(url("day", route)).content.decode()
    later = form(route, 1, lines={first: {"visited": True, "qty": "4"},
                                  second: {"visited": True, "qty": "8"}})  # fmt: skip
    for customer in customers(route):
        later[f"base-{customer}"] = (
            '[true, 4, "", ""]' if customer == first else later[f"base-{customer}"]
        )
    supervisor_client.post(url("save", route), later)
    stale = supervisor_client.get(url("day", route)).content.decode()

    assert "from the figures this page shows" in current and "Out of date" not in current
    assert "Out of date:" in stale and "(1 of 3 stops visited, 4 of 60 delivered)" in stale
    assert "2 of 3 stops visited" in stale  # the page's own figures


def test_a_line_check_says_when_the_route_review_no_longer_matches(supervisor_client, route):
    first = customers(route)[0]
    supervisor_client.post(url("review", route), {**form(route), "kind": "route"}, headers=HTMX)
    same = supervisor_client.post(url("check", route), form(route),
                     headers={**HTMX, "HX-Trigger-Name": f"qty-{first}"})  # fmt: skip
    other = supervisor_client.post(
        url("check", route),
        form(route, lines={first: {"visited": True, "qty": "5"}}),
        headers={**HTMX, "HX-Trigger-Name": f"qty-{first}"},
    )

    assert 'id="route-review-state" hx-swap-oob="true"' in same.content.decode()
    assert "from the figures this page shows" in same.content.decode()
    assert "Out of date:" in other.content.decode()


def test_times_on_the_days_page_carry_their_zone(supervisor_client, route, settings):
    settings.TIME_ZONE = "Europe/Madrid"
    supervisor_client.post(url("save", route), {**form(route), "action": "draft"})
    draft = supervisor_client.get(url("day", route)).content.decode()
    supervisor_client.post(url("save", route), form(route, 1))
    saved = supervisor_client.get(url("day", route)).content.decode()
    index = supervisor_client.get(reverse("supervision:index")).content.decode()

    assert re.search(r"written by [^<]+ at \d+ \w+, \d\d:\d\d CET\.", draft)
    assert re.search(r"Saved by [^:]+ on \d+ \w+ \d{4}, \d\d:\d\d CET: read-only", saved)
    assert re.search(r"Saved by [^<]+ on \d+ \w+ \d{4}, \d\d:\d\d CET<", index)


@pytest.mark.parametrize(
    ("name", "value"),
    [("base", "\x00"), ("base", "[true, 1e309, \"\", \"\"]"), ("base", "[[[]]]"),
     ("base", "1.9"), ("conflict", "{"), ("conflict", '{"actual_quantity": 1.9}'),
     ("visited", "\x00"), ("reason", "\x00"), ("note", "\x00"), ("qty", "1e309"),
     ("qty", "9999-12-31"), ("qty", "0001")],
)  # fmt: skip
def test_odd_values_in_a_lines_fields_never_give_a_500(supervisor_client, route, name, value):
    first = customers(route)[0]
    data = {**form(route), f"{name}-{first}": value}
    for action in ("save", "check", "review"):
        extra = {"kind": "route"} if action == "review" else {}
        answer = supervisor_client.post(url(action, route), {**data, **extra},
                           headers={**HTMX, "HX-Trigger-Name": f"qty-{first}"})  # fmt: skip
        assert answer.status_code < 500, (action, answer.status_code)


def test_a_list_where_a_value_is_expected_never_gives_a_500(supervisor_client, route):
    first = customers(route)[0]
    data = {**form(route), f"qty-{first}": ["1", "2"], f"base-{first}": ["[]", "x"]}
    assert supervisor_client.post(url("save", route), data).status_code < 500
