"""Test clients signed in as a user: Django's for the pages, DRF's for the API. Each is a client
of its own, so two of them in one test are two people."""

from typing import TYPE_CHECKING

from django.test import Client

if TYPE_CHECKING:
    from rest_framework.test import APIClient


def fresh(user):
    """`user` read again, with nothing cached on it (role, zone, rep profile): the user as a
    request finds it, for a test that counts what a write or a page asks of the database."""
    return type(user)._default_manager.get(pk=user.pk)


def signed_in(user) -> Client:
    """A page client with `user`'s session."""
    client = Client()
    client.force_login(user)
    return client


def signed_in_api(user) -> "APIClient":
    """An API client authenticated as `user` (DRF's APIClient)."""
    # DRF's test module reads its settings when imported: not before Django is set up.
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def error_body(response) -> dict:
    """An API error answer's body without its `request_id`, having checked that the id is the
    request's own (its X-Request-ID header): what the tests compare."""
    body = dict(response.json())
    assert body.pop("request_id") == response["X-Request-ID"]
    return body
