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
