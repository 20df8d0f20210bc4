"""A person's API token: its writes and its read, for the account page that creates and revokes
it. One token per user (DRF's authtoken); a new one replaces the old, which stops working at
once. Audited against the user, never naming the key."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from rest_framework.authtoken.models import Token

from crm.roles import may_hold_api_token
from crm.writes import audit, name_actions

API_NEEDS_A_CRM_ROLE = "Only people with a CRM role use the API."
REPLACED = "A new token replaced the previous one."

name_actions({"api_token.create": "API token created", "api_token.revoke": "API token revoked"})


def _locked_user(actor: AbstractBaseUser) -> AbstractBaseUser:
    # Two "Create token" clicks at once: the second waits for the first, then replaces it.
    if not may_hold_api_token(actor):
        raise PermissionDenied(API_NEEDS_A_CRM_ROLE)
    return get_user_model().objects.select_for_update().get(pk=actor.pk)


@transaction.atomic
def api_token_create(*, actor: AbstractBaseUser) -> Token:
    """A new token for the actor (the previous one, if any, stops working)."""
    user = _locked_user(actor)
    replaced = Token.objects.filter(user=user).delete()[0] > 0
    token = Token.objects.create(user=user)
    audit(actor=actor, action="api_token.create", target=user, reason=REPLACED if replaced else "")
    return token


@transaction.atomic
def api_token_revoke(*, actor: AbstractBaseUser) -> bool:
    """Delete the actor's token; False when there was none."""
    user = _locked_user(actor)
    revoked = Token.objects.filter(user=user).delete()[0] > 0
    if revoked:
        audit(actor=actor, action="api_token.revoke", target=user)
    return revoked


def api_token_of(*, user: AbstractBaseUser) -> Token | None:
    return Token.objects.filter(user=user).first()
