"""Who is calling: a bearer token (not ambient, so no CSRF), otherwise the logged-in
session, with CSRF on unsafe methods. Either way the request gets its tenant."""
from django.conf import settings
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBearer
from ninja.security.apikey import APIKeyCookie
from ninja.utils import check_csrf

from .tokens import token_authenticate

NO_CREDENTIALS = "Authentication required: send 'Authorization: Bearer <token>'."
BAD_TOKEN = "Invalid or revoked API token."
CSRF_FAILED = "CSRF check failed: send the X-CSRFToken header."


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        # A bearer header decides alone: a bad token never falls back to the session.
        if not token_authenticate(request, token):
            raise AuthenticationError(message=BAD_TOKEN)
        return request.user


class SessionInTenant(APIKeyCookie):
    """The session cookie of a user with a current workspace (TenantMiddleware)."""

    param_name = settings.SESSION_COOKIE_NAME
    openapi_description = "The browser session; unsafe methods need the X-CSRFToken header."

    def __call__(self, request):
        if request.headers.get("Authorization", "").lower().startswith("bearer "):
            return None
        if not request.user.is_authenticated or getattr(request, "tenant", None) is None:
            return None
        if check_csrf(request) is not None:
            raise HttpError(403, CSRF_FAILED)
        return request.user

    def authenticate(self, request, key):  # __call__ decides; ninja requires the method
        return None
