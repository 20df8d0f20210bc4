import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication, get_authorization_header

TOKEN_FORMAT = re.compile(r"^[0-9a-f]{40}$")
# Both prefixes name the same key: "Token" is DRF's, "Bearer" what most HTTP clients send.
KEYWORDS = ("Token", "Bearer")
NO_CREDENTIALS = "Invalid token header. No credentials provided."
SPACES_IN_TOKEN = "Invalid token header. Token string should not contain spaces."


class StrictTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` or `Authorization: Bearer <key>`. Refuses a malformed key (a
    NUL byte makes PostgreSQL raise) before looking it up."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in {k.lower().encode() for k in KEYWORDS}:
            return None
        if len(parts) == 1:
            raise exceptions.AuthenticationFailed(NO_CREDENTIALS)
        if len(parts) > 2:
            raise exceptions.AuthenticationFailed(SPACES_IN_TOKEN)
        try:
            key = parts[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        return self.authenticate_credentials(key)

    def authenticate_credentials(self, key):
        if not TOKEN_FORMAT.match(key):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)


class StrictTokenScheme(OpenApiAuthenticationExtension):
    """The schema names both prefixes, either one accepted (two alternatives, not both)."""

    target_class = StrictTokenAuthentication
    name = ["bearerAuth", "tokenAuth"]

    def get_security_requirement(self, auto_schema):
        return [{name: []} for name in self.name]

    def get_security_definition(self, auto_schema):
        bearer = build_bearer_security_scheme_object("Authorization", "Bearer")
        bearer["description"] = (
            "`Authorization: Bearer <key>`, the key from the account's API token page "
            "(or `manage.py drf_create_token USERNAME`)."
        )
        token = build_bearer_security_scheme_object("Authorization", "Token")
        token["description"] = "`Authorization: Token <key>`: the same key, DRF's prefix."
        return [bearer, token]
