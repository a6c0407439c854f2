from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django_htmx.middleware import HtmxDetails

from .tenancy import resolve_membership
from .zones import viewer_zone

# Paths that answer without a login: auth pages, health, static files, and the public
# endpoints that mail clients and providers call (unsubscribe, tracking, webhooks).
PUBLIC_PREFIXES = (
    "/accounts/login/",
    "/accounts/password-reset/",
    "/accounts/reset/",
    "/healthz",
    "/static/",
    "/favicon.ico",
    "/admin/",  # the admin has its own login
    "/u/",  # unsubscribe
    "/t/",  # open and click tracking
    "/hooks/",  # inbound mail, meetings, SMS webhooks
    "/api/",  # the JSON API answers 401 itself (bearer token or session)
)


class _FullPageRequest(HtmxDetails):
    """request.htmx for a history restore: falsy, so every view that renders `page#region`
    for htmx renders the whole page instead."""

    def __bool__(self):
        return False


class HtmxHistoryRestoreMiddleware:
    """htmx 2 sends a history restore (Back after hx-push-url, when its snapshot cache misses)
    with HX-Request too, and swaps the answer into <body>: a view answering with its fragment
    would leave the page without its navigation. One place instead of a check in every view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.htmx.history_restore_request:
            request.htmx = _FullPageRequest(request)
        response = self.get_response(request)
        # The same URL answers a fragment or the page: caches must keep them apart.
        patch_vary_headers(response, ("HX-Request", "HX-History-Restore-Request"))
        return response


class AppNotFoundPageMiddleware:
    """With DEBUG on (the zero-config `make run`), Django answers a 404 with its technical
    page, which lists every URL pattern. Answer with the app's own 404.html instead: for a
    view's 404 (an unknown or another workspace's id) and for an address nothing matches.
    Without DEBUG Django's handler404 already renders 404.html; nothing changes there."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.DEBUG:
            try:
                resolve(request.path_info, getattr(request, "urlconf", None))
            except Resolver404:
                return self._not_found(request)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if settings.DEBUG and isinstance(exception, Http404):
            return self._not_found(request)
        return None

    @staticmethod
    def _not_found(request):
        return render(request, "404.html", status=404)


class TenantMiddleware:
    """Puts `request.tenant` and `request.membership` (or None) on every request.

    The current tenant is kept in the session; a user who has no membership in the
    stored tenant falls back to their first membership, never to the stored one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        membership = resolve_membership(request) if request.user.is_authenticated else None
        request.membership = membership
        request.tenant = membership.tenant if membership else None
        return self.get_response(request)


class ViewerTimezoneMiddleware:
    """Every `{{ moment }}`, `|date` and form value of this request reads in the viewer's
    zone (their setting, else the workspace's), not the server's UTC. After TenantMiddleware:
    it needs `request.membership`. Deactivated afterwards: the zone is per thread, and the
    next request on this thread may be someone else's."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timezone.activate(viewer_zone(getattr(request, "membership", None)))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class LoginRequiredByDefaultMiddleware:
    """Everything needs a login unless its path is explicitly public."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated or request.path.startswith(PUBLIC_PREFIXES):
            return self.get_response(request)
        login_url = reverse(settings.LOGIN_URL)
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = f"{login_url}?next={request.path}"
            return response
        return redirect(f"{login_url}?next={request.get_full_path()}")
