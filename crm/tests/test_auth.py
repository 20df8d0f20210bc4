import pytest
from django.urls import reverse

from crm.auth import LOGIN_THROTTLED
from crm.tests.factories import PASSWORD, UserFactory

LOGIN = "/accounts/login/"


@pytest.mark.sqlite
@pytest.mark.django_db
def test_login_with_the_right_password_redirects_home(client):
    UserFactory(username="ana", groups=["rep"])
    response = client.post(LOGIN, {"username": "ana", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


@pytest.mark.django_db
def test_password_guessing_is_stopped_for_that_username(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    UserFactory(username="ana", groups=["rep"])
    UserFactory(username="bob", groups=["rep"])
    for _ in range(3):
        assert client.post(LOGIN, {"username": "ana", "password": "guess"}).status_code == 200
    blocked = client.post(LOGIN, {"username": "ANA ", "password": PASSWORD})
    assert blocked.status_code == 429
    assert LOGIN_THROTTLED.format(minutes=15) in blocked.content.decode()
    # Another user is not affected.
    assert client.post(LOGIN, {"username": "bob", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_a_rep_sees_and_enters_times_in_their_own_time_zone(client, rep):
    import datetime as dt

    from crm.models import Activity
    from crm.tests.factories import ActivityFactory

    rep.timezone = "America/Mexico_City"  # UTC-6 in December
    rep.save()
    ActivityFactory(rep=rep, due_at=dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC))
    client.post(LOGIN, {"username": rep.user.username, "password": PASSWORD})
    page = client.get(reverse("activity-list")).content.decode()
    assert "1 Dec 2026, 09:00" in page

    customer = Activity.objects.get().customer
    response = client.post(
        reverse("activity-create"),
        {"kind": "call", "due_at": "2026-12-02 10:30", "customer": customer.pk},
    )
    assert response.status_code == 302
    created = Activity.objects.latest("id")
    assert created.due_at == dt.datetime(2026, 12, 2, 16, 30, tzinfo=dt.UTC)


def test_the_logout_address_answers_a_get_with_a_page(rep_client):
    """A reload after logging out, or going back to it, is no 405."""
    page = rep_client.get("/accounts/logout/")
    logged_out = rep_client.post("/accounts/logout/")
    again = rep_client.get("/accounts/logout/")

    assert page.status_code == 200
    assert "Log out" in page.content.decode()
    assert logged_out.status_code == 302
    assert again.status_code == 302
    assert again["Location"].startswith("/accounts/login/")
