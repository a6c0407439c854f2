"""The JSON API's plumbing on django-ninja: bearer-token or session authentication inside
one tenant, bodies read through the shared guard, typed inputs bounded by their columns,
pagination, and every error as `{"errors": {field: [message]}}`. Endpoints live in their
apps (`sequences/api.py`); `scendcore/urls.py` assembles them."""
from .tokens import TOKEN_PREFIX, api_token_create, token_authenticate, token_hash

__all__ = ["TOKEN_PREFIX", "api_token_create", "token_authenticate", "token_hash"]
