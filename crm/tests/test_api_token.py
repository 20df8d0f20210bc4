"""API tokens: `Bearer` and `Token` both accepted, and the account page that makes and revokes a
person's token (shown once, audited, asked first)."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.api import tokens
from crm.models import AuditEntry
from crm.testing import signed_in
from crm.tests.factories import UserFactory

pytestmark = [pytest.mark.sqlite, pytest.mark.django_db]

PAGE = reverse("api-token")
DEALS = reverse("api-deal-list")


def api(header: str) -> int:
    return APIClient().get(DEALS, HTTP_AUTHORIZATION=header).status_code


@pytest.mark.parametrize("prefix", ["Bearer", "Token", "bearer", "TOKEN"])
def test_either_prefix_authenticates_the_same_key(rep, prefix):
    key = Token.objects.create(user=rep.user).key
    assert api(f"{prefix} {key}") == 200


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer 0123456789abcdef0123456789abcdef01234567",  # well formed, no such token
        "Bearer a b",
        "Bearer \x00",
        "Bearer clé",  # (a header arrives as Latin-1)
        "Bearer 1e309",
        "Token " + "a" * 400,
    ],
)
def test_a_bad_bearer_or_token_header_is_a_401(db, header):
    assert api(header) == 401


def test_another_scheme_is_left_to_the_others_and_answers_401(rep):
    Token.objects.create(user=rep.user)
    assert api("Basic cmVwOnNlY3JldA==") == 401


def test_the_page_makes_a_token_shows_it_once_and_audits_it(rep):
    client = signed_in(rep.user)
    assert "You have no API token." in client.get(PAGE).content.decode()

    response = client.post(reverse("api-token-create"))
    assert response.status_code == 302
    assert response["Location"] == PAGE
    token = Token.objects.get(user=rep.user)
    first = client.get(PAGE)
    content = first.content.decode()
    assert first["Cache-Control"] == "no-store"
    assert token.key in content
    assert "Copy it now: it is not shown again." in content
    assert "You have a token, created" in content
    assert token.key not in client.get(PAGE).content.decode()  # once

    entry = AuditEntry.objects.get(action="api_token.create")
    assert (entry.actor, entry.target_type, entry.target_id) == (
        rep.user,
        "auth.user",
        str(rep.user.pk),
    )
    assert token.key not in str(entry.changes) + entry.reason
    assert api(f"Bearer {token.key}") == 200


def test_the_creation_time_carries_its_zone(rep):
    tokens.api_token_create(actor=rep.user)
    content = signed_in(rep.user).get(PAGE).content.decode()
    created = content.split("You have a token, created ", 1)[1].split(".", 1)[0]
    assert created.split()[-1].isalpha() or created.split()[-1].startswith(("+", "-"))


def test_replacing_stops_the_old_token_at_once(rep):
    old = tokens.api_token_create(actor=rep.user).key
    client = signed_in(rep.user)
    client.post(reverse("api-token-create"))
    new = Token.objects.get(user=rep.user).key
    assert new != old
    assert api(f"Bearer {old}") == 401
    assert api(f"Bearer {new}") == 200
    assert AuditEntry.objects.filter(action="api_token.create").first().reason == tokens.REPLACED


def test_revoking_stops_the_token_and_is_audited(rep):
    key = tokens.api_token_create(actor=rep.user).key
    client = signed_in(rep.user)
    response = client.post(reverse("api-token-revoke"), follow=True)
    content = response.content.decode()
    assert "Token revoked" in content
    assert "You have no API token." in content
    assert not Token.objects.filter(user=rep.user).exists()
    assert AuditEntry.objects.filter(action="api_token.revoke", target_id=str(rep.user.pk)).exists()
    assert api(f"Bearer {key}") == 401
    # Nothing left to revoke: said, not audited again.
    again = client.post(reverse("api-token-revoke"), follow=True).content.decode()
    assert "There was no token to revoke." in again
    assert AuditEntry.objects.filter(action="api_token.revoke").count() == 1


def test_the_page_asks_before_replacing_or_revoking(rep):
    tokens.api_token_create(actor=rep.user)
    content = signed_in(rep.user).get(PAGE).content.decode()
    assert '<details class="dialog" id="replace-token">' in content
    assert '<details class="dialog" id="revoke-token">' in content
    assert "Revoke your token? Scripts using it are refused from now on." in content


@pytest.mark.parametrize("name", ["api-token-create", "api-token-revoke"])
def test_the_actions_answer_a_get_with_the_page(rep, name):
    client = signed_in(rep.user)
    response = client.get(reverse(name))
    assert (response.status_code, response["Location"]) == (302, PAGE)
    assert not Token.objects.exists()


def test_someone_without_a_crm_role_has_no_token_page(db):
    client = signed_in(UserFactory())
    assert client.get(PAGE).status_code == 403
    assert client.post(reverse("api-token-create")).status_code == 403
    assert not Token.objects.exists()


def test_signed_out_goes_to_the_login_page(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_menu_links_to_the_token_page_for_people_with_a_role(rep):
    assert f'href="{PAGE}"' in signed_in(rep.user).get(reverse("home")).content.decode()
    assert f'href="{PAGE}"' not in signed_in(UserFactory()).get(reverse("home")).content.decode()


def test_the_schema_documents_both_prefixes_as_alternatives(admin_user):
    schema = signed_in(admin_user).get(reverse("api-schema"), {"format": "json"}).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Authorization: Token <key>`: the same key, DRF's prefix.",
    }
    security = schema["paths"]["/api/deals/"]["get"]["security"]
    assert {"bearerAuth": []} in security
    assert {"tokenAuth": []} in security


def test_the_services_refuse_someone_without_a_crm_role(db):
    from django.core.exceptions import PermissionDenied

    nobody = UserFactory()
    with pytest.raises(PermissionDenied, match=tokens.API_NEEDS_A_CRM_ROLE):
        tokens.api_token_create(actor=nobody)
    with pytest.raises(PermissionDenied, match=tokens.API_NEEDS_A_CRM_ROLE):
        tokens.api_token_revoke(actor=nobody)
    assert not AuditEntry.objects.exists()
