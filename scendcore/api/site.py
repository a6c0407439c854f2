"""The NinjaAPI itself: authentication, error envelope, the guarded body parser, and the
OpenAPI document with Swagger UI served from this app's static files (ninja's own copy,
through staticfiles; the page runs no inline script, so a strict CSP holds)."""
from django.views.decorators.http import require_safe
from ninja import NinjaAPI, Swagger

from . import errors
from .auth import BearerToken, SessionInTenant
from .inputs import GuardedParser

DESCRIPTION = (
    "Authenticate with `Authorization: Bearer <token>` (made with `manage.py create_api_token`) "
    "or with the browser session plus the `X-CSRFToken` header. Invalid input answers 422 with "
    '`{"errors": {"field": ["message"]}}`; another workspace\'s ids answer 404.'
)


def build_api(routers):
    """A NinjaAPI with `routers` ({prefix: router or its dotted path}) mounted, named `api`."""
    api = NinjaAPI(
        title="ScendCore API", version="1", description=DESCRIPTION, urls_namespace="api",
        auth=[BearerToken(), SessionInTenant()], parser=GuardedParser(),
        docs=Swagger(settings={"persistAuthorization": False}), docs_url="/docs", openapi_url="/openapi.json",
    )
    errors.install(api)
    for prefix, router in routers.items():
        api.add_router(prefix, router)
    return api


def api_urls(api):
    """`api.urls` with one URL pattern per path: ninja adds one per operation, all with the
    same route and the same method-dispatching view, so the later ones never match."""
    patterns, app_name, namespace = api.urls
    seen, unique = set(), []
    for pattern in patterns:
        if str(pattern.pattern) not in seen:
            seen.add(str(pattern.pattern))
            unique.append(pattern)
        if pattern.name in READ_ONLY_VIEWS:
            # ninja serves the schema and its page to any method: a POST there is a 405.
            pattern.callback = require_safe(pattern.callback)
    return unique, app_name, namespace


READ_ONLY_VIEWS = {"openapi-json", "openapi-view"}
