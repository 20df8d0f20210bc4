"""The plan pages in Debian's Chromium (Playwright): a rep sets their goals before the deadline and
sees 0 %; a deal of theirs won in another tab moves the revenue bar without a reload; the
compliance dashboard shows them set on time, and after the deadline the rep who did not set
theirs as overdue. Every plan page fits a phone, passes the accessibility check and keeps to
the CSP."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from playwright.sync_api import expect

from crm.models import CustomerStatus, DealStage
from crm.roles import SystemActor
from crm.testing.browser import DESKTOP, PHONE, open_page, page_problems
from crm.tests.factories import (
    PASSWORD,
    CustomerFactory,
    DealFactory,
    SalesRepFactory,
    UserFactory,
)
from goals import services as goal_services
from goals.models import BonusTier, Goal, PlanReminder, RepPlan
from goals.plans import services

pytestmark = pytest.mark.browser

UTC = dt.UTC
BEFORE_THE_DEADLINE = dt.datetime(2026, 12, 2, 10, tzinfo=UTC)
AFTER_THE_DEADLINE = dt.datetime(2026, 12, 7, 10, tzinfo=UTC)


def test_a_rep_sets_goals_on_time_and_a_won_deal_moves_the_bar_and_the_late_rep_is_overdue(
    chromium, live_server, role_groups, eager_celery, settings
):
    settings.LIVE_REFRESH_SECONDS = 1
    with time_machine.travel(BEFORE_THE_DEADLINE):
        rep = SalesRepFactory(timezone="UTC")
        idle = SalesRepFactory(team=rep.team, timezone="UTC")
        deal = DealFactory(rep=rep, customer=CustomerFactory(owner=rep), amount=Decimal(500))
        services.plans_create(year=2026, month=12)
        admin = UserFactory(is_staff=True, is_superuser=True)

        # The rep logs in through the login form and lands on their plan.
        page = open_page(chromium, PHONE).page
        page.goto(live_server.url + reverse("goals:plan"))
        page.get_by_label("Username").fill(rep.user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator("#plan-card")).to_contain_text("Goals due by")
        page.get_by_label("Signups", exact=True).fill("10")
        page.get_by_label("Revenue", exact=True).fill("2000")
        page.get_by_label("Bonus tier", exact=True).select_option("2")
        page.get_by_role("button", name="Set my goals").click()
        expect(page.locator("#messages")).to_contain_text("on time")
        card = page.locator("#plan-card")
        expect(card).to_contain_text("0 of 2,000")
        expect(card).to_contain_text("0%")
        page.evaluate("window.__sameDocument = true")

        working = open_page(chromium, DESKTOP, rep.user).page
        working.goto(live_server.url + reverse("deal-list"))
        working.once("dialog", lambda dialog: dialog.accept())  # "Won" asks first
        working.locator(f"#deal-{deal.pk}").get_by_role("button", name="Won").click()
        expect(working.locator(f"#deal-{deal.pk}")).to_contain_text("Closed won")
        expect(page.locator("#plan-card")).to_contain_text("500 of 2,000", timeout=15_000)
        expect(page.locator("#plan-card")).to_contain_text("25%")
        assert page.evaluate("window.__sameDocument") is True  # no reload

        dashboard = open_page(chromium, DESKTOP, admin).page
        dashboard.goto(live_server.url + reverse("goals:compliance-list"))
        mine = RepPlan.objects.get(rep=rep, month=12)
        expect(dashboard.locator(f"#plan-{mine.pk}")).to_contain_text("Set on time")

    with time_machine.travel(AFTER_THE_DEADLINE):
        dashboard.goto(live_server.url + reverse("goals:compliance-list") + "?deadline=not_set")
        theirs = RepPlan.objects.get(rep=idle, month=12)
        expect(dashboard.locator(f"#plan-{theirs.pk}")).to_contain_text("Overdue")
        expect(dashboard.locator(f"#plan-{mine.pk}")).to_have_count(0)


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_every_plan_page_fits_the_screen_and_passes_the_accessibility_check(
    chromium, live_server, role_groups, device
):
    with time_machine.travel(BEFORE_THE_DEADLINE):
        rep = SalesRepFactory(timezone="UTC")
        SalesRepFactory(team=rep.team)
        services.plans_create(year=2026, month=12)
        services.plans_create(year=2026)
        services.plan_set(
            actor=rep.user, signup_goal=3, revenue_goal=Decimal(900), bonus_tier_goal=1
        )
        plan = RepPlan.objects.get(rep=rep, month=12)
        reminder = PlanReminder.objects.create(
            plan=plan, kind="three_days", sent_at=BEFORE_THE_DEADLINE
        )
        admin = UserFactory(is_staff=True, is_superuser=True)
        pages = [
            (rep.user, "plan", reverse("goals:plan")),
            (rep.user, "home", reverse("home")),
            (rep.user, "guide", reverse("goals:guide")),
            (rep.user, "reminder", reverse("goals:reminder-ack", args=[reminder.pk])),
            (rep.team.manager, "compliance", reverse("goals:compliance-list")),
            (rep.team.manager, "rep-plan", reverse("goals:plan") + f"?rep={rep.pk}"),
            (admin, "admin-compliance", reverse("goals:compliance-list")),
        ]
        assert page_problems(chromium, live_server.url, device, pages) == []


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_the_month_picker_shows_a_month_and_changing_it_shows_that_month(
    chromium, live_server, role_groups, device
):
    with time_machine.travel(BEFORE_THE_DEADLINE):
        rep = SalesRepFactory(timezone="UTC")
        services.plans_create(year=2026, month=11)
        services.plans_create(year=2026, month=12)
        page = open_page(chromium, PHONE if device == "phone" else DESKTOP, rep.team.manager).page
        page.goto(live_server.url + reverse("goals:compliance-list"))
        if device == "phone":
            page.get_by_text("Filter", exact=True).click()  # folded into one control there

        month = page.get_by_label("Month", exact=True)
        expect(month).to_have_value("2026-12")
        assert month.evaluate("select => select.selectedOptions[0].text") == "December 2026"
        month.select_option(label="November 2026")
        page.get_by_role("button", name="Apply").click()

        expect(page.get_by_role("heading", level=1)).to_contain_text("November 2026")
        expect(page.get_by_label("Month", exact=True)).to_have_value("2026-11")
        november = RepPlan.objects.get(rep=rep, month=11)
        # November is over and was never set: that reads "Not set", not "Overdue".
        expect(page.locator(f"#plan-{november.pk}")).to_contain_text("Not set")
        expect(page.locator(f"#plan-{november.pk}")).not_to_contain_text("Overdue")


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_a_rep_chooses_a_bonus_tier_by_its_threshold_and_a_past_unset_month_reads_not_set(
    chromium, live_server, role_groups, device
):
    with time_machine.travel(BEFORE_THE_DEADLINE):
        rep = SalesRepFactory(timezone="UTC")
        # A live server's database starts empty: the thresholds an installation starts with.
        for number, revenue in {1: 5_000, 2: 10_000, 3: 20_000, 4: 30_000}.items():
            BonusTier.objects.get_or_create(tier=number, defaults={"min_revenue": revenue})
        services.plans_create(year=2026, month=11)
        services.plans_create(year=2026, month=12)
        page = open_page(chromium, PHONE if device == "phone" else DESKTOP, rep.user).page
        page.goto(live_server.url + reverse("goals:plan"))

        tier = page.get_by_label("Bonus tier", exact=True)
        options = tier.locator("option").all_inner_texts()
        assert options[:4] == [
            "None", "Tier 1 — from 5,000", "Tier 2 — from 10,000", "Tier 3 — from 20,000",
        ]  # fmt: skip
        page.get_by_label("Signups", exact=True).fill("3")
        page.get_by_label("Revenue", exact=True).fill("22000")
        tier.select_option(label="Tier 3 — from 20,000")
        page.get_by_role("button", name="Set my goals").click()
        expect(page.locator("#messages")).to_contain_text("on time")
        expect(page.get_by_label("Bonus tier", exact=True)).to_have_value("3")

        card = page.locator("#plan-card")
        expect(card).to_contain_text("Still needed: 3 more signups by the 31st")
        past = page.locator("section", has=page.get_by_role("heading", name="Past months"))
        expect(past).to_contain_text("November 2026")
        expect(past).to_contain_text("Not set")
        expect(past).not_to_contain_text("Overdue")


MID_DECEMBER = dt.datetime(2026, 12, 16, 12, tzinfo=UTC)


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_the_card_gives_the_overall_pace_and_each_bars_own_verdict_and_a_past_month_not_set(
    chromium, live_server, role_groups, device
):
    with time_machine.travel(MID_DECEMBER):
        rep = SalesRepFactory(timezone="UTC")
        services.plans_create(year=2026, month=11)
        services.plan_set(
            actor=rep.user, signup_goal=2, revenue_goal=Decimal(10000), bonus_tier_goal=1
        )
        for day in (2, 9):
            CustomerFactory(owner=rep, status=CustomerStatus.ACTIVE,
                            signed_up_at=dt.datetime(2026, 12, day, tzinfo=UTC))  # fmt: skip
        DealFactory(rep=rep, amount=Decimal(2000), stage=DealStage.CLOSED_WON,
                    closed_at=dt.datetime(2026, 12, 10, tzinfo=UTC))  # fmt: skip
        goal_services.goals_recalculate(
            goals=Goal.objects.filter(plan__rep=rep), actor=SystemActor("test")
        )
        device_size = PHONE if device == "phone" else DESKTOP

        page = open_page(chromium, device_size, rep.user).page
        page.goto(live_server.url + reverse("goals:plan"))
        card = page.locator("#plan-card")
        # Signups reached, revenue at 20 % with half the month over: ahead as a whole, and
        # revenue alone off track, as its own page says.
        expect(card.locator(".plan-pace")).to_have_text("Overall pace Ahead")
        figures = card.locator(".plan-figure")
        expect(figures.nth(0)).to_contain_text("On track")
        expect(figures.nth(1)).to_contain_text("Off track")
        # 8,000 in the 16 days left, today included
        expect(figures.nth(1)).to_contain_text("Still needed: 500 a day")
        revenue = Goal.objects.get(plan__rep=rep, plan__month=12, metric="revenue")
        page.goto(live_server.url + reverse("goals:goal-detail", args=[revenue.pk]))
        expect(page.locator("#goal-progress .badge")).to_have_text("Off track")
        expect(page.locator("#goal-progress")).to_contain_text("500 a day (today and 15 more days)")

        manager = open_page(chromium, device_size, rep.team.manager).page
        manager.goto(live_server.url + reverse("goals:plan") + f"?rep={rep.pk}&month=2026-11")
        november = manager.locator("#plan-card")
        expect(november).to_contain_text("Not set")
        expect(november).not_to_contain_text("overdue")


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_on_the_last_day_the_card_and_the_goal_say_what_today_needs(
    chromium, live_server, role_groups, device
):
    with time_machine.travel(dt.datetime(2026, 12, 31, 9, tzinfo=UTC)):
        rep = SalesRepFactory(timezone="UTC")
        services.plan_set(
            actor=rep.user, signup_goal=3, revenue_goal=Decimal(2800), bonus_tier_goal=1
        )
        page = open_page(chromium, PHONE if device == "phone" else DESKTOP, rep.user).page
        page.goto(live_server.url + reverse("goals:plan"))
        card = page.locator("#plan-card")
        expect(card).to_contain_text("1 day left")
        expect(card).to_contain_text("Still needed: 3 more signups today")
        expect(card).to_contain_text("Still needed: 2,800 today")

        revenue = Goal.objects.get(plan__rep=rep, plan__month=12, metric="revenue")
        page.goto(live_server.url + reverse("goals:goal-detail", args=[revenue.pk]))
        needed = page.locator("#goal-progress .forecast dd").nth(1)
        expect(needed).to_have_text("2,800 today")
