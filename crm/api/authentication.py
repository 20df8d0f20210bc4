import re

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

TOKEN_FORMAT = re.compile(r"^[0-9a-f]{40}$")


class StrictTokenAuthentication(TokenAuthentication):
    """Refuses a malformed key (a NUL byte makes PostgreSQL raise) before looking it up."""

    def authenticate_credentials(self, key):
        if not TOKEN_FORMAT.match(key):
            raise exceptions.AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)
